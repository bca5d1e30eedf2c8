"""Relay one streaming reply: upstream events → coalesced, numbered frames.

Deltas that arrive within one coalescing window go out as a single ``delta`` frame with the
next ``seq``. The live state (text so far, last seq) is updated *before* each frame is
published, which is what makes late-joining sockets gap-free. The text is handed to a
checkpoint callback at most once per checkpoint interval, in the background and never
overlapping; the relay itself never touches the database.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from chatapp.claude.token_bounds import token_guess
from chatapp.claude.types import (
    StreamEvent,
    StreamFinished,
    StreamStarted,
    TextDelta,
    ThinkingDelta,
    UpstreamError,
    Usage,
)
from chatapp.streaming.live import LiveStore

logger = logging.getLogger(__name__)

# What the reader is told when a reply fails for a reason that is neither Claude's answer nor
# the connection (a bug of ours, a stream the SDK could not make sense of): plain words; the
# traceback goes to the log.
UNEXPECTED_FAILURE = (
    "Something went wrong on our side while this reply was being written, so it was stopped "
    "(the problem was logged). What was written so far is kept; try again."
)

Publish = Callable[[dict[str, Any]], Awaitable[None]]
Checkpoint = Callable[[str], Awaitable[None]]


def unexpected_failure() -> UpstreamError:
    """The error a reply ends with after an exception nobody expected (not retryable: an
    error, not an interruption, since going on would most likely fail the same way)."""
    return UpstreamError("internal", UNEXPECTED_FAILURE)


@dataclass
class ReplyReset:
    """Start the visible reply over from ``text`` (a broken attempt is restarted in place)."""

    text: str
    thinking: str = ""
    note: str = ""


@dataclass
class ToolCard:
    """A tool call shown in the reply: published when it starts and again when it ends."""

    card: dict[str, Any]


RelayEvent = StreamEvent | ReplyReset | ToolCard


@dataclass
class RelayResult:
    """How a reply's stream ended, with everything the final write needs."""

    text: str
    content: list[dict[str, Any]]
    stop_reason: str
    usage: Usage
    request_id: str
    seq: int
    cancelled: bool = False
    error: UpstreamError | None = None
    ttft_ms: int | None = None
    duration_ms: int = 0
    stop_details: dict[str, Any] | None = None
    started: StreamStarted | None = field(default=None, repr=False)


class ReplyRelay:
    def __init__(
        self,
        message_id: int,
        *,
        publish: Publish,
        checkpoint: Checkpoint,
        live: LiveStore,
        coalesce_seconds: float,
        checkpoint_seconds: float,
        initial_text: str = "",
    ) -> None:
        self.message_id = message_id
        self._publish = publish
        self._checkpoint = checkpoint
        self._live = live
        self._coalesce = coalesce_seconds
        self._checkpoint_every = checkpoint_seconds
        self._pending: list[RelayEvent] = []
        self._parts: list[str] = [initial_text] if initial_text else []
        self._thinking: list[str] = []
        self._wake = asyncio.Event()
        self._done = False
        self._reader: asyncio.Task | None = None
        self._checkpoint_task: asyncio.Task | None = None
        self._last_checkpoint = 0.0
        self._started_at = 0.0
        self._first_token_at: float | None = None
        self.seq = 0
        self.cancelled = False
        self.started: StreamStarted | None = None
        self.finished: StreamFinished | None = None
        self.error: UpstreamError | None = None

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def thinking(self) -> str:
        return "".join(self._thinking)

    def stop(self) -> None:
        """Stop reading: closing the stream closes the upstream connection at once."""
        self.cancelled = True
        if self._reader is not None:
            self._reader.cancel()

    async def run(self, events: AsyncIterator[RelayEvent]) -> RelayResult:
        self._started_at = self._last_checkpoint = time.monotonic()
        self._reader = asyncio.create_task(self._read(events))
        if self.cancelled:  # stopped before the reader existed
            self._reader.cancel()
        try:
            await self._pump()
        finally:
            if not self._reader.done():
                self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            if self._checkpoint_task is not None:
                await asyncio.gather(self._checkpoint_task, return_exceptions=True)
        return self.result()

    async def _read(self, events: AsyncIterator[RelayEvent]) -> None:
        try:
            async for event in events:
                if isinstance(event, TextDelta | ThinkingDelta | ReplyReset | ToolCard):
                    if self._first_token_at is None:
                        self._first_token_at = time.monotonic()
                    self._pending.append(event)
                    self._wake.set()
                elif isinstance(event, StreamStarted):
                    self.started = self.started or event  # the first call's, for ttft and id
                elif isinstance(event, StreamFinished):
                    self.finished = event
        except UpstreamError as exc:
            self.error = exc
        except asyncio.CancelledError:
            self.cancelled = True
        except Exception:
            # Anything else (e.g. UnicodeEncodeError building a request) ends the reply as an
            # error; swallowed here, it would have been stored as a complete, empty reply.
            logger.exception("reply %s failed", self.message_id)
            self.error = unexpected_failure()
        finally:
            try:
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()
            except Exception:  # closing failed: the reply must still end
                logger.exception("reply %s: closing its stream failed", self.message_id)
            finally:
                self._done = True
                self._wake.set()

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            # The first text goes out at once: waiting a window for company would add the
            # whole window to the time to first token, the delay users notice most.
            if not self._done and self._coalesce and self.seq:
                await asyncio.sleep(self._coalesce)
            self._wake.clear()
            if self._pending:
                await self._flush()
            if self._done and not self._pending:
                return

    async def _flush(self) -> None:
        """Runs of deltas go out as one frame each; resets and tool cards in their place."""
        pending, self._pending = self._pending, []
        text: list[str] = []
        thinking: list[str] = []
        for event in pending:
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, ThinkingDelta):
                thinking.append(event.text)
            else:
                await self._send_delta("".join(text), "".join(thinking))
                text, thinking = [], []
                await self._send_control(event)
        await self._send_delta("".join(text), "".join(thinking))
        self._maybe_checkpoint()

    async def _send_delta(self, text: str, thinking: str) -> None:
        if not text and not thinking:
            return
        self._parts.append(text)
        self._thinking.append(thinking)
        self.seq += 1
        await self._live.append(self.message_id, self.seq, text, thinking)
        frame = {"type": "delta", "message_id": self.message_id, "seq": self.seq, "text": text}
        if thinking:
            frame["thinking"] = thinking
        await self._publish(frame)

    async def _send_control(self, event: "ReplyReset | ToolCard") -> None:
        self.seq += 1
        if isinstance(event, ToolCard):
            await self._live.put_tool(self.message_id, self.seq, event.card)
            await self._publish(
                {"type": "tool_call", "message_id": self.message_id, "seq": self.seq,
                 "tool": event.card}
            )
            return
        self._parts, self._thinking = [event.text], [event.thinking]
        await self._live.reset(self.message_id, self.seq, event.text, event.thinking)
        # A reply_state to the group: every socket replaces what it shows (see docs/protocol.md).
        await self._publish(
            {"type": "reply_state", "message_id": self.message_id, "seq": self.seq,
             "text": event.text, "thinking": event.thinking, "note": event.note}
        )

    def _maybe_checkpoint(self) -> None:
        now = time.monotonic()
        busy = self._checkpoint_task is not None and not self._checkpoint_task.done()
        if busy or now - self._last_checkpoint < self._checkpoint_every:
            return
        self._last_checkpoint = now
        self._checkpoint_task = asyncio.create_task(self._checkpoint(self.text))

    def result(self) -> RelayResult:
        text = self.text
        started = self.started
        usage = started.usage if started else Usage()
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        stop_reason = ""
        stop_details = None
        if self.finished is not None:
            content, usage = self.finished.content, self.finished.usage
            stop_reason, stop_details = self.finished.stop_reason, self.finished.stop_details
        elif self.error is not None and self.error.partial_usage is not None:
            usage = self.error.partial_usage
        elif started is not None:
            # Stopped by the user: the API never reported the output it generated.
            usage = Usage(**{**usage.as_dict(), "output_tokens": max(1, token_guess(len(text)))})
            usage.estimated = True
        now = time.monotonic()
        return RelayResult(
            text=text,
            content=content,
            stop_reason=stop_reason,
            usage=usage,
            request_id=(started.request_id if started else "")
            or (self.error.request_id if self.error else ""),
            seq=self.seq,
            cancelled=self.cancelled and self.finished is None,
            error=self.error,
            ttft_ms=(
                round((self._first_token_at - self._started_at) * 1000)
                if self._first_token_at is not None
                else None
            ),
            duration_ms=round((now - self._started_at) * 1000),
            stop_details=stop_details,
            started=started,
        )
