"""Translate the SDK's exceptions into ``UpstreamError`` with words a user understands."""

import anthropic
import httpx2

from chatapp.claude.types import UpstreamError
from chatapp.operations import metrics

# error.type from the API body → (our code, what we tell the user, worth retrying)
_BY_TYPE: dict[str, tuple[str, str, bool]] = {
    "invalid_request_error": ("invalid_request", "Claude rejected the request: {detail}", False),
    "authentication_error": (
        "authentication", "The server's Anthropic API key was not accepted.", False),
    "billing_error": ("upstream_error", "The Anthropic account has a billing problem.", False),
    "permission_error": (
        "authentication", "The API key is not allowed to use this model or feature.", False),
    "not_found_error": ("invalid_request", "Claude does not know this: {detail}", False),
    "request_too_large": (
        "context_too_long", "The request is too large for Claude to accept.", False),
    "rate_limit_error": (
        "rate_limited", "Claude's rate limit was reached. Please try again shortly.", True),
    "api_error": ("upstream_error", "Claude had an internal error. Please try again.", True),
    "timeout_error": ("upstream_error", "Claude took too long to answer. Please try again.", True),
    "overloaded_error": (
        "overloaded", "Claude is overloaded right now. Please try again in a moment.", True),
}

_STATUS_TO_TYPE = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
    429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error",
}

_CONTEXT_HINTS = ("prompt is too long", "context window", "context length")


def from_sdk(error: Exception) -> UpstreamError:
    """Map any exception raised by an SDK call to an ``UpstreamError``."""
    metrics.upstream_error(error)
    if isinstance(error, anthropic.APITimeoutError | httpx2.TimeoutException):
        return UpstreamError(
            "upstream_unreachable", "Claude did not answer in time. Please try again.",
            retryable=True,
        )
    if isinstance(error, anthropic.APIConnectionError | httpx2.TransportError):
        return UpstreamError(
            "upstream_unreachable", "Could not reach Claude: the connection failed.",
            retryable=True,
        )
    if isinstance(error, anthropic.APIStatusError):
        return _from_status_error(error)
    return UpstreamError("upstream_error", f"Unexpected problem talking to Claude: {error}")


def _from_status_error(error: "anthropic.APIStatusError") -> UpstreamError:
    # An `error` event after HTTP 200 carries its type only in the body.
    error_type = error.type or _STATUS_TO_TYPE.get(error.status_code, "api_error")
    if error.status_code >= 500 and error_type not in _BY_TYPE:
        error_type = "api_error"
    return from_error_object(
        error_type,
        error.api_message or str(error),
        status=error.status_code if error.status_code != 200 else None,
        request_id=error.request_id or "",
    )


def from_error_object(
    error_type: str, detail: str, *, status: int | None = None, request_id: str = ""
) -> UpstreamError:
    """An API error object (``{"type", "message"}``), e.g. an errored batch result."""
    code, template, retryable = _BY_TYPE.get(error_type, _BY_TYPE["api_error"])
    detail = detail.strip()
    if code == "invalid_request" and any(hint in detail.lower() for hint in _CONTEXT_HINTS):
        code = "context_too_long"
        template = "The conversation is too long for this model's context window."
    return UpstreamError(
        code,
        template.format(detail=detail),
        status=status,
        request_id=request_id,
        retryable=retryable,
    )
