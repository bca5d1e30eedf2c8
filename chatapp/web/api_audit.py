"""The audit log as CSV for staff (docs/protocol.md): ``GET /api/audit/?from=&to=&format=csv``.

Anyone who is not staff allowed to view audit entries gets 404, signed in or not: the
endpoint is not there for them. The download is itself an audit entry.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from chatapp import audit
from chatapp.audit import exports, queries
from chatapp.web.endpoints import api_endpoint, json_error

VIEW_PERMISSION = "chatapp.view_auditentry"


def may_read_audit_log(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff
                and user.has_perm(VIEW_PERMISSION))


def staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """404 for anyone else, before the login check (no 401 that says something is here)."""

    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not may_read_audit_log(request.user):
            return json_error("Not found.", 404)
        return view(request, *args, **kwargs)

    return checked


@staff_only
@api_endpoint("GET")
def audit_log(request: HttpRequest) -> HttpResponse:
    if request.GET.get("format", "csv") != "csv":
        raise BadRequest("format must be csv.")
    try:
        days = queries.Days.parse(request.GET.get("from"), request.GET.get("to"))
    except queries.InvalidRange as exc:
        raise BadRequest(str(exc)) from None
    audit.record(audit.AuditAction.AUDIT_EXPORT, request,
                 detail={"from": days.first.isoformat(), "to": days.last.isoformat()})
    entries = queries.entries_between(days).iterator(chunk_size=2000)
    response = StreamingHttpResponse(exports.csv_lines(entries),
                                     content_type="text/csv; charset=utf-8")
    name = f"audit-{days.first}-to-{days.last}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
