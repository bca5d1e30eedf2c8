"""The JSON endpoints' framework: login (401), methods (405), bodies read as JSON in plain
words, and every refusal answered as JSON (docs/protocol.md). The endpoints are the api_*.py
modules beside this one."""

import inspect
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

from chatapp.errors import ChatappError
from chatapp.safety.inputs import broken_text_at, broken_text_message

MAX_BODY_BYTES = 256 * 1024


def json_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _refusal(request: HttpRequest, user: Any, methods: tuple[str, ...]) -> HttpResponse | None:
    if not user.is_authenticated:
        return json_error("Log in first.", 401)
    if request.method not in methods:
        response = json_error(f"{request.method} is not allowed here.", 405)
        response["Allow"] = ", ".join(methods)
        return response
    return None


# Django's own refusals of a malformed request body, which it would answer with an HTML page.
_UNREADABLE_BODY = (MultiPartParserError, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)
# Every refusal an endpoint may raise, answered as JSON in plain words.
REFUSALS = (Http404, BadRequest, ChatappError, *_UNREADABLE_BODY)


def _error_response(exc: Exception) -> JsonResponse:
    if isinstance(exc, Http404):
        return json_error(str(exc) or "Not found.", 404)
    if isinstance(exc, ChatappError):
        response = json_error(exc.message, exc.http_status)
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, RequestDataTooBig):
        return json_error("The request is too large.", 413)
    if isinstance(exc, _UNREADABLE_BODY):
        # E.g. a file name over 1 KB: Django reads at most 1 KB of a part's headers.
        return json_error(
            "The upload could not be read: its form is damaged, or a file name is longer "
            "than 1,000 characters. Rename the file and try again.", 400
        )
    return json_error(str(exc), 400)


def api_endpoint(*methods: str) -> Callable:
    """Login (401, not a redirect), allowed methods (405), and errors as JSON.

    Works for async views too (uploads: their file work runs off the event loop).
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(view):

            @wraps(view)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                refusal = _refusal(request, await request.auser(), methods)
                if refusal is not None:
                    return refusal
                try:
                    return await view(request, *args, **kwargs)
                except REFUSALS as exc:
                    return _error_response(exc)

            return async_wrapper

        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            refusal = _refusal(request, request.user, methods)
            if refusal is not None:
                return refusal
            try:
                return view(request, *args, **kwargs)
            except REFUSALS as exc:
                return _error_response(exc)

        return wrapper

    return decorate


def load_json(raw: bytes, invalid: str = "The request body is not valid JSON.") -> Any:
    """Parsed JSON whose every string is text, or ``BadRequest`` in plain words."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(invalid) from None
    except RecursionError:
        raise BadRequest("The JSON is nested too deeply to be read.") from None
    where = broken_text_at(data)
    if where is not None:
        raise BadRequest(broken_text_message(where))
    return data


def read_json(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    if len(request.body) > MAX_BODY_BYTES:
        raise BadRequest("The request body is too large.")
    data = load_json(request.body)
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return data


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF rejections as JSON for the API, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return json_error("CSRF check failed: reload the page and try again.", 403)
    from django.views.csrf import csrf_failure as default_failure

    return default_failure(request, reason=reason)
