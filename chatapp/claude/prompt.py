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

The parts of a request with a concern of their own: ``prompt_attachments.py`` (the blocks
sent for files) and ``prompt_cache.py`` (cache breakpoints and the TTL).
"""

import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from anthropic.types import TextCitationParam

from chatapp.claude.prompt_attachments import REFERENCE, PromptAttachment, resolved
from chatapp.claude.prompt_cache import apply_breakpoints, plan_breakpoints

_THINKING = frozenset({"thinking", "redacted_thinking"})

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
                content.extend(resolved(block, attachments) if is_reference else [block])
            yield replace(turn, content=content)
        else:
            yield turn



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
    first_ttl: str | None = None,
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
    apply_breakpoints(messages, plan_breakpoints(messages, cache_ttl, first_ttl))
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
