"""Writing a /v1/messages answer: the SSE stream or the JSON message, faults included.

The stream mirrors the recorded real streams event for event: message_start (input usage,
output_tokens 1) → content_block_start → ping → content_block_delta… → content_block_stop →
message_delta (stop reason, cumulative output_tokens) → message_stop.  Pacing sleeps with
asyncio between deltas, so any number of streams run side by side.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .asgi import ConnectionDropped, Headers, Send, dump_json, send_body, start_response
from .cache import CacheUsage
from .faults import SSE_CONTENT_TYPE, Fault
from .models import ModelSpec
from .replies import ReplyPlan, delta_texts

# A ping right after the first content block (as recorded), then one every PING_EVERY deltas.
PING_EVERY = 50
PING = b'event: ping\ndata: {"type": "ping"}\n\n'
# How far a stream may fall behind its schedule before it stops catching up in a burst.
MAX_CATCH_UP_SECONDS = 0.25


@dataclass
class MessagePlan:
    """Everything decided about a reply before the first byte is sent."""

    message_id: str
    request_id: str
    model: ModelSpec
    usage: CacheUsage
    reply: ReplyPlan
    diagnostics: dict[str, Any] | None = None

    def message(
        self, *, content: list[dict[str, Any]], output_tokens: int, **stop: Any
    ) -> dict[str, Any]:
        """The Message object; `stop` holds stop_reason, stop_sequence and stop_details."""
        body: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model.id,
            "content": content,
            "stop_reason": stop.get("stop_reason"),
            "stop_sequence": stop.get("stop_sequence"),
        }
        if stop.get("stop_details"):
            body["stop_details"] = stop["stop_details"]
        body["usage"] = {
            **self.usage.as_usage(),
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }
        if self.diagnostics:
            body["diagnostics"] = self.diagnostics
        return body


class Pacer:
    """Spaces deltas out at the current tokens-per-second rate (0 means no pacing)."""

    def __init__(self, rate: Callable[[], float]) -> None:
        self._rate = rate
        self._due: float | None = None

    async def wait(self, tokens: int) -> None:
        rate = self._rate()
        if rate <= 0 or tokens <= 0:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        # Keep to the schedule (so event-loop latency does not slow a stream down) but never
        # burst more than MAX_CATCH_UP_SECONDS worth of tokens to catch up.
        due = max(self._due if self._due is not None else now, now - MAX_CATCH_UP_SECONDS)
        self._due = due + tokens / rate
        if self._due > now:
            await asyncio.sleep(self._due - now)


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def sse_headers(request_id: str) -> Headers:
    return [
        ("content-type", SSE_CONTENT_TYPE),
        ("cache-control", "no-cache"),
        ("request-id", request_id),
    ]


def json_headers(request_id: str, length: int) -> Headers:
    return [
        ("content-type", "application/json"),
        ("content-length", str(length)),
        ("request-id", request_id),
    ]


def _refusal_details(fault: Fault) -> dict[str, Any]:
    return {"type": "refusal", "category": fault.category, "explanation": fault.explanation}


@dataclass
class _Stream:
    send: Send
    plan: MessagePlan
    pacer: Pacer
    fault: Fault | None = None
    sent_tokens: int = 0
    fault_done: bool = False

    async def event(self, name: str, data: dict[str, Any]) -> None:
        await send_body(self.send, sse(name, data), more=True)

    async def open(self) -> None:
        await start_response(self.send, 200, sse_headers(self.plan.request_id))
        shell = self.plan.message(content=[], output_tokens=1)
        await self.event("message_start", {"type": "message_start", "message": shell})
        block = {"type": "text", "text": ""}
        start = {"type": "content_block_start", "index": 0, "content_block": block}
        await self.event("content_block_start", start)
        await send_body(self.send, PING, more=True)

    async def close(self, output_tokens: int, **stop: Any) -> None:
        await self.event("content_block_stop", {"type": "content_block_stop", "index": 0})
        delta = {"stop_reason": stop.get("stop_reason"), "stop_sequence": stop.get("stop_sequence")}
        if stop.get("stop_details"):
            delta["stop_details"] = stop["stop_details"]
        usage = {"output_tokens": output_tokens}
        await self.event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage})
        await self.event("message_stop", {"type": "message_stop"})
        await send_body(self.send, b"")

    async def maybe_fault(self, at_end: bool = False) -> bool:
        """Fire a mid-stream fault once its token count is reached; True ends the stream."""
        fault = self.fault
        if fault is None or self.fault_done or fault.mid_stream_at is None:
            return False
        if self.sent_tokens < fault.mid_stream_at and not at_end:
            return False
        self.fault_done = True
        if fault.kind == "stall":
            await asyncio.sleep(fault.seconds)
            return False
        if fault.kind == "drop":
            raise ConnectionDropped
        await self.event("error", {"type": "error", "error": fault.event_error()})
        await send_body(self.send, b"")
        return True

    async def run(self) -> None:
        await self.open()
        reply = self.plan.reply
        deltas = delta_texts(reply.text, self.plan.model.chars_per_token, reply.seed)
        for number, (text, tokens) in enumerate(deltas, start=1):
            if await self.maybe_fault():
                return
            await self.pacer.wait(tokens)
            delta = {"type": "text_delta", "text": text}
            await self.event(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
            )
            self.sent_tokens += tokens
            if number % PING_EVERY == 0:
                await send_body(self.send, PING, more=True)
        if await self.maybe_fault(at_end=True):
            return
        await self.close(
            reply.output_tokens, stop_reason=reply.stop_reason, stop_sequence=reply.stop_sequence
        )


async def stream_message(send: Send, plan: MessagePlan, pacer: Pacer, fault: Fault | None) -> None:
    """Answer a streamed request, applying a fault of kind error_event, drop, stall, refusal."""
    if fault is not None and fault.stalls_before_headers:
        await asyncio.sleep(fault.seconds)
    stream = _Stream(send=send, plan=plan, pacer=pacer, fault=fault)
    if fault is not None and fault.kind == "refusal":
        await stream.open()
        await stream.close(1, stop_reason="refusal", stop_details=_refusal_details(fault))
        return
    await stream.run()


async def send_message(send: Send, plan: MessagePlan, pacer: Pacer, fault: Fault | None) -> None:
    """Answer a non-streamed request: the whole message as JSON, after its generation time."""
    reply = plan.reply
    if fault is not None and fault.kind == "stall":
        await asyncio.sleep(fault.seconds)
    if fault is not None and fault.kind == "refusal":
        body = plan.message(
            content=[], output_tokens=1, stop_reason="refusal",
            stop_details=_refusal_details(fault),
        )
    else:
        await pacer.wait(reply.output_tokens)
        content = [{"type": "text", "text": reply.text}] if reply.text else []
        body = plan.message(
            content=content, output_tokens=reply.output_tokens,
            stop_reason=reply.stop_reason, stop_sequence=reply.stop_sequence,
        )
    data = dump_json(body)
    await start_response(send, 200, json_headers(plan.request_id, len(data)))
    if fault is not None and fault.kind == "drop":
        # Half a body under a full content-length: the client sees the connection cut.
        await send_body(send, data[: len(data) // 2], more=True)
        raise ConnectionDropped
    await send_body(send, data)


async def send_replay(send: Send, request_id: str, fault: Fault) -> None:
    """Serve a recorded body byte for byte (HTTP 200), one SSE event per chunk."""
    await start_response(
        send, 200, [("content-type", fault.content_type), ("request-id", request_id)]
    )
    for chunk in re.split(rb"(?<=\n\n)", fault.body.encode()):
        if chunk:
            await send_body(send, chunk, more=True)
    await send_body(send, b"")
