"""A conversation → one Messages API request. Pure functions, no I/O.

The request must be byte-identical up to the newest turn from one call to the next, so that
Anthropic's prompt cache can serve the history: blocks are sent exactly as stored, in order,
with no timestamps or ids mixed in, and cache breakpoints are added to copies, never to the
stored blocks.
"""

import base64
import copy
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from chatapp.claude.pricing import PriceRates

CACHE_5M = {"type": "ephemeral"}
CACHE_1H = {"type": "ephemeral", "ttl": "1h"}
MAX_BREAKPOINTS = 4
# Blocks the API does not let carry a cache_control.
_UNMARKABLE = {"thinking", "redacted_thinking"}
# The stored stand-in for an attachment in a user message's content (never sent as such).
REFERENCE = "attachment"
PDF = "application/pdf"


@dataclass(frozen=True)
class Turn:
    """One stored message as the prompt sees it."""

    role: str  # "user" or "assistant"
    content: list[dict[str, Any]]


def _sendable(turn: Turn) -> bool:
    """Empty replies (failed before any text, refusals) are left out of the history."""
    return any(
        block.get("type") != "text" or block.get("text", "").strip() for block in turn.content
    )


def alternate(turns: Iterable[Turn]) -> list[dict[str, Any]]:
    """Messages that alternate user/assistant and start with the user.

    Two user turns in a row happen when a reply failed; they are joined into one turn so
    the model sees both questions.
    """
    messages: list[dict[str, Any]] = []
    for turn in turns:
        if not _sendable(turn):
            continue
        segments = expand_reply(turn.content) if turn.role == "assistant" else [
            {"role": turn.role, "content": list(turn.content)}
        ]
        for segment in segments:
            if not messages and segment["role"] != "user":
                continue
            if messages and messages[-1]["role"] == segment["role"]:
                messages[-1]["content"] = messages[-1]["content"] + segment["content"]
            else:
                messages.append(segment)
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
    """What a stored reference becomes in its turn. Documents are sent once, at the start of
    the conversation (``_with_documents``), so in their turn they leave nothing behind."""
    found = attachments.get(block.get("attachment_id"))
    if found is None:
        return [_note(f"The {block.get('kind', 'file')} “{block.get('name', '')}” attached "
                      "here has been removed.")]
    if found.block is None:
        return [_note(found.note)]
    return [found.block] if found.kind == "image" else []


def _uncited(block: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in block.items() if key != "citations"}


def resolve_references(
    turns: Iterable[Turn], attachments: Mapping[int, PromptAttachment]
) -> Iterator[Turn]:
    """Turns with every attachment reference replaced by what is sent for it, and earlier
    replies without their citations: those point at documents by position, which a removed
    document shifts, and the cited words are in the reply's text anyway."""
    for turn in turns:
        if turn.role == "assistant" and any("citations" in block for block in turn.content):
            yield Turn(turn.role, [_uncited(block) for block in turn.content])
        elif any(block.get("type") == REFERENCE for block in turn.content):
            content: list[dict[str, Any]] = []
            for block in turn.content:
                is_reference = block.get("type") == REFERENCE
                content.extend(_resolved(block, attachments) if is_reference else [block])
            yield Turn(turn.role, content)
        else:
            yield turn


def _with_documents(
    messages: list[dict[str, Any]], attachments: Mapping[int, PromptAttachment]
) -> int:
    """Put every sendable document at the start of the first user turn; returns how many.

    Tools → system → documents → turns: the documents are the large, stable part of the
    prompt, so they sit right after the system prompt and are cached as one prefix.
    """
    documents = [
        item.block for item in attachments.values()
        if item.kind == "document" and item.block is not None
    ]
    if documents and messages:
        messages[0] = {"role": messages[0]["role"],
                       "content": [*documents, *messages[0]["content"]]}
    return len(documents) if messages else 0


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


def plan_breakpoints(
    messages: list[dict[str, Any]], documents: int, ttl: str
) -> list[Breakpoint]:
    """Where the cache breakpoints go (see docs/caching.md):

    - on the last document block: the documents are written once and read by every question;
    - at the end of the previous turn: the moving breakpoint, which finds the history cached
      by the last request however many blocks the new question brings (the API looks back
      only about 20 blocks from a breakpoint);
    - on the newest turn: the next request reads everything up to here.
    """
    candidates = []
    if documents:
        candidates.append((0, documents - 1))
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


def build_request(
    *,
    model: str,
    turns: Iterable[Turn],
    max_tokens: int,
    system_prompt: str = "",
    attachments: Mapping[int, PromptAttachment] | None = None,
    cache_ttl: str = "5m",
    previous_message_id: str = "",
) -> dict[str, Any]:
    """The keyword arguments for ``messages.create``/``messages.stream``.

    Order: system → documents → turns. Everything before the newest turn is byte-identical
    from one request to the next (only the cache_control marks move, and they are not part
    of the cached prefix), so the documents and the history are read from the cache.
    ``attachments`` (by id, in upload order) resolves the references stored in user turns.
    """
    attachments = attachments or {}
    messages = alternate(resolve_references(turns, attachments))
    documents = _with_documents(messages, attachments)
    _apply_breakpoints(messages, plan_breakpoints(messages, documents, cache_ttl))
    request: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": messages}
    if system_prompt.strip():
        request["system"] = [{"type": "text", "text": system_prompt}]
    if previous_message_id:
        # The API then says in `diagnostics.cache_miss_reason` where the prefix diverged.
        request["diagnostics"] = {"previous_message_id": previous_message_id}
    return request


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
