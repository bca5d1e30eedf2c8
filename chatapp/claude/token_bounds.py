"""Upper bounds on a prompt's tokens, from what is at hand: no call to the API.

A token per 3 UTF-8 bytes of text (English runs 3–4 characters a token, code about as many,
CJK 3 bytes a character and about a token each), a marker's worth per block, documents and
images by the counts stored with them. ``compaction`` decides with these whether a prompt is
clearly below the context window; ``budgets`` whether a call clearly fits what is left of the
month. Both count exactly (``count_tokens``) only near their limit.
"""

import json
import math
from collections.abc import Mapping
from typing import Any

from chatapp.claude.prompt_attachments import REFERENCE

# The local upper bound: a token per 3 UTF-8 bytes holds for English (3–4 characters a token),
# code and CJK (3 bytes a character, about a token each); markers of each block on top.
BOUND_BYTES_PER_TOKEN = 3
BLOCK_MARKER_TOKENS = 8
# An image never costs more than the high tier's cap (docs/images.md); a document's stored
# count may come from a model with the older tokenizer, which yields up to a third fewer.
IMAGE_CAP_TOKENS = 4784
DOCUMENT_MARGIN = 4 / 3
# Blocks whose size their JSON does not bound: a PDF's pages are sent as images too.
_OPAQUE = frozenset({"document"})
# A typical count, not a bound: about 4 characters a token (English prose). For numbers that
# stand in for a count the API never gave and where erring high helps nobody: output a stream
# produced before it was cut (billed, marked estimated), a document when counting failed.
GUESS_CHARS_PER_TOKEN = 4


def token_guess(chars: int) -> int:
    """A typical token count for ``chars`` characters of text (rounded up); not a bound —
    where a number must not fall short, use ``text_bound``."""
    return math.ceil(chars / GUESS_CHARS_PER_TOKEN)


def text_bound(text: str) -> int:
    """An upper bound on the tokens of ``text`` (see ``BOUND_BYTES_PER_TOKEN``)."""
    return math.ceil(len(text.encode("utf-8", "replace")) / BOUND_BYTES_PER_TOKEN)


def reference_bound(block: dict[str, Any], attachment_tokens: Mapping[int, int]) -> int:
    stored = attachment_tokens.get(block.get("attachment_id"))
    if stored is None:  # removed: a one-line note stands in for it
        return text_bound(str(block.get("name", ""))) + 40
    if block.get("kind") == "image":
        return stored or IMAGE_CAP_TOKENS
    return math.ceil(stored * DOCUMENT_MARGIN) + text_bound(str(block.get("name", "")))


def block_bound(block: dict[str, Any], attachment_tokens: Mapping[int, int]) -> int:
    """An upper bound on one content block's tokens, from what is at hand (no API)."""
    kind = block.get("type")
    if kind == "text":
        tokens = text_bound(str(block.get("text", "")))
    elif kind == "thinking":
        tokens = text_bound(str(block.get("thinking", "")))
    elif kind in ("tool_use", "server_tool_use"):
        tokens = text_bound(str(block.get("name", "")) + json.dumps(block.get("input", {})))
    elif kind == "tool_result":
        tokens = content_bound(block.get("content", ""), attachment_tokens)
    elif kind == REFERENCE:
        tokens = reference_bound(block, attachment_tokens)
    elif kind == "image":
        tokens = IMAGE_CAP_TOKENS
    else:  # inline documents, redacted thinking, server tool results: their JSON
        tokens = text_bound(json.dumps(block, ensure_ascii=False))
    return tokens + BLOCK_MARKER_TOKENS


def content_bound(content: Any, attachment_tokens: Mapping[int, int] | None = None) -> int:
    """An upper bound on the tokens of a message's (or tool result's) content."""
    if isinstance(content, str):
        return text_bound(content)
    blocks = [b for b in content or [] if isinstance(b, dict)]
    return sum(block_bound(b, attachment_tokens or {}) for b in blocks) + BLOCK_MARKER_TOKENS


def messages_bound(messages: list[dict[str, Any]]) -> int:
    """An upper bound on API messages as sent (attachments already resolved)."""
    return sum(content_bound(m.get("content", "")) for m in messages)


def request_bound(request: dict[str, Any]) -> int | None:
    """An upper bound on a whole request's prompt (system, tools, messages), or None when it
    carries documents: those are bounded only by the counts stored with them."""
    blocks = [
        block
        for message in request.get("messages", [])
        if isinstance(message.get("content"), list)
        for block in message["content"]
        if isinstance(block, dict)
    ]
    if any(block.get("type") in _OPAQUE for block in blocks):
        return None
    system = request.get("system", "")
    fixed = text_bound(json.dumps([system, request.get("tools", [])], ensure_ascii=False))
    return fixed + messages_bound(request.get("messages", []))
