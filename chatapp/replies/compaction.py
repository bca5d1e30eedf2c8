"""Long conversations: know the prompt's size before each call, and keep every request of a
reply within the model's context window minus ``max_tokens``.

Sizes are known without asking the API while the conversation is clearly below the window:
each message keeps the tokens it adds to a prompt (``Message.token_count``: a reply's from its
own usage, a question's once it has been counted) and, until it has a count, is sized by a
local upper bound (``content_bound``: a token per 3 UTF-8 bytes, documents and images by the
counts stored with them). Only when that bound comes near the limit are the uncounted
messages counted with ``count_tokens`` (once each; the counts are saved with the reply's final
write). When even the exact size would leave less than ``max_tokens`` of the window, the older
turns are summarised by the cheapest catalog model (a priced ``UsageRecord`` with purpose
``summary``); the summary then stands in for them. The last turns and every document or image
of the summarised turns are always sent whole. The reply carries a note saying how many
messages the summary stands in for; a summary that comes back empty fails the reply instead.

A summary rewrites the start of the prompt, and on the 5.5 models every thinking block sent
back is bound to its exact prefix: the replies written before the summary are then sent
without their thinking blocks, in every later request alike (the reply that made the summary
is marked with ``history.SUMMARISED_THROUGH`` in its options; history.request_for reads it), so the
prompt is append-only again from the summary on. See docs/caching.md.

``ContextGuard`` does this before a reply's first call (``fit``) and again before every later
call of the same reply (tool rounds, recovery retries). Within a reply nothing already sent is
changed (its own rounds' thinking is bound to what came before them): a tool round whose new
results would overflow the window has those new results cut, once, before they are first
sent, to a fair share of the room left, with a marker the model reads and a note the user
reads; what is cut is stored cut, so later requests send the same bytes.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async

from chatapp.attachments import prompting
from chatapp.claude import messages as claude_messages
from chatapp.claude.prompt import REFERENCE
from chatapp.claude.token_bounds import content_bound, messages_bound, reference_bound, text_bound
from chatapp.claude.types import UpstreamError
from chatapp.models import (
    ClaudeModel,
    Message,
    MessageStatus,
    Role,
)
from chatapp.replies import history, summaries
from chatapp.replies.generation import Refit
from chatapp.replies.policy import ReplyPolicy

logger = logging.getLogger(__name__)

Notify = Callable[[str], Awaitable[None]]

# Room for what is estimated rather than counted (tool definitions, role markers).
SAFETY_TOKENS = 2048
_COUNTED_STATUSES = (MessageStatus.COMPLETE, MessageStatus.CANCELLED, MessageStatus.INTERRUPTED)
COUNT_CONCURRENCY = 8
# Cutting tool results: characters removed per token over (no tokenizer packs more), at most
# this many tries (each one exact count), and what a cut result keeps at the least.
CUT_CHARS_PER_TOKEN = 4
CUT_TRIES = 3
MIN_RESULT_CHARS = 200
CUT_MARKER = (
    "\n\n[… cut here: {left:,} of {total:,} characters were left out so that the "
    "conversation fits the model's context window.]"
)


def reply_token_count(content: list[dict[str, Any]], output_tokens: int) -> int:
    """What a finished reply adds to later prompts: what it wrote plus its tool results."""
    # The results by the same upper bound as everything else not counted (UTF-8 bytes ÷ 3):
    # characters ÷ 3 fell short for text outside ASCII, and this number is taken as exact.
    results = sum(
        text_bound(str(block.get("content", "")))
        for block in content
        if block.get("type") == "tool_result"
    )
    return output_tokens + results


# --- Sizing (sync: run through database_sync_to_async) -------------------------------------


@dataclass
class Sizing:
    """What one reply's prompt is made of, read before its first call."""

    reply: Message
    history: list[Message]  # the messages sent whole (after any summary), oldest first
    window: int
    attachment_tokens: dict[int, int]  # stored counts of the conversation's sent attachments
    fixed: int  # system prompt, summary turn (with the documents it keeps), tools, markers
    model: ClaudeModel | None = None  # the reply's model row (None: not in the catalog)
    rows: list[Message] | None = None  # every earlier message on screen, for the request

    def size_of(self, message: Message) -> int:
        """Its count when it has one, else the upper bound of its content; a question's new
        instructions (a system message after it) by their bound on top."""
        instructions = text_bound(message.options.get(history.SYSTEM_PROMPT_OPTION) or "")
        if message.token_count is not None:
            return message.token_count + instructions
        return content_bound(message.content, self.attachment_tokens) + instructions

    def size(self) -> int:
        return self.fixed + sum(self.size_of(m) for m in self.history)


def _history(rows: list[Message]) -> list[Message]:
    return [m for m in rows if m.role == Role.USER or m.status in _COUNTED_STATUSES]


def read_sizing(
    reply_id: int, opened: tuple[Message, ClaudeModel | None] | None = None
) -> Sizing:
    """What sizing a reply's request reads: its reply, model, stored counts and history (the
    reply's plan builds the request from the same rows, chatapp/replies/plan.py). ``opened``:
    the reply (with its conversation) and its model as the write that opened it has them,
    not read again."""
    if opened is None:
        reply = Message.objects.select_related("conversation").get(pk=reply_id)
        model = ClaudeModel.objects.filter(pk=reply.model).first()
    else:
        reply, model = opened
    conversation = reply.conversation
    sent = prompting.sent_rows(conversation)
    stored = dict(sent.values_list("pk", "tokens"))
    summary = sum(
        content_bound(turn.content, stored) for turn in history.summary_turns(conversation)
    )
    fixed = text_bound(conversation.system_prompt) + summary + SAFETY_TOKENS
    window = model.context_window if model else 200_000
    rows = list(history.history_before(conversation, reply.pk))
    return Sizing(reply, _history(rows), window, stored, fixed, model, rows)


def save_counts(counts: Mapping[int, int]) -> None:
    """Keep the exact counts made for a reply (sync: inside the reply's final write)."""
    rows = [Message(pk=message_id, token_count=tokens) for message_id, tokens in counts.items()]
    Message.objects.bulk_update(rows, ["token_count"])


async def _count_message(model: str, message: Message, sizing: Sizing) -> int:
    """A question's exact size: its own blocks counted by the API, its attachments (sent in
    this turn) by the counts stored with them."""
    own = [
        block
        for block in message.content
        if block.get("type") != REFERENCE
        and not (block.get("type") == "text" and not str(block.get("text", "")).strip())
    ]
    attached = sum(
        reference_bound(block, sizing.attachment_tokens)
        for block in message.content
        if block.get("type") == REFERENCE
    )
    if message.role != Role.USER or not own:
        return content_bound(own) + attached if own else attached
    try:
        counted = await claude_messages.count_tokens(
            {"model": model, "messages": [{"role": "user", "content": own}]}
        )
    except UpstreamError as exc:  # counting is free but can fail: the bound stands in
        logger.warning("count_tokens failed (%s); using the bound", exc)
        counted = content_bound(own)
    return counted + attached


_TOO_LONG_IN_TOOLS = (
    "This reply's tool results no longer fit the model's context window, even with its newest "
    "results cut short. Ask for less at a time, start a new chat or choose a model with a "
    "larger context window."
)


def _cut(text: str, share: int) -> str:
    """``text`` in at most ``share`` characters (or the marker alone), the marker included."""
    keep = max(0, share - len(CUT_MARKER.format(left=len(text), total=len(text))))
    return text[:keep] + CUT_MARKER.format(left=len(text) - keep, total=len(text))


def _fair_share(lengths: dict[str, int], room: int) -> int:
    """The largest cap such that the results, each cut to it, add up to at most ``room``."""
    cap = room // max(1, len(lengths))
    for count, length in enumerate(sorted(lengths.values())):
        if length > cap:
            break
        room -= length
        cap = room // max(1, len(lengths) - count - 1)
    return max(MIN_RESULT_CHARS, cap)


class ContextGuard:
    """Keeps every request of one reply within the model's context window minus max_tokens.

    ``fit`` sizes the conversation before the first call (summarising older turns if needed);
    calling the guard with the request's base and the request about to be sent does it again
    before every later call, adding the reply's own rounds by their upper bound and counting
    exactly only near the limit, and cutting only the newest tool results (never anything
    sent already). ``counts`` are the exact counts made, for the final write.
    """

    def __init__(self, reply_id: int, *, notify: Notify, policy: ReplyPolicy) -> None:
        self.reply_id = reply_id
        self._policy = policy  # the messages a summary keeps whole, the request's defaults
        self._notify = notify
        self.counts: dict[int, int] = {}
        self._window = 200_000
        self._base_size = 0  # tokens of the conversation part (an upper bound, or exact)
        self._measured: tuple[int, int] | None = None  # (exact tokens, own bound) last counted
        self._results: dict[str, str] = {}  # tool results as the tools gave them, by call id
        self._cut_names: dict[str, str] = {}  # the tool of every result cut, by call id
        # The prompt of the call just fitted, in tokens (exact, or an upper bound): what the
        # budget reserves for it without a count of its own (``reservations.CallBudget``).
        self.size: int | None = None

    # --- before the first call ----------------------------------------------------------------

    async def fit(self, request: dict[str, Any], sizing: Sizing | None = None) -> dict[str, Any]:
        """``request``, or a smaller one after summarising older turns; ``UpstreamError``
        (``context_too_long``) when even that cannot fit. ``sizing``: read already, in the
        same call as the request (else read here)."""
        if sizing is None:
            sizing = await database_sync_to_async(read_sizing)(self.reply_id)
        self._window = sizing.window
        budget = self._budget(request)
        self._base_size = sizing.size()
        if self._base_size <= budget:  # clearly below the window: no round trip
            return request
        await self._count_uncounted(sizing, request["model"])
        self._base_size = sizing.size()
        if self._base_size <= budget:
            return request
        older, _recent = summaries.split(sizing.history, self._policy.keep_messages)
        if older:
            await self._notify("Summarising earlier turns to fit the model's context window…")
            await summaries.summarise(sizing.reply, older)
            request = await database_sync_to_async(history.request_for)(
                self.reply_id, default_max_tokens=self._policy.defaults.max_output_tokens,
                prompt_policy=self._policy.prompt,
            )
        self._base_size = await claude_messages.count_tokens(request) + SAFETY_TOKENS
        if self._base_size > budget:
            raise UpstreamError("context_too_long", summaries.TOO_LONG)
        return request

    def _budget(self, request: dict[str, Any]) -> int:
        return self._window - request["max_tokens"]

    async def _count_uncounted(self, sizing: Sizing, model: str) -> None:
        """Count the messages known only by their bound (a few at a time); keep the counts."""
        gate = asyncio.Semaphore(COUNT_CONCURRENCY)

        async def count(message: Message) -> None:
            async with gate:
                message.token_count = await _count_message(model, message, sizing)
            self.counts[message.pk] = message.token_count

        await asyncio.gather(*(count(m) for m in sizing.history if m.token_count is None))

    # --- before every later call --------------------------------------------------------------

    async def __call__(self, base: dict[str, Any], request: dict[str, Any]) -> Refit:
        """What must change so that ``request`` (``base`` and the reply's own rounds) fits.

        Only what this call sends for the first time may change: the base and the reply's
        earlier rounds were sent already (and their thinking is bound to them), so older turns
        are not summarised here and a result sent once is never cut afterwards."""
        budget = self._budget(request)
        own = request["messages"][len(base["messages"]) :]
        own_bound = messages_bound(own)
        if self._measured is not None and own_bound >= self._measured[1]:
            size = self._measured[0] + own_bound - self._measured[1]
        else:
            size = self._base_size + own_bound
        if size <= budget:
            self.size = size
            return Refit()
        size = await self._count(request, own_bound)
        if size <= budget:
            return Refit()
        return await self._cut_results(request, own, size - budget)

    async def _count(self, request: dict[str, Any], own_bound: int) -> int:
        # The request as sent, tools included: nothing is left to estimate.
        tokens = await claude_messages.count_tokens(request)
        self._measured = (tokens, own_bound)
        self.size = tokens
        return tokens

    async def _cut_results(
        self, request: dict[str, Any], own: list[dict[str, Any]], over: int
    ) -> Refit:
        """Cut the longest of the new tool results (the last turn, not sent yet) to a fair
        share of the room left; the results of earlier rounds were sent and stay as they are."""
        newest = own[-1].get("content", []) if own and own[-1].get("role") == "user" else []
        results = {
            b["tool_use_id"]: b["content"]
            for b in newest
            if isinstance(b, dict)
            and b.get("type") == "tool_result"
            and isinstance(b.get("content"), str)
        }
        for use_id, text in results.items():
            self._results.setdefault(use_id, text)
        cut: dict[str, str] = {}
        for _try in range(CUT_TRIES):
            lengths = {use_id: len(text) for use_id, text in results.items()}
            # Half of what would just fit: what is cut stays cut, so the rounds that may follow
            # need room of their own (each cut leaves as much again).
            room = (sum(lengths.values()) - over * CUT_CHARS_PER_TOKEN) // 2
            cap = _fair_share(lengths, room)
            longer = {use_id for use_id, length in lengths.items() if length > cap}
            if room <= 0 or not longer:
                break
            for use_id in longer:
                results[use_id] = cut[use_id] = _cut(self._results[use_id], cap)
            request = {**request, "messages": _with_results(request["messages"], cut)}
            size = self.size = await claude_messages.count_tokens(request)
            self._measured = None  # the rounds changed: size them afresh next time
            over = size - self._budget(request)
            if over <= 0:
                return Refit(cut=cut, note=self._cut_note(own, cut))
        raise UpstreamError("context_too_long", _TOO_LONG_IN_TOOLS)

    def _cut_note(self, own: list[dict[str, Any]], cut: dict[str, str]) -> str:
        """One note for every result of the reply cut so far (it replaces the earlier one)."""
        names = {
            b.get("id"): b.get("name", "a tool")
            for m in own
            for b in m.get("content", [])
            if isinstance(b, dict) and b.get("type") == "tool_use"
        }
        for use_id in cut:
            self._cut_names[use_id] = names.get(use_id, "a tool")
        parts = [
            f"{name} ({len(self._results[use_id]):,} characters)"
            for use_id, name in self._cut_names.items()
        ]
        return (
            "Tool results were too long for the model's context window and were cut short "
            f"before Claude read them: {', '.join(parts)}."
        )


def _with_results(messages: list[dict[str, Any]], cut: Mapping[str, str]) -> list[dict[str, Any]]:
    def block(b: dict[str, Any]) -> dict[str, Any]:
        if isinstance(b, dict) and b.get("type") == "tool_result" and b.get("tool_use_id") in cut:
            return {**b, "content": cut[b["tool_use_id"]]}
        return b

    return [
        {**m, "content": [block(b) for b in m["content"]]}
        if isinstance(m.get("content"), list)
        else m
        for m in messages
    ]
