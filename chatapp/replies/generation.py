"""One reply's calls to Claude: broken streams recovered, tool rounds run, every call recorded.

``ReplyGeneration.events()`` is the event source a ``ReplyRelay`` reads. Behind it:

- **Recovery.** A stream that breaks after it started (an ``error`` event, a dropped
  connection, a read timeout) is requested again, at most ``max_recoveries`` times. Where the
  model accepts an assistant prefill the new request carries the partial text and the reply
  goes on from there; elsewhere the attempt is restarted in place (a ``ReplyReset`` with a
  note). Failures before a stream starts are the SDK's to retry; we only tell the user.
- **Tool rounds.** When the model stops for ``tool_use`` the tools run (concurrently) and
  their results go back in one user turn; ``pause_turn`` is sent back as it is. At most
  ``max_rounds`` calls, then the reply stops with a note.
- **The context window.** Before every call (tool rounds and retries included) the plan's
  ``fit_call`` (``compaction.ContextGuard``) may replace the conversation part of the request
  (older turns summarised) or cut tool results short; the content keeps what Claude was sent.
- **The record.** ``calls`` holds the usage of every call that reached Claude (each is billed),
  ``attempts`` the error and partial text of every attempt that broke, ``notes`` what the reader
  should be told. ``final_content()`` is what the message stores: every round's blocks as
  received, tool results in between, and never a tool call left without its result.

No database access here (except through ``fit_call``, only when a call would overflow the
window): the reply service reads the plan before and writes the record after.
"""

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from chatapp.claude import messages as claude_messages
from chatapp.claude.prompt import expand_reply
from chatapp.claude.token_bounds import token_guess
from chatapp.claude.types import (
    StreamFinished,
    StreamStarted,
    TextDelta,
    ThinkingDelta,
    UpstreamError,
    Usage,
)
from chatapp.streaming.relay import RelayEvent, ReplyReset, ToolCard

Notify = Callable[[str], Awaitable[None]]
BeforeCall = Callable[[dict[str, Any]], Awaitable[None]]
ToolRunner = Callable[[str, dict[str, Any]], Awaitable["ToolOutcome"]]
# (the conversation part of the request, the request about to be sent) → what must change
FitCall = Callable[[dict[str, Any], dict[str, Any]], Awaitable["Refit"]]

NOT_RUN = "This tool call was not run: {why}."


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool answered: text for the model, and whether it failed."""

    text: str
    is_error: bool = False


@dataclass(frozen=True)
class Refit:
    """What must change before a call so that it fits the model's context window."""

    base: dict[str, Any] | None = None  # the conversation with older turns summarised
    cut: dict[str, str] = field(default_factory=dict)  # tool_use_id → the result, cut short
    note: str = ""


@dataclass
class Call:
    """One request that reached Claude; each is billed on its own."""

    usage: Usage
    request_id: str


@dataclass
class GenerationPlan:
    """Everything one reply needs, read from the database before it starts."""

    request: dict[str, Any]  # the conversation up to the question, as build_request made it
    accepts_prefill: bool = False
    content: list[dict[str, Any]] = field(default_factory=list)  # a reply being continued
    max_recoveries: int = 2
    max_rounds: int = 8
    run_tool: ToolRunner | None = None
    fit_call: FitCall | None = None  # keeps every call within the context window
    notes: list[str] = field(default_factory=list)  # shown with the reply from the start


def text_of(blocks: list[dict[str, Any]]) -> str:
    return "".join(b.get("text", "") for b in blocks if b.get("type") == "text")


def thinking_of(blocks: list[dict[str, Any]]) -> str:
    return "".join(b.get("thinking", "") for b in blocks if b.get("type") == "thinking")


def _kept_partial(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a broken attempt leaves that can be stored and sent back later: its text.

    Thinking without its signature and half-written tool calls would be rejected by the API
    in a later request, so they are dropped (the attempt's record keeps the text).
    """
    return [b for b in blocks if b.get("type") == "text" and b.get("text")]


def _estimated(started: StreamStarted, chars: int) -> Usage:
    """Usage of a call cut off before the API reported its output (a typical count)."""
    usage = Usage(**{**started.usage.as_dict(), "output_tokens": max(1, token_guess(chars))})
    usage.estimated = True
    return usage


def mended(value: Any) -> Any:
    """``value`` with every lone UTF-16 surrogate in its strings (keys too) replaced by U+FFFD.

    JSON from upstream may escape one (``"\\ud800"``): Python decodes it into a str that no
    later request can encode and PostgreSQL cannot store, so a reply keeping it would break
    the title call, the final write and every later turn of its conversation (append-only:
    the stored text is sent again). Mended where it arrives, what streams is what is stored.
    A valid pair is kept; a pair split across two deltas becomes two U+FFFD in the stream."""
    if isinstance(value, str):
        if value.isascii():
            return value
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [mended(item) for item in value]
    if isinstance(value, dict):
        return {mended(key): mended(item) for key, item in value.items()}
    return value


def _guessed_output(reported: Usage, blocks: list[dict[str, Any]]) -> Usage:
    """A broken stream's usage as the API last reported it, its output raised to a typical
    count of the text and thinking it had produced (the report lags what was generated)."""
    chars = sum(len(block.get("text", "")) + len(block.get("thinking", "")) for block in blocks)
    output = max(reported.output_tokens, token_guess(chars))
    return replace(reported, output_tokens=output, estimated=True)


def _retry_words(seconds: float, status: int | None) -> str:
    wait = max(1, math.ceil(seconds))
    if status is None:
        return f"Couldn't reach Claude, retrying in {wait} s"
    if status >= 500 and status != 529:
        return f"Claude had a problem, retrying in {wait} s"
    return f"Claude is busy, retrying in {wait} s"


class ReplyGeneration:
    def __init__(
        self, plan: GenerationPlan, *, notify: Notify, before_call: BeforeCall | None = None
    ) -> None:
        self.plan = plan
        self._notify = notify
        # Runs before every request is sent (the budget reserves its worst case there); an
        # UpstreamError it raises ends the reply like a call that failed before it started.
        self._before_call = before_call
        self.content: list[dict[str, Any]] = list(plan.content)
        self.calls: list[Call] = []
        self.attempts: list[dict[str, Any]] = []
        self.notes: list[str] = list(plan.notes)
        self.tool_ms: dict[str, int] = {}
        self.stop_reason = ""
        self.stop_details: dict[str, Any] | None = None
        self._open: StreamStarted | None = None  # the call streaming right now
        self._open_chars = 0
        self._prefix = ""  # this round's text carried into a prefill
        self._streamed = ""  # text of the attempt streaming right now
        self._background: set[asyncio.Task] = set()
        self._cards = 0
        self._fit_note = ""

    # --- what the relay reads --------------------------------------------------------------

    async def events(self) -> AsyncIterator[RelayEvent]:
        try:
            self._prepare_continuation()
            for round_number in range(1, self.plan.max_rounds + 1):
                async for event in self._round():
                    yield event
                if self.stop_reason == "tool_use":
                    if round_number == self.plan.max_rounds:
                        self.notes.append(
                            f"Claude asked for more tool calls after {self.plan.max_rounds} "
                            "rounds; the reply was stopped there."
                        )
                        break
                    async for event in self._run_tools():
                        yield event
                elif self.stop_reason != "pause_turn":
                    break
            yield StreamFinished(
                content=self.final_content(),
                stop_reason=self.stop_reason,
                usage=self.total_usage(),
                stop_details=self.stop_details,
            )
        finally:
            self._close_open_call()

    # --- the record --------------------------------------------------------------------------

    def total_usage(self) -> Usage:
        total = Usage()
        for call in self.calls:
            total = total + call.usage
        return total

    def calls_so_far(self) -> list[Call]:
        """Every call that reached Claude, the one streaming now included (its output
        estimated from the characters so far): what a checkpoint keeps for billing."""
        if self._open is None:
            return list(self.calls)
        return [*self.calls, Call(_estimated(self._open, self._open_chars),
                                  self._open.request_id)]

    def final_content(self) -> list[dict[str, Any]]:
        """The stored content: every round, the current partial text, no dangling tool call."""
        content = self.content + _kept_partial([self._carried()])
        answered = {b.get("tool_use_id") for b in content if b.get("type") == "tool_result"}
        why = "the reply ended before it ran"
        if self.stop_reason == "tool_use" and self.notes:
            why = "the reply reached its limit of tool rounds"
        missing = [
            {"type": "tool_result", "tool_use_id": b["id"], "is_error": True,
             "content": NOT_RUN.format(why=why)}
            for b in content
            if b.get("type") == "tool_use" and b.get("id") not in answered
        ]
        return content + missing

    # --- one call, with recovery ---------------------------------------------------------------

    def _carried(self) -> dict[str, Any]:
        """The round's text so far that no finished call holds: prefix and streaming text."""
        return {"type": "text", "text": self._prefix + self._streamed}

    def _prepare_continuation(self) -> None:
        """A reply continued in place goes on from its last text, as a prefill. The reply
        service continues in place only where the model takes one (chatapp/replies/service.py);
        elsewhere a continuation is a new question and this reply starts empty."""
        if self.content and self._can_prefill(self.content[-1]):
            self._prefix = self.content.pop()["text"].rstrip()

    def _can_prefill(self, block: dict[str, Any]) -> bool:
        thinking = self.plan.request.get("thinking", {}).get("type") not in (None, "disabled")
        return (
            self.plan.accepts_prefill
            and not thinking
            and block.get("type") == "text"
            and bool(block.get("text", "").strip())
        )

    def _request(self) -> dict[str, Any]:
        blocks = self.content + ([{"type": "text", "text": self._prefix}] if self._prefix else [])
        messages = list(self.plan.request["messages"]) + expand_reply(blocks)
        return {**self.plan.request, "messages": messages}

    async def _round(self) -> AsyncIterator[RelayEvent]:
        """One call; a stream that breaks after it started is requested again."""
        for attempt in range(self.plan.max_recoveries + 1):
            try:
                async for event in self._stream():
                    yield event
                return
            except UpstreamError as failure:
                broke_mid_stream = self._settle_broken_call(failure)
                exhausted = attempt == self.plan.max_recoveries
                if not (broke_mid_stream and failure.retryable) or exhausted:
                    failure.partial_content = self.final_content()
                    failure.partial_usage = self.total_usage()
                    raise
                yield self._recover(failure, attempt + 2)

    async def _fitted(self) -> dict[str, Any]:
        """The next request, made to fit the context window: every tool round and retry adds
        to the prompt, so each call is checked again (older turns summarised, long tool
        results cut short; the stored content keeps what Claude was actually sent)."""
        request = self._request()
        if self.plan.fit_call is None:
            return request
        refit = await self.plan.fit_call(self.plan.request, request)
        if refit.base is None and not refit.cut:
            return request
        if refit.base is not None:
            self.plan.request = refit.base
        self.content = [
            {**b, "content": refit.cut[b["tool_use_id"]]}
            if b.get("type") == "tool_result" and b.get("tool_use_id") in refit.cut
            else b
            for b in self.content
        ]
        if refit.note:  # it says what was cut so far: it replaces the last one
            self.notes = [n for n in self.notes if n != self._fit_note] + [refit.note]
            self._fit_note = refit.note
        return self._request()

    async def _stream(self) -> AsyncIterator[RelayEvent]:
        self._streamed = ""
        request = await self._fitted()
        if self._before_call is not None:
            await self._before_call(request)
        async for event in claude_messages.stream_reply(request, on_retry=self._on_retry):
            if isinstance(event, StreamStarted):
                self._open, self._open_chars = event, 0
                yield event
            elif isinstance(event, TextDelta | ThinkingDelta):
                event.text = mended(event.text)
                self._open_chars += len(event.text)
                if isinstance(event, TextDelta):
                    self._streamed += event.text
                yield event
            elif isinstance(event, StreamFinished):
                event.content = mended(event.content)
                self.calls.append(Call(event.usage, self._open.request_id if self._open else ""))
                self._open = None
                self.content.extend(self._after_prefix(event.content))
                self._prefix = self._streamed = ""
                self.stop_reason, self.stop_details = event.stop_reason, event.stop_details

    def _after_prefix(self, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A prefilled call answers only the continuation: the round's text is both, joined."""
        if not self._prefix:
            return blocks
        if blocks and blocks[0].get("type") == "text":
            return [dict(blocks[0], text=self._prefix + blocks[0]["text"]), *blocks[1:]]
        return [{"type": "text", "text": self._prefix}, *blocks]

    def _settle_broken_call(self, failure: UpstreamError) -> bool:
        """Bill the call that broke (if it started). True when it broke mid-stream."""
        started = self._open
        if started is None:
            return False
        if failure.partial_usage is not None:
            usage = _guessed_output(failure.partial_usage, failure.partial_content)
        else:
            usage = _estimated(started, self._open_chars)
        self.calls.append(Call(usage, started.request_id or failure.request_id))
        self._open = None
        return True

    def _recover(self, failure: UpstreamError, attempt: int) -> ReplyReset:
        """Record the broken attempt, then go on from its text (prefill) or start it over."""
        self.attempts.append(
            {"error": {"code": failure.code, "message": failure.message},
             "text": self._streamed, "request_id": failure.request_id}
        )
        of = f"attempt {attempt} of {self.plan.max_recoveries + 1}"
        if self._can_prefill(self._carried()):
            # The API rejects a prefill ending in whitespace; the visible text is trimmed too.
            self._prefix = (self._prefix + self._streamed).rstrip()
            note = f"The connection to Claude broke; the reply went on where it stopped ({of})."
        else:
            note = f"The connection to Claude broke; the reply was restarted ({of})."
        self._streamed = ""
        self.notes.append(note)
        visible = text_of(self.content) + self._prefix
        return ReplyReset(text=visible, thinking=thinking_of(self.content), note=note)

    def _close_open_call(self) -> None:
        """Stopped mid-stream: the API never reported the output, so it is estimated."""
        if self._open is not None:
            self.calls.append(Call(_estimated(self._open, self._open_chars),
                                   self._open.request_id))
            self._open = None

    def _on_retry(self, seconds: float, status: int | None) -> None:
        task = asyncio.get_running_loop().create_task(self._notify(_retry_words(seconds, status)))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- tools ---------------------------------------------------------------------------------

    async def _run_tools(self) -> AsyncIterator[RelayEvent]:
        """Every tool call of the last round, concurrently; results in one turn, in order."""
        last_round = expand_reply(self.content)[-1]["content"]
        uses = [b for b in last_round if b.get("type") == "tool_use"]
        cards: dict[str, dict[str, Any]] = {}
        for use in uses:
            self._cards += 1
            cards[use["id"]] = {"id": use["id"], "order": self._cards, "name": use["name"],
                                "input": use.get("input", {}), "status": "running"}
            yield ToolCard(dict(cards[use["id"]]))
        outcomes: dict[str, ToolOutcome] = {}
        tasks = [asyncio.ensure_future(self._timed(use)) for use in uses]
        try:
            for next_done in asyncio.as_completed(tasks):
                use_id, outcome, ms = await next_done
                outcomes[use_id] = outcome
                self.tool_ms[use_id] = ms
                card = {**cards[use_id], "status": "error" if outcome.is_error else "done",
                        "result": outcome.text[:4000], "ms": ms}
                yield ToolCard(card)
        finally:
            for task in tasks:
                task.cancel()
        self.content.extend(
            {"type": "tool_result", "tool_use_id": use["id"], "content": outcomes[use["id"]].text,
             **({"is_error": True} if outcomes[use["id"]].is_error else {})}
            for use in uses
        )

    async def _timed(self, use: dict[str, Any]) -> tuple[str, ToolOutcome, int]:
        started = time.monotonic()
        runner = self.plan.run_tool
        if runner is None:
            outcome = ToolOutcome(f"No tool named {use['name']!r} is available.", is_error=True)
        else:
            outcome = await runner(use["name"], use.get("input") or {})
        return use["id"], outcome, round((time.monotonic() - started) * 1000)
