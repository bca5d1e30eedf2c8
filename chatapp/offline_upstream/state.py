"""The mutable state of one offline upstream: pace, queued faults, request log, cache, clock,
message batches, context windows set smaller than the catalogue's.

Only the server's own event loop touches it (control goes through HTTP), so it needs no locks.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import deque
from dataclasses import replace
from typing import Any

from .batches import BatchStore
from .cache import CacheDiagnostics, Clock, PromptCache
from .faults import Fault
from .models import ModelSpec
from .request_headers import is_strict
from .stamps import StampLog

DEFAULT_TOKENS_PER_SECOND = 60.0
PACE_ENV = "OFFLINE_UPSTREAM_TOKENS_PER_SECOND"
FIRST_TOKEN_ENV = "OFFLINE_UPSTREAM_FIRST_TOKEN_SECONDS"
EVENT_MS_ENV = "OFFLINE_UPSTREAM_EVENT_MS"
# Claude's own rhythm: text arrives in events 70–200 ms apart, each carrying what the model
# wrote since the last one (issue 10), not a token or two at a time.
CLAUDE_EVENT_MS = (70.0, 200.0)
MAX_LOGGED_REQUESTS = 1000
# When set, every accepted Messages request body (SDK-version requests: anthropic-version
# 2026-10-21 or later) is appended to this file as a JSON line, so a test session can check
# each against the SDK's own request types (see request_types.py and tests/conftest.py).
RECORD_BODIES_ENV = "OFFLINE_UPSTREAM_RECORD_BODIES"
# A request a test sends off the SDK's types on purpose carries this header: not recorded.
UNCHECKED_HEADER = "x-offline-upstream-unchecked"
# Strings longer than this are recorded cut short: their types are all the check needs.
RECORDED_STRING_CHARS = 64
_CREDENTIAL_HEADERS = ("authorization", "x-api-key")


def pace_from_env() -> float:
    """The configured default pace: OFFLINE_UPSTREAM_TOKENS_PER_SECOND, else 60."""
    value = os.environ.get(PACE_ENV, "").strip()
    return float(value) if value else DEFAULT_TOKENS_PER_SECOND


def first_token_from_env() -> float:
    """The configured wait before a reply's first token: OFFLINE_UPSTREAM_FIRST_TOKEN_SECONDS,
    else 0 (the first token comes at the pace like every other)."""
    value = os.environ.get(FIRST_TOKEN_ENV, "").strip()
    return float(value) if value else 0.0


def parse_event_ms(value: str) -> tuple[float, float] | None:
    """"70-200" → (70.0, 200.0), "100" → (100.0, 100.0); "0" → None: every delta of 1–3
    tokens is an event of its own, as fast as the pace allows."""
    low, _, high = value.strip().partition("-")
    bounds = (float(low), float(high or low))
    if bounds[0] < 0 or bounds[1] < bounds[0]:
        raise ValueError(f"event gap {value!r}: give MS or LOW-HIGH, 0 <= LOW <= HIGH")
    return None if bounds[1] == 0 else bounds


def event_ms_from_env() -> tuple[float, float] | None:
    """The configured gap between text events: OFFLINE_UPSTREAM_EVENT_MS, else Claude's."""
    value = os.environ.get(EVENT_MS_ENV, "").strip()
    return parse_event_ms(value) if value else CLAUDE_EVENT_MS


def _mask(value: str) -> str:
    """Keep test keys readable but never echo a real-looking key back through the log."""
    return value if len(value) <= 16 else f"{value[:10]}…{value[-4:]}"


def _loggable_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        name: _mask(value) if name in _CREDENTIAL_HEADERS else value
        for name, value in headers.items()
    }


def _loggable_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")


def _shrunk(value: Any) -> Any:
    if isinstance(value, str):
        return value[:RECORDED_STRING_CHARS]
    if isinstance(value, dict):
        return {key: _shrunk(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shrunk(item) for item in value]
    return value


class BodyRecorder:
    """Appends request bodies to the file named by OFFLINE_UPSTREAM_RECORD_BODIES (if set),
    each distinct body once per process."""

    def __init__(self) -> None:
        self.path = os.environ.get(RECORD_BODIES_ENV, "").strip() or None
        self._seen: set[bytes] = set()

    def record(self, entry: dict[str, Any]) -> None:
        if self.path is None:
            return
        line = json.dumps(_shrunk(entry), sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(line.encode()).digest()
        if digest in self._seen:
            return
        self._seen.add(digest)
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(line + "\n")


class UpstreamState:
    def __init__(
        self,
        tokens_per_second: float | None = None,
        batch_seconds: float | None = None,
        first_token_seconds: float | None = None,
        stamps: bool = False,
        event_ms: str | None = None,
    ) -> None:
        # Fixed for the server's life: how a paced stream groups its text into events.
        self.event_ms = event_ms_from_env() if event_ms is None else parse_event_ms(event_ms)
        self.default_pace = pace_from_env() if tokens_per_second is None else tokens_per_second
        self.pace = self.default_pace
        self.default_first_token = (
            first_token_from_env() if first_token_seconds is None else first_token_seconds
        )
        self.first_token_seconds = self.default_first_token
        # How long a count_tokens call takes (tests of a request caught by a server's stop).
        self.count_seconds = 0.0
        self.stamps = StampLog(stamps)
        self._stamps_default = stamps
        self.clock = Clock()
        self.cache = PromptCache(self.clock)
        self.diagnostics = CacheDiagnostics()
        self.batches = BatchStore(self.clock, batch_seconds)
        self._faults: deque[Fault] = deque()
        self._log: deque[dict[str, Any]] = deque(maxlen=MAX_LOGGED_REQUESTS)
        # Smaller context windows for some models (tests of long prompts without megabytes).
        self.context_windows: dict[str, int] = {}
        self.recorder = BodyRecorder()

    def sized(self, model: ModelSpec) -> ModelSpec:
        """``model`` with the context window set for it through /_control/models, if any."""
        window = self.context_windows.get(model.id)
        return model if window is None else replace(model, max_input_tokens=window)

    def reset(self) -> None:
        self.context_windows.clear()
        self.pace = self.default_pace
        self.first_token_seconds = self.default_first_token
        self.count_seconds = 0.0
        self.stamps.clear()
        self.stamps.enabled = self._stamps_default
        self.clock.reset()
        self.cache.clear()
        self.diagnostics.clear()
        self.batches.reset()
        self._faults.clear()
        self._log.clear()

    def add_faults(self, faults: list[Fault]) -> None:
        self._faults.extend(faults)

    def next_fault(self) -> Fault | None:
        return self._faults.popleft() if self._faults else None

    @property
    def pending_faults(self) -> int:
        return len(self._faults)

    def log_request(
        self, method: str, path: str, query: str, headers: dict[str, str], raw: bytes
    ) -> None:
        self._log.append({
            "method": method,
            "path": path,
            "query": query,
            "headers": _loggable_headers(headers),
            "body": _loggable_body(raw),
        })

    def requests(self) -> list[dict[str, Any]]:
        return list(self._log)

    def record_body(
        self, path: str, query: str, headers: dict[str, str], body: dict[str, Any],
        *, batch_request: bool = False,
    ) -> None:
        """Record an accepted Messages body (or a batch request's params) for the type check."""
        if not is_strict(headers) or headers.get(UNCHECKED_HEADER):
            return
        beta = "beta=true" in query or bool(headers.get("anthropic-beta"))
        self.recorder.record(
            {"path": path, "beta": beta, "batch_request": batch_request, "body": body}
        )
