"""Writing a streamed /v1/messages answer: the SSE stream, faults included.

The stream mirrors the recorded real streams event for event: message_start (input usage,
output_tokens 1) → content_block_start → ping → content_block_delta… → content_block_stop (a
reply citing a document has several text blocks; a cited one opens with a citations_delta) →
message_delta (stop reason, cumulative output_tokens) → message_stop. Thinking and tool call
blocks are sent whole around the text.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from .asgi import ConnectionDropped, Headers, Send, send_body, start_response
from .faults import SSE_CONTENT_TYPE, Fault
from .message_plan import MessagePlan, refusal_details
from .pacing import Pacer
from .replies import delta_texts

# A ping right after the first content block (as recorded), then one every PING_EVERY deltas.
PING_EVERY = 50
PING = b'event: ping\ndata: {"type": "ping"}\n\n'


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def sse_headers(request_id: str) -> Headers:
    return [
        ("content-type", SSE_CONTENT_TYPE),
        ("cache-control", "no-cache"),
        ("request-id", request_id),
    ]


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

    async def next_block(self, index: int) -> None:
        await self.event("content_block_stop", {"type": "content_block_stop", "index": index - 1})
        block = {"type": "text", "text": ""}
        start = {"type": "content_block_start", "index": index, "content_block": block}
        await self.event("content_block_start", start)

    async def close(self, output_tokens: int, last_index: int = 0, **stop: Any) -> None:
        await self.event(
            "content_block_stop", {"type": "content_block_stop", "index": last_index}
        )
        await self.end(output_tokens, **stop)

    async def end(self, output_tokens: int, thinking_tokens: int = 0, **stop: Any) -> None:
        """message_delta (stop reason, cumulative output) and message_stop."""
        delta = {"stop_reason": stop.get("stop_reason"), "stop_sequence": stop.get("stop_sequence")}
        if stop.get("stop_details"):
            delta["stop_details"] = stop["stop_details"]
        usage: dict[str, Any] = {"output_tokens": output_tokens}
        if thinking_tokens:  # thinking is billed as output; the API says how much of it
            usage["output_tokens_details"] = {"thinking_tokens": thinking_tokens}
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

    async def delta(self, index: int, delta: dict[str, Any]) -> None:
        await self.event(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        )

    async def text_delta(self, index: int, text: str) -> None:
        if self.plan.stamps is not None:
            self.plan.stamps.text_written(text)
        await self.delta(index, {"type": "text_delta", "text": text})

    async def start_block(self, index: int, block: dict[str, Any]) -> None:
        await self.event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": block},
        )

    async def whole_block(self, index: int, block: dict[str, Any], hidden: int = 0) -> None:
        """A thinking, redacted_thinking or tool call block: opened, streamed, closed.

        `hidden`: thinking tokens not shown (display omitted, redacted) that still take the
        model their time before the block closes."""
        kind = block["type"]
        if hidden:
            await self.start_block(index, {**block, "signature": ""} if kind == "thinking"
                                   else block)
            await self.pacer.wait(hidden)
            if kind == "thinking":
                await self.delta(index, {"type": "signature_delta",
                                         "signature": block["signature"]})
        elif kind == "thinking":
            await self.start_block(index, {"type": "thinking", "thinking": "", "signature": ""})
            cpt = self.plan.model.chars_per_token
            for text, tokens in self.pacer.events(
                delta_texts(block["thinking"], cpt, self.plan.reply.seed)
            ):
                await self.pacer.wait(tokens)
                await self.delta(index, {"type": "thinking_delta", "thinking": text})
            await self.delta(index, {"type": "signature_delta", "signature": block["signature"]})
        elif kind in ("tool_use", "server_tool_use"):
            await self.start_block(index, {**block, "input": {}})
            raw = json.dumps(block["input"])
            for part in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
                await self.delta(index, {"type": "input_json_delta", "partial_json": part})
        else:
            await self.start_block(index, block)
        await self.event("content_block_stop", {"type": "content_block_stop", "index": index})

    def _hidden_thinking_tokens(self) -> int:
        """Thinking tokens the reply bills but does not show."""
        cpt = self.plan.model.chars_per_token
        shown = sum(
            tokens
            for block in self.plan.reply.before if block["type"] == "thinking"
            for _text, tokens in delta_texts(block["thinking"], cpt, 0)
        )
        return max(0, self.plan.reply.thinking_tokens - shown)

    async def run_with_blocks(self) -> None:
        """A reply with thinking before its text or tool calls after it."""
        await start_response(self.send, 200, sse_headers(self.plan.request_id))
        shell = self.plan.message(content=[], output_tokens=1)
        await self.event("message_start", {"type": "message_start", "message": shell})
        reply = self.plan.reply
        hidden = self._hidden_thinking_tokens()
        for index, block in enumerate(reply.before):
            # The hidden thinking takes its time in the first block that hides it.
            hides = block["type"] == "redacted_thinking" or not block.get("thinking", "x")
            await self.whole_block(index, block, hidden if hides else 0)
            hidden = 0 if hides else hidden
        index = len(reply.before)
        await send_body(self.send, PING, more=True)
        if reply.text:  # thinking may have used the whole max_tokens: then no text block
            await self.start_block(index, {"type": "text", "text": ""})
            deltas = delta_texts(reply.text, self.plan.model.chars_per_token, reply.seed)
            for text, tokens in self.pacer.events(deltas):
                if await self.maybe_fault():
                    return
                await self.pacer.wait(tokens)
                await self.text_delta(index, text)
                self.sent_tokens += tokens
            await self.event("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        for offset, block in enumerate(reply.after, start=index):
            await self.whole_block(offset, block)
        if await self.maybe_fault(at_end=True):
            return
        await self.end(
            reply.output_tokens, thinking_tokens=reply.thinking_tokens,
            stop_reason=reply.stop_reason, stop_sequence=reply.stop_sequence,
        )

    async def run(self) -> None:
        if self.plan.reply.before or self.plan.reply.after:
            await self.run_with_blocks()
            return
        await self.open()
        reply = self.plan.reply
        blocks = reply.content_blocks()
        number = 0
        for index, block in enumerate(blocks):
            if index:
                await self.next_block(index)
            # As the API does: a cited block opens with its citation, then its text follows.
            for citation in block.citations:
                await self.delta(index, {"type": "citations_delta", "citation": citation})
            cpt = self.plan.model.chars_per_token
            for text, tokens in self.pacer.events(delta_texts(block.text, cpt, reply.seed + index)):
                if await self.maybe_fault():
                    return
                await self.pacer.wait(tokens)
                await self.text_delta(index, text)
                self.sent_tokens += tokens
                number += 1
                if number % PING_EVERY == 0:
                    await send_body(self.send, PING, more=True)
        if await self.maybe_fault(at_end=True):
            return
        await self.close(
            reply.output_tokens, len(blocks) - 1,
            stop_reason=reply.stop_reason, stop_sequence=reply.stop_sequence,
        )


async def stream_message(send: Send, plan: MessagePlan, pacer: Pacer, fault: Fault | None) -> None:
    """Answer a streamed request, applying a fault of kind error_event, drop, stall, refusal."""
    if fault is not None and fault.stalls_before_headers:
        await asyncio.sleep(fault.seconds)
    stream = _Stream(send=send, plan=plan, pacer=pacer, fault=fault)
    if fault is not None and fault.kind == "refusal":
        await stream.open()
        await stream.close(1, stop_reason="refusal", stop_details=refusal_details(fault))
        return
    await stream.run()

