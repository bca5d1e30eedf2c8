"""API errors in the wire form of the Messages API, and the ids the API hands out."""

from __future__ import annotations

import secrets
from typing import Any

# Base58 without 0/O/I/l, the alphabet real request and message ids use.
_ID_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

# The error `type` the API uses for each HTTP status.
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    409: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

DEFAULT_MESSAGES: dict[str, str] = {
    "invalid_request_error": "Invalid request",
    "authentication_error": "invalid x-api-key",
    "billing_error": "Your credit balance is too low to access the Anthropic API.",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "Not found",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
    "rate_limit_error": (
        "This request would exceed your organization's rate limit of 50,000 input tokens per "
        "minute. Please try again later."
    ),
    "api_error": "Internal server error",
    "timeout_error": "Request timeout",
    "overloaded_error": "Overloaded",
}

# The reverse map, for faults that name an error type (an SSE error event turned into a status
# when the request was not streamed).
STATUS_FOR_TYPE: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def _random_id(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_request_id() -> str:
    return _random_id("req_011C", 20)


def new_message_id() -> str:
    return _random_id("msg_01", 22)


def new_batch_id() -> str:
    return _random_id("msgbatch_01", 22)


def error_type_for(status: int) -> str:
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


class ApiError(Exception):
    """An error the upstream answers with `{"type": "error", "error": {...}}`."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        error_type: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.status = status
        self.error_type = error_type or error_type_for(status)
        self.message = message or DEFAULT_MESSAGES.get(self.error_type, "Error")
        self.headers = headers or []
        super().__init__(f"{status} {self.error_type}: {self.message}")

    def error_object(self) -> dict[str, str]:
        return {"type": self.error_type, "message": self.message}

    def body(self, request_id: str) -> dict[str, Any]:
        return {"type": "error", "error": self.error_object(), "request_id": request_id}


def invalid(message: str) -> ApiError:
    """A 400 invalid_request_error, the answer to most malformed requests."""
    return ApiError(400, message)
