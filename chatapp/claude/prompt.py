"""A conversation → one Messages API request. Pure functions, no I/O.

The request must be byte-identical up to the newest turn from one call to the next, so that
Anthropic's prompt cache can serve the history: blocks are sent exactly as stored, in order,
with no timestamps or ids mixed in, and cache breakpoints are added to copies, never to the
stored blocks.
"""

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

CACHE_5M = {"type": "ephemeral"}


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
        if not messages and turn.role != "user":
            continue
        if messages and messages[-1]["role"] == turn.role:
            messages[-1]["content"] = messages[-1]["content"] + list(turn.content)
        else:
            messages.append({"role": turn.role, "content": list(turn.content)})
    # A trailing assistant turn would be read as a prefill, which current models reject.
    while messages and messages[-1]["role"] == "assistant":
        messages.pop()
    return messages


def _with_breakpoint(message: dict[str, Any]) -> dict[str, Any]:
    marked = {"role": message["role"], "content": copy.deepcopy(message["content"])}
    marked["content"][-1]["cache_control"] = dict(CACHE_5M)
    return marked


def build_request(
    *,
    model: str,
    turns: Iterable[Turn],
    max_tokens: int,
    system_prompt: str = "",
) -> dict[str, Any]:
    """The keyword arguments for ``messages.create``/``messages.stream``.

    A breakpoint on the newest user turn caches the whole conversation so far: the next
    request repeats it byte for byte and reads it from the cache.
    """
    messages = alternate(turns)
    if messages:
        messages[-1] = _with_breakpoint(messages[-1])
    request: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": messages}
    if system_prompt.strip():
        request["system"] = [{"type": "text", "text": system_prompt}]
    return request


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
