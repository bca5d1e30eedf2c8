"""A conversation → one Messages API request. Pure functions, no I/O.

A conversation is **append-only**: whatever one request sent, every later request of the
conversation sends again byte for byte, in the same place. The prompt cache needs it (it reads
a prefix that matches exactly), and on the 5.5 models every thinking block sent back is bound
to its exact prefix (system, tools, every earlier message and block): a rewritten prefix makes
the request a 400. So blocks are sent exactly as stored, in order, with no timestamps or ids
mixed in; a document or image stays in the question it was attached to; citations stay on the
reply text they came with; a change of instructions is appended as a mid-conversation system
message rather than written over the top-level ``system``; cache breakpoints are added to
copies, never to the stored blocks. The rules and their reasons are in docs/caching.md.
"""

import base64
import copy
import statistics
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from anthropic.types import TextCitationParam

from chatapp.claude.pricing import PriceRates

CACHE_5M = {"type": "ephemeral"}
CACHE_1H = {"type": "ephemeral", "ttl": "1h"}
MAX_BREAKPOINTS = 4
# Blocks the API does not let carry a cache_control.
_UNMARKABLE = {"thinking", "redacted_thinking"}
_THINKING = frozenset({"thinking", "redacted_thinking"})
# The stored stand-in for an attachment in a user message's content (never sent as such).
REFERENCE = "attachment"
PDF = "application/pdf"

# How a stored reply takes part in later requests (``Turn.outcome``).
ANSWERED = "answered"  # sent back as it is stored
FAILED = "failed"  # no reply to keep (an error, stopped before any text): left out
REFUSED = "refused"  # stop_reason "refusal": left out together with the question it refused


@dataclass(frozen=True)
class Turn:
    """One stored message as the prompt sees it.

    ``instructions``: on a question, the system prompt that took effect with it (it differs
    from the one before); sent as a mid-conversation system message right after it.
    ``keep_thinking``: False on a reply whose prefix was rewritten after it was written (older
    turns summarised, a file removed): its thinking blocks are bound to a prefix that no longer
    exists, so they are left out of it, in every later request alike.
    """

    role: str  # "user" or "assistant"
    content: list[dict[str, Any]]
    outcome: str = ANSWERED
    instructions: str | None = None
    keep_thinking: bool = True


def _sendable(turn: Turn) -> bool:
    """Empty replies (failed before any text, refusals) are left out of the history."""
    return any(
        block.get("type") != "text" or block.get("text", "").strip() for block in turn.content
    )


def kept_turns(turns: Iterable[Turn]) -> list[Turn]:
    """The turns later requests carry: a failed or empty reply is left out (its question stays,
    and the next question follows it as a user turn of its own, so nothing already sent
    changes); a refused reply is left out with the question it refused (resending it would be
    refused again). Instructions that came with a refused question move to the next one."""
    kept: list[Turn] = []
    carried: str | None = None
    for turn in turns:
        if turn.role == "user":
            if carried is not None and turn.instructions is None:
                turn = replace(turn, instructions=carried)
            carried = None
            kept.append(turn)
        elif turn.outcome == REFUSED:
            if kept and kept[-1].role == "user":
                carried = kept.pop().instructions
        elif turn.outcome == ANSWERED and _sendable(turn):
            kept.append(turn)
    return kept


def _without_thinking(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [block for block in content if block.get("type") not in _THINKING]


def _citation_fields() -> dict[str, frozenset[str]]:
    """The fields a request's citation may carry, by citation type (from the SDK's types)."""
    fields = {}
    for param in typing.get_args(TextCitationParam):
        (kind,) = typing.get_args(typing.get_type_hints(param)["type"])
        fields[kind] = frozenset(param.__required_keys__ | param.__optional_keys__)
    return fields


# A response's citation has fields a request's does not take (``file_id``); the same fields
# are dropped every time, so the reply is sent the same way in every request.
_CITATION_FIELDS = _citation_fields()


def _as_sent(block: dict[str, Any]) -> dict[str, Any]:
    """A reply's block as requests carry it: citations with the fields a request takes."""
    citations = block.get("citations")
    if block.get("type") != "text" or not isinstance(citations, list):
        return block
    kept = [
        {k: v for k, v in c.items() if k in _CITATION_FIELDS[c.get("type")]}
        if isinstance(c, dict) and c.get("type") in _CITATION_FIELDS else c
        for c in citations
    ]
    return {**block, "citations": kept} if kept != citations else block


# What a system message says when the system prompt was emptied (empty text is refused).
NO_INSTRUCTIONS = "The earlier system instructions no longer apply."


def system_message(text: str) -> dict[str, Any]:
    """A mid-conversation system message: instructions that apply from this point on."""
    return {"role": "system", "content": [{"type": "text", "text": text}]}


def alternate(turns: Iterable[Turn]) -> list[dict[str, Any]]:
    """The API messages for the kept turns, one (or, for a tool loop, several) per turn.

    Nothing is joined: two user turns in a row (a question whose reply failed, then the next
    one) stay two messages, which the API reads as one turn, so the first is sent exactly as
    it was the first time. A question with new instructions is followed by a system message.
    """
    messages: list[dict[str, Any]] = []
    for turn in kept_turns(turns):
        content = turn.content if turn.keep_thinking else _without_thinking(turn.content)
        if turn.role == "assistant":
            segments = expand_reply([_as_sent(block) for block in content])
        else:
            segments = [{"role": turn.role, "content": list(content)}]
        for segment in segments:
            if segment["content"] and (messages or segment["role"] == "user"):
                messages.append(segment)
        if turn.role == "user" and turn.instructions is not None and messages:
            messages.append(system_message(turn.instructions or NO_INSTRUCTIONS))
    # A trailing assistant turn would be read as a prefill, which current models reject.
    while messages and messages[-1]["role"] == "assistant":
        messages.pop()
    return messages


def expand_reply(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A stored reply as the messages the API saw: a tool loop is stored as one reply whose
    tool_result blocks (the user side of the loop) split it into alternating turns."""
    messages: list[dict[str, Any]] = []
    for block in content:
        role = "user" if block.get("type") == "tool_result" else "assistant"
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].append(block)
        else:
            messages.append({"role": role, "content": [block]})
    return messages


# --- Attachments ------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptAttachment:
    """An attachment as a prompt sends it: its API block, or why it cannot be sent."""

    kind: str  # "document" or "image"
    name: str
    block: dict[str, Any] | None = None
    note: str = ""


def attachment_reference(attachment_id: int, kind: str, name: str, **facts: Any) -> dict:
    """The block stored in a user message for an attachment (its bytes stay in files)."""
    return {"type": REFERENCE, "attachment_id": attachment_id, "kind": kind, "name": name,
            **facts}


def document_block(*, title: str, media_type: str, data: bytes | str) -> dict[str, Any]:
    """A document with citations on: a PDF as base64, anything else as its text."""
    if media_type == PDF:
        encoded = base64.b64encode(data).decode("ascii")
        source = {"type": "base64", "media_type": PDF, "data": encoded}
    else:
        source = {"type": "text", "media_type": "text/plain", "data": data}
    return {"type": "document", "source": source, "title": title, "citations": {"enabled": True}}


def image_block(*, media_type: str, data: bytes) -> dict[str, Any]:
    encoded = base64.b64encode(data).decode("ascii")
    return {"type": "image", "source": {"type": "base64", "media_type": media_type,
                                        "data": encoded}}


def _note(text: str) -> dict[str, Any]:
    return {"type": "text", "text": f"[{text}]"}


def _resolved(block: dict[str, Any], attachments: Mapping[int, PromptAttachment]) -> list[dict]:
    """What a stored reference becomes in its turn: the document or image itself, where it was
    attached (a document moved to an earlier turn would rewrite what was already sent)."""
    found = attachments.get(block.get("attachment_id"))
    if found is None:
        return [_note(f"The {block.get('kind', 'file')} “{block.get('name', '')}” attached "
                      "here has been removed.")]
    if found.block is None:
        return [_note(found.note)]
    return [found.block]


def resolve_references(
    turns: Iterable[Turn], attachments: Mapping[int, PromptAttachment]
) -> Iterator[Turn]:
    """Turns with every attachment reference replaced by what is sent for it. Replies keep
    their citations: they were sent with them, and they point at documents by their place in
    the request, which only ever grows at its end (a user turn never gets any: the API refuses
    citations on text in a user message)."""
    for turn in turns:
        if turn.role == "user" and any(block.get("type") == REFERENCE for block in turn.content):
            content: list[dict[str, Any]] = []
            for block in turn.content:
                is_reference = block.get("type") == REFERENCE
                content.extend(_resolved(block, attachments) if is_reference else [block])
            yield replace(turn, content=content)
        else:
            yield turn


def _last_document(messages: list[dict[str, Any]]) -> tuple[int, int] | None:
    """(message, block) of the newest document block: the end of the largest stable part."""
    for m in range(len(messages) - 1, -1, -1):
        content = messages[m]["content"]
        for b in range(len(content) - 1, -1, -1):
            if content[b].get("type") == "document":
                return m, b
    return None


# --- Cache breakpoints and their TTL ---------------------------------------------------------


@dataclass(frozen=True)
class Breakpoint:
    message: int  # index into messages
    block: int  # index into that message's content
    ttl: str  # "5m" or "1h"


def order_breakpoints(points: Iterable[Breakpoint]) -> list[Breakpoint]:
    """At most four, in prompt order, and no 1-hour breakpoint after a 5-minute one.

    The API refuses a fifth breakpoint and a 1h after a 5m (400). When there are too many, the
    first (the documents) and the last ones (the newest history) are kept; a 1h that would
    follow a 5m is demoted to 5m rather than moved, so the prefix it ends is still cached.
    """
    unique = sorted({(p.message, p.block): p for p in points}.values(),
                    key=lambda p: (p.message, p.block))
    if len(unique) > MAX_BREAKPOINTS:
        unique = [unique[0], *unique[-(MAX_BREAKPOINTS - 1):]]
    ordered, seen_short = [], False
    for point in unique:
        ttl = "5m" if seen_short else point.ttl
        seen_short = seen_short or ttl == "5m"
        ordered.append(Breakpoint(point.message, point.block, ttl))
    return ordered


def _last_markable(content: list[dict[str, Any]]) -> int | None:
    for index in range(len(content) - 1, -1, -1):
        if content[index].get("type") not in _UNMARKABLE:
            return index
    return None


def plan_breakpoints(messages: list[dict[str, Any]], ttl: str) -> list[Breakpoint]:
    """Where the cache breakpoints go (see docs/caching.md):

    - on the newest document block: the documents are the large part of the prompt, and
      this one entry serves every later question even when the moving breakpoints below are
      more than about 20 blocks (the API's look-back) past the last entry;
    - at the end of the previous turn: the moving breakpoint, which finds the history cached
      by the last request however many blocks the new question brings;
    - on the newest turn: the next request reads everything up to here.
    """
    candidates = []
    document = _last_document(messages)
    if document is not None:
        candidates.append(document)
    for index in (len(messages) - 2, len(messages) - 1):
        if index >= 0:
            block = _last_markable(messages[index]["content"])
            if block is not None:
                candidates.append((index, block))
    return order_breakpoints(Breakpoint(m, b, ttl) for m, b in candidates)


def _apply_breakpoints(messages: list[dict[str, Any]], points: list[Breakpoint]) -> None:
    """Marks copies of the blocks: the stored content is never changed."""
    for point in points:
        message = messages[point.message]
        content = list(message["content"])
        marked = copy.copy(content[point.block])
        marked["cache_control"] = dict(CACHE_1H if point.ttl == "1h" else CACHE_5M)
        content[point.block] = marked
        messages[point.message] = {"role": message["role"], "content": content}


# A question this much before an entry expires may still find it gone (the reply before it
# ran, the clock of the cache is not ours): the pace is judged with this margin.
TTL_MARGIN = timedelta(seconds=30)
TTL_SPANS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1)}
PACE_GAPS = 3


def question_pace(asked_at: Sequence[datetime]) -> timedelta | None:
    """The median of the last few gaps between questions (None before the second one)."""
    times = sorted(asked_at)[-(PACE_GAPS + 1):]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    return statistics.median(gaps) if gaps else None


def choose_ttl(asked_at: Sequence[datetime], rates: PriceRates | None) -> str:
    """5 minutes, unless this conversation's pace makes the 1-hour cache cheaper.

    With questions every g minutes and a cached prefix of P tokens: for g under 5 minutes
    both TTLs read (5m writes cost less); over an hour neither survives (5m writes cost less);
    in between a 5m entry has expired at every question and is written again (w5·P each
    time), while a 1h entry is written once and then read (w1h·P + r·P for two questions).
    The 1h cache wins when w1h + r < 2·w5 — with the usual rates 2 + 0.1 < 2.5.
    The arithmetic is in docs/caching.md.
    """
    pace = question_pace(asked_at)
    if pace is None or rates is None:
        return "5m"
    if pace <= TTL_SPANS["5m"] - TTL_MARGIN or pace > TTL_SPANS["1h"] - TTL_MARGIN:
        return "5m"
    two_questions_1h = rates.cache_write_1h + rates.cache_read
    return "1h" if two_questions_1h < 2 * rates.cache_write_5m else "5m"


def _after_removed_files(
    turns: list[Turn], attachments: Mapping[int, PromptAttachment]
) -> list[Turn]:
    """A file removed after it was sent rewrites the question it was in (a note stands in for
    it): the replies after that question lose their thinking blocks, bound to the old bytes."""
    removed = False
    kept = []
    for turn in turns:
        if turn.role == "user":
            removed = removed or any(
                block.get("type") == REFERENCE and block.get("attachment_id") not in attachments
                for block in turn.content
            )
        elif removed:
            turn = replace(turn, keep_thinking=False)
        kept.append(turn)
    return kept


def _changes_only(turns: list[Turn], system_prompt: str) -> list[Turn]:
    """Instructions only where they change what applies (the first question records the
    prompt it was asked under, which is the top-level ``system`` already)."""
    applying, changed = system_prompt, []
    for turn in turns:
        if turn.instructions is not None:
            if turn.instructions == applying:
                turn = replace(turn, instructions=None)
            else:
                applying = turn.instructions
        changed.append(turn)
    return changed


def _single_system(turns: list[Turn], system_prompt: str) -> tuple[list[Turn], str]:
    """For a model that takes no system message: the latest instructions as the top-level
    ``system`` (a change then misses the cache, as it always did on these models; none of
    them binds thinking blocks to their prefix)."""
    latest = system_prompt
    for turn in turns:
        if turn.instructions is not None:
            latest = turn.instructions
    return [replace(turn, instructions=None) for turn in turns], latest


def build_request(
    *,
    model: str,
    turns: Iterable[Turn],
    max_tokens: int,
    system_prompt: str = "",
    attachments: Mapping[int, PromptAttachment] | None = None,
    cache_ttl: str = "5m",
    previous_message_id: str = "",
    system_messages: bool = True,
) -> dict[str, Any]:
    """The keyword arguments for ``messages.create``/``messages.stream``.

    ``system_prompt`` is the one the conversation started with; later changes come with the
    questions they took effect with (``Turn.instructions``) and are sent as mid-conversation
    system messages where ``system_messages`` (the model takes them), else the latest one is
    the top-level ``system``. Order: system → turns, each document and image in the question
    it was attached to. Everything before the newest turn is byte-identical from one request
    to the next (only the cache_control marks move, and they are not part of the cached
    prefix). ``attachments`` (by id, in upload order) resolves the references in user turns.
    """
    attachments = attachments or {}
    turns = _changes_only(_after_removed_files(kept_turns(turns), attachments), system_prompt)
    if not system_messages:
        turns, system_prompt = _single_system(turns, system_prompt)
    messages = alternate(resolve_references(turns, attachments))
    _apply_breakpoints(messages, plan_breakpoints(messages, cache_ttl))
    request: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": messages}
    if system_prompt.strip():
        request["system"] = [{"type": "text", "text": system_prompt}]
    # Cache diagnostics from the first turn on (null: nothing to compare with yet); the API
    # then says in `diagnostics.cache_miss_reason` where the prefix diverged.
    request["diagnostics"] = {"previous_message_id": previous_message_id or None}
    return request


# What a new question says to go on with a reply cut short, by the reply's stop_reason: the
# models that bind thinking refuse an assistant prefill, so the reply is left as it is and
# continued in a turn of its own.
CONTINUE_TEXTS = {
    "max_tokens": "Your previous reply was cut off at the output limit. Continue it exactly "
    "where it stopped, without repeating anything and without any preamble.",
    "model_context_window_exceeded": "Your previous reply was cut off because the "
    "conversation filled the context window. Continue it exactly where it stopped, without "
    "repeating anything and without any preamble.",
}
CONTINUE_DEFAULT = "Continue your previous reply exactly where it stopped, without repeating "\
    "anything and without any preamble."


def continuation_text(stop_reason: str | None) -> str:
    """The text of the user turn that continues a reply cut short (``stop_reason``
    ``max_tokens`` or ``model_context_window_exceeded``): store it as a new question."""
    return CONTINUE_TEXTS.get(stop_reason or "", CONTINUE_DEFAULT)


def continuation_content(stop_reason: str | None) -> list[dict[str, Any]]:
    """The stored content of that question (``user_content`` of ``continuation_text``)."""
    return user_content(continuation_text(stop_reason))


def count_request(*, model: str, block: dict[str, Any]) -> dict[str, Any]:
    """A count_tokens request for one content block (an attachment's cost in tokens)."""
    return {"model": model, "messages": [{"role": "user", "content": [block]}]}


def title_request(*, model: str, question: str, answer: str) -> dict[str, Any]:
    """A short, cheap request for a conversation title."""
    excerpt = f"User: {question[:1500]}\n\nAssistant: {answer[:1500]}"
    return {
        "model": model,
        "max_tokens": 24,
        "system": [
            {
                "type": "text",
                "text": "You name conversations. Reply with a title of at most six words, "
                "no quotes, no punctuation at the end.",
            }
        ],
        "messages": [{"role": "user", "content": [{"type": "text", "text": excerpt}]}],
    }


def user_content(text: str) -> list[dict[str, Any]]:
    """The stored content of a plain text user message."""
    return [{"type": "text", "text": text}]
