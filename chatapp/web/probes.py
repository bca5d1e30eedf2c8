"""Probes and metrics: answered without a login (metrics ask for a token or a staff session).
The checks and the metrics are chatapp/operations/'s; the settings they need are read here."""

import hmac

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from chatapp.operations import health, metrics
from chatapp.operations.version import version
from chatapp.policies.operations import readiness


@never_cache
@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers (nothing else is touched: a slow database must not restart it)."""
    return JsonResponse({"status": "ok", "version": version()})


@never_cache
@require_GET
async def readyz(request: HttpRequest) -> JsonResponse:
    """200 when every check passes, else 503 naming the ones that failed."""
    checks = await health.readiness(readiness())
    failing = sorted(name for name, outcome in checks.items() if outcome != "ok")
    body = {"status": "fail" if failing else "ok", "failing": failing, "checks": checks}
    return JsonResponse(body, status=503 if failing else 200)


def _bearer_ok(request: HttpRequest) -> bool:
    token = settings.CHATAPP_METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@never_cache
@require_GET
async def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus' text format; for METRICS_TOKEN's bearer or a staff member's session."""
    if not _bearer_ok(request):
        user = await request.auser()
        if not user.is_authenticated:
            response = HttpResponse("Metrics need a bearer token or a staff login.\n", status=401,
                                    content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        if not user.is_staff:
            return HttpResponse("Metrics are for staff.\n", status=403, content_type="text/plain")
    body = await sync_to_async(metrics.exposition)()
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
