"""The offline upstream's control routes (/_control/…), for tests and demos: queue faults,
reset, read the request log, set the pace, stamp stream writes, move the clock, time batches,
shrink a model's context window, and the state summary each of them answers with.
"""

from __future__ import annotations

from typing import Any

from .asgi import Receive, Send, send_json
from .endpoints import Request, number_field
from .faults import Fault
from .models import find_model
from .state import UpstreamState


class ControlRoutes:
    """The /_control handlers of one upstream, over its `state`."""

    def __init__(self, state: UpstreamState) -> None:
        self.state = state

    async def control_faults(self, request: Request, receive: Receive, send: Send) -> None:
        try:
            raw = request.json()
            faults = [Fault.parse(item) for item in (raw if isinstance(raw, list) else [raw])]
        except (ValueError, TypeError) as exc:
            await send_json(send, 400, {"error": str(exc)})
            return
        self.state.add_faults(faults)
        await send_json(send, 200, {"pending_faults": self.state.pending_faults})

    async def control_reset(self, request: Request, receive: Receive, send: Send) -> None:
        self.state.reset()
        await send_json(send, 200, self.summary())

    async def control_requests(self, request: Request, receive: Receive, send: Send) -> None:
        await send_json(send, 200, {"requests": self.state.requests()})

    async def control_pace(self, request: Request, receive: Receive, send: Send) -> None:
        """`tokens_per_second` for every stream; `first_token_seconds` for replies from now on;
        `count_seconds`: how long each count_tokens call takes from now on."""
        pace = number_field(request, "tokens_per_second")
        first = number_field(request, "first_token_seconds")
        count = number_field(request, "count_seconds")
        given = [value for value in (pace, first, count) if value is not None]
        if not given or min(given) < 0:
            error = "give tokens_per_second, first_token_seconds or count_seconds, numbers >= 0"
            await send_json(send, 400, {"error": error})
            return
        if pace is not None:
            self.state.pace = pace
        if first is not None:
            self.state.first_token_seconds = first
        if count is not None:
            self.state.count_seconds = count
        await send_json(send, 200, self.summary())

    async def control_stamps(self, request: Request, receive: Receive, send: Send) -> None:
        """`{"enabled": true}` records the write time of every streamed text delta from now on
        (see stamps.py); `false` stops; either way what was recorded is forgotten."""
        try:
            enabled = request.json().get("enabled")
        except (ValueError, AttributeError):
            enabled = None
        if not isinstance(enabled, bool):
            await send_json(send, 400, {"error": "give enabled: true or false"})
            return
        self.state.stamps.clear()
        self.state.stamps.enabled = enabled
        await send_json(send, 200, {"enabled": enabled})

    async def stamps(self, request: Request, receive: Receive, send: Send) -> None:
        await send_json(send, 200, self.state.stamps.as_json())

    async def control_clock(self, request: Request, receive: Receive, send: Send) -> None:
        value = number_field(request, "advance_seconds")
        if value is None or value < 0:
            await send_json(send, 400, {"error": "advance_seconds must be a number >= 0"})
            return
        self.state.clock.advance(value)
        await send_json(send, 200, self.summary())

    async def control_batches(self, request: Request, receive: Receive, send: Send) -> None:
        """`processing_seconds` for batches created from now on; `drop_results_after_lines`
        cuts the next results download after that many lines."""
        seconds = number_field(request, "processing_seconds")
        drop = number_field(request, "drop_results_after_lines")
        given = [value for value in (seconds, drop) if value is not None]
        if not given or min(given) < 0:
            error = "give processing_seconds or drop_results_after_lines, numbers >= 0"
            await send_json(send, 400, {"error": error})
            return
        if seconds is not None:
            self.state.batches.processing_seconds = seconds
        if drop is not None:
            self.state.batches.drop_results_after = int(drop)
        await send_json(send, 200, self.summary())

    async def control_models(self, request: Request, receive: Receive, send: Send) -> None:
        """`{"model": id, "context_window": N}`: requests to that model whose prompt is over N
        tokens get the API's 400 `prompt is too long` (until reset)."""
        try:
            raw = request.json()
            model, window = raw.get("model"), raw.get("context_window")
        except (ValueError, AttributeError):
            model = window = None
        if find_model(str(model)) is None or not isinstance(window, int) or window < 1:
            error = "give model (a catalogue id) and context_window (an integer >= 1)"
            await send_json(send, 400, {"error": error})
            return
        self.state.context_windows[model] = window
        await send_json(send, 200, self.summary())

    async def control_state(self, request: Request, receive: Receive, send: Send) -> None:
        await send_json(send, 200, self.summary())

    def summary(self) -> dict[str, Any]:
        return {
            "tokens_per_second": self.state.pace,
            "default_tokens_per_second": self.state.default_pace,
            "first_token_seconds": self.state.first_token_seconds,
            "count_seconds": self.state.count_seconds,
            "event_ms": list(self.state.event_ms) if self.state.event_ms else 0,
            "stamps": self.state.stamps.enabled,
            "pending_faults": self.state.pending_faults,
            "clock": self.state.clock.now(),
            "batch_seconds": self.state.batches.processing_seconds,
            "default_batch_seconds": self.state.batches.default_processing_seconds,
            "context_windows": dict(self.state.context_windows),
        }

