"""A request's prompt as the flat list of blocks the prompt cache and the counter work on.

The order is the one the API hashes in: tools → system → messages.  Every block knows its
token count, the JSON form that is hashed (without its cache_control, which marks a breakpoint
but is not prompt content) and the TTL of its breakpoint, if it is one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import tokens
from .errors import invalid
from .models import ModelSpec

MAX_BREAKPOINTS = 4
TTLS = ("5m", "1h")
# Blocks automatic caching (a top-level cache_control) never lands on.
_UNCACHEABLE_TYPES = {"thinking", "redacted_thinking"}


@dataclass(frozen=True)
class PromptBlock:
    path: str  # where the block sits in the request, e.g. "messages.2.content.0"
    section: str  # "tools", "system" or "messages"
    canonical: str  # the block's content (and role) as hashed, without cache_control
    context: str  # the section's cache-relevant settings, hashed along with every block
    tokens: int
    kind: str  # the block's `type` ("tool" for a tool definition)
    ttl: str | None = None  # the TTL of its cache breakpoint, if it carries one


def as_blocks(content: Any) -> list[dict[str, Any]]:
    """Message or system content as a list of blocks (a plain string is one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return [block for block in content if isinstance(block, dict)]
    return []


def walk_blocks(blocks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every block, including those nested in tool results and content documents."""
    for block in blocks:
        yield block
        if block.get("type") == "tool_result":
            yield from walk_blocks(as_blocks(block.get("content")))
        elif block.get("type") == "document":
            source = block.get("source") or {}
            if source.get("type") == "content":
                yield from walk_blocks(as_blocks(source.get("content")))


def all_message_blocks(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            yield from walk_blocks(as_blocks(message.get("content")))


def count_kind(body: dict[str, Any], kind: str) -> int:
    return sum(1 for block in all_message_blocks(body) if block.get("type") == kind)


def _citations_on(body: dict[str, Any]) -> bool:
    return any(
        block.get("type") == "document" and (block.get("citations") or {}).get("enabled")
        for block in all_message_blocks(body)
    )


def _contexts(body: dict[str, Any]) -> dict[str, str]:
    """Per section, the request settings that invalidate that section's cache when changed.

    The API documents: citations on/off invalidate system and messages; thinking settings,
    tool_choice and images added or removed invalidate messages.  Hashing them along with
    every block of the section reproduces exactly that.
    """
    citations = _citations_on(body)
    return {
        "tools": "",
        "system": tokens.compact_json({"citations": citations}),
        "messages": tokens.compact_json({
            "citations": citations,
            "thinking": body.get("thinking"),
            "tool_choice": body.get("tool_choice"),
            "images": count_kind(body, "image"),
        }),
    }


def _ttl_of(block: dict[str, Any], path: str) -> str | None:
    control = block.get("cache_control")
    if control is None:
        return None
    where = f"{path}.cache_control" if path else "cache_control"
    if not isinstance(control, dict) or control.get("type") != "ephemeral":
        raise invalid(f"{where}.type: Input should be 'ephemeral'")
    ttl = control.get("ttl", "5m")
    if ttl not in TTLS:
        raise invalid(f"{where}.ttl: Input should be '5m' or '1h'")
    return ttl


def _make_block(
    block: dict[str, Any], path: str, section: str, context: str, count: int, role: Any = None
) -> PromptBlock:
    content = {key: value for key, value in block.items() if key != "cache_control"}
    return PromptBlock(
        path=path,
        section=section,
        canonical=tokens.compact_json({"role": role, "block": content}),
        context=context,
        tokens=count,
        kind=str(block.get("type", "tool" if section == "tools" else "")),
        ttl=_ttl_of(block, path),
    )


def _tool_blocks(body: dict[str, Any], model: ModelSpec, context: str) -> Iterator[PromptBlock]:
    for index, tool in enumerate(body.get("tools") or []):
        if isinstance(tool, dict):
            count = tokens.tool_tokens(tool, model)
            yield _make_block(tool, f"tools.{index}", "tools", context, count)


def _system_blocks(body: dict[str, Any], model: ModelSpec, context: str) -> Iterator[PromptBlock]:
    for index, block in enumerate(as_blocks(body.get("system"))):
        count = tokens.block_tokens(block, model)
        yield _make_block(block, f"system.{index}", "system", context, count)


def _message_blocks(
    body: dict[str, Any], model: ModelSpec, context: str
) -> Iterator[PromptBlock]:
    for m_index, message in enumerate(body.get("messages") or []):
        role = message.get("role")
        for b_index, block in enumerate(as_blocks(message.get("content"))):
            count = tokens.block_tokens(block, model)
            if b_index == 0:  # the message's role markers, counted on its first block
                count += tokens.MESSAGE_OVERHEAD
            path = f"messages.{m_index}.content.{b_index}"
            # The role is part of what is hashed: the same text said by the other side differs.
            yield _make_block(block, path, "messages", context, count, role=role)


def serialise_prompt(body: dict[str, Any], model: ModelSpec) -> list[PromptBlock]:
    """The prompt as blocks in tools → system → messages order."""
    contexts = _contexts(body)
    return [
        *_tool_blocks(body, model, contexts["tools"]),
        *_system_blocks(body, model, contexts["system"]),
        *_message_blocks(body, model, contexts["messages"]),
    ]


def breakpoints(body: dict[str, Any], blocks: list[PromptBlock]) -> list[tuple[int, str]]:
    """(block index, ttl) of every cache breakpoint, validated as the API does.

    A top-level `cache_control` asks for automatic placement on the last cacheable block and
    takes one of the four breakpoint slots.
    """
    found = [(index, block.ttl) for index, block in enumerate(blocks) if block.ttl]
    automatic = _ttl_of(body, "") if "cache_control" in body else None
    if automatic:
        cacheable = [i for i, block in enumerate(blocks) if block.kind not in _UNCACHEABLE_TYPES]
        if cacheable and cacheable[-1] not in {index for index, _ttl in found}:
            found = sorted([*found, (cacheable[-1], automatic)])
    if len(found) > MAX_BREAKPOINTS:
        raise invalid(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {len(found)}."
        )
    _check_ttl_order(blocks, found)
    return [(index, ttl) for index, ttl in found if ttl]


def _check_ttl_order(blocks: list[PromptBlock], found: list[tuple[int, str | None]]) -> None:
    seen_short = False
    for index, ttl in found:
        if ttl == "5m":
            seen_short = True
        elif seen_short:
            raise invalid(
                f"{blocks[index].path}.cache_control.ttl: a ttl='1h' cache_control block must "
                "not come after a ttl='5m' cache_control block. Note that blocks are processed "
                "in the following order: `tools`, `system`, `messages`."
            )
