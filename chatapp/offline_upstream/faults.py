"""Fault switches: ways to make the offline upstream fail the way the real one does.

Faults are queued through `POST /_control/faults` and consumed one per `POST /v1/messages`, or
triggered by a magic phrase such as `[[fault:overloaded]]` in the last user message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import STATUS_FOR_TYPE, ApiError, error_type_for

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
KINDS = ("status", "error_event", "drop", "stall", "refusal", "replay")

# The phrases a user can type to trigger a fault by hand (demos, browser tests).
MAGIC_FAULTS: dict[str, dict[str, Any]] = {
    "overloaded": {"kind": "status", "status": 529},
    "rate_limit": {"kind": "status", "status": 429, "retry_after": 1},
    "server_error": {"kind": "status", "status": 500},
    "auth": {"kind": "status", "status": 401},
    "invalid": {
        "kind": "status",
        "status": 400,
        "message": "messages: the offline upstream was asked to reject this request",
    },
    "error_event": {"kind": "error_event", "after_tokens": 20, "error_type": "overloaded_error"},
    "drop": {"kind": "drop", "after_tokens": 20},
    "stall": {"kind": "stall", "after_tokens": 20, "seconds": 30},
    "refusal": {"kind": "refusal"},
}
MAGIC_PATTERN = re.compile(r"\[\[fault:([a-z_]+)\]\]")

# What the rate limiter reports in the anthropic-ratelimit-* headers of a 429.
RATE_LIMITS = {"requests": 50, "tokens": 60_000, "input-tokens": 50_000, "output-tokens": 10_000}


@dataclass(frozen=True)
class Fault:
    kind: str
    status: int = 500
    error_type: str | None = None
    message: str | None = None
    retry_after: float | None = None
    after_tokens: int | None = None
    seconds: float = 0.0
    body: str = ""
    content_type: str = SSE_CONTENT_TYPE
    category: str | None = "cyber"
    explanation: str | None = "This request was refused due to policy."

    @classmethod
    def parse(cls, raw: Any) -> Fault:
        """A fault from its JSON form; ValueError says what is wrong with it."""
        if not isinstance(raw, dict):
            raise ValueError("a fault must be a JSON object")
        if raw.get("kind") not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}")
        known = {field.name for field in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        fault = cls(**raw)
        if fault.kind == "status" and not 400 <= fault.status <= 599:
            raise ValueError("a status fault needs a 4xx or 5xx status")
        return fault

    def __post_init__(self) -> None:
        # JSON numbers arrive as int or float; settle the types once (ValueError if not numbers).
        object.__setattr__(self, "status", int(self.status))
        object.__setattr__(self, "seconds", float(self.seconds))
        if self.retry_after is not None:
            object.__setattr__(self, "retry_after", float(self.retry_after))
        if self.after_tokens is not None:
            object.__setattr__(self, "after_tokens", int(self.after_tokens))

    @property
    def mid_stream_at(self) -> int | None:
        """After how many output tokens a stream fault fires (None: not a mid-stream fault).

        Error events and drops without after_tokens fire right after the opening events; a
        stall without after_tokens happens before the headers instead."""
        if self.kind in ("error_event", "drop"):
            return self.after_tokens or 0
        if self.kind == "stall":
            return self.after_tokens
        return None

    @property
    def stalls_before_headers(self) -> bool:
        """A stall without after_tokens holds the whole response, headers included."""
        return self.kind == "stall" and self.after_tokens is None

    def as_api_error(self) -> ApiError:
        """The HTTP error this fault answers with (status faults; error events when the
        request was not streamed, as the real API then fails with the matching status)."""
        if self.kind == "error_event":
            error_type = self.error_type or "overloaded_error"
            status = STATUS_FOR_TYPE.get(error_type, 500)
            return ApiError(status, self.message, error_type=error_type)
        error_type = self.error_type or error_type_for(self.status)
        return ApiError(self.status, self.message, error_type=error_type, headers=self._headers())

    def event_error(self) -> dict[str, Any]:
        """The body of the SSE `error` event."""
        return self.as_api_error().error_object()

    def _headers(self) -> list[tuple[str, str]]:
        headers = []
        if self.retry_after is not None:
            # Whole seconds like the real API; a fraction is kept (the SDK accepts it) so tests
            # can keep retries short.
            seconds = self.retry_after
            headers.append(("retry-after", str(int(seconds) if seconds.is_integer() else seconds)))
        if self.status == 429:
            headers.extend(rate_limit_headers(self.retry_after or 1))
        return headers


def rate_limit_headers(reset_in: float) -> list[tuple[str, str]]:
    reset = (datetime.now(UTC) + timedelta(seconds=reset_in)).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = []
    for name, limit in RATE_LIMITS.items():
        prefix = f"anthropic-ratelimit-{name}"
        headers += [(f"{prefix}-limit", str(limit)), (f"{prefix}-remaining", "0")]
        headers.append((f"{prefix}-reset", reset))
    return headers


def magic_fault(text: str) -> Fault | None:
    """The fault a `[[fault:name]]` phrase in the user's text asks for, if any."""
    for name in MAGIC_PATTERN.findall(text):
        if name in MAGIC_FAULTS:
            return Fault.parse(MAGIC_FAULTS[name])
    return None
