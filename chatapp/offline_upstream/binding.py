"""Signatures of thinking blocks, and preserved thinking (the check of blocks sent back).

Every thinking / redacted_thinking block the upstream emits carries a signature (for
redacted_thinking: its `data`) naming the model that made it, a digest of its content and a
digest of its **prefix**: the top-level `system`, `tools` and every message and block before
it, in a canonical JSON (keys sorted, `cache_control` left out, a plain-string content read
as one text block, null fields read as absent).  An HMAC over those three keeps it unforgeable.

On every request each thinking block sent back is checked, as the API does:
1. integrity: a signature that is not ours or whose content digest no longer matches the
   block (its text was edited) → 400 "Invalid `signature` in `thinking` block";
2. the model check (every model): a block made by a model the requested one cannot read is
   dropped silently (`model_binding_mismatch`);
3. the prefix check (models with preserved thinking, see models.py): a block whose prefix is
   no longer byte-identical is invalid → the 400 "…bound to a different conversation…" by
   default (accounts created from 2026-08-31 on, which is what the upstream models), or it is
   dropped under `thinking.block_binding.prefix_mismatch_behavior: "drop_block"` (beta header
   `thinking-binding-controls-2026-08-01`), and in Message Batches when the field is unset.
With that beta header the response lists what was dropped in `input_transformations`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from .errors import invalid
from .models import ModelSpec, can_read_thinking
from .prompt import as_blocks
from .tokens import compact_json

BINDING_BETA = "thinking-binding-controls-2026-08-01"
BEHAVIOURS = ("error", "drop_block")
THINKING_TYPES = ("thinking", "redacted_thinking")
_SECRET = b"offline-upstream-thinking-binding"
_PREFIX = b"sig2."
_REDACTED_PREFIX = b"redacted2."
DIGEST_CHARS = 32

PREFIX_MISMATCH = (
    "Invalid `signature` in `thinking` block. The block is bound to a different conversation. "
    'Remove the block, or set `thinking.block_binding.prefix_mismatch_behavior` to "drop_block".'
)


def _canonical(value: Any) -> Any:
    """A block or list as hashed: no cache_control, no null fields."""
    if isinstance(value, dict):
        return {
            key: _canonical(item) for key, item in value.items()
            if key != "cache_control" and item is not None
        }
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


def _digest(value: Any) -> str:
    return hashlib.sha256(compact_json(value).encode()).hexdigest()[:DIGEST_CHARS]


def _header(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "system": _canonical(as_blocks(body.get("system"))),
        "tools": _canonical(body.get("tools") or []),
    }


def prefix_digest(
    body: dict[str, Any], messages: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]
) -> str:
    """The digest of what comes before a block: system, tools, `messages`, then `blocks` of the
    block's own message (said by `role`)."""
    turns = [
        {"role": message.get("role"), "content": _canonical(as_blocks(message.get("content")))}
        for message in messages
    ]
    return _digest([_header(body), turns, {"role": role, "content": _canonical(blocks)}])


def _content_digest(block: dict[str, Any]) -> str:
    if block.get("type") == "redacted_thinking":
        return ""  # its data is the signature: nothing else to tamper with
    return _digest(str(block.get("thinking", "")))


def _seal(claims: dict[str, str]) -> bytes:
    raw = compact_json(claims).encode()
    mac = hmac.new(_SECRET, raw, hashlib.sha256).hexdigest()[:DIGEST_CHARS]
    return base64.b64encode(raw) + b"." + mac.encode()


def _open(sealed: bytes) -> dict[str, str] | None:
    raw64, _, mac = sealed.partition(b".")
    try:
        raw = base64.b64decode(raw64, validate=True)
        claims = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    expected = hmac.new(_SECRET, raw, hashlib.sha256).hexdigest()[:DIGEST_CHARS].encode()
    if not hmac.compare_digest(mac, expected) or not isinstance(claims, dict):
        return None
    return claims


def effective_effort(body: dict[str, Any], model: ModelSpec) -> str:
    """The request's `output_config.effort`, else the model's default."""
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    return str(effort or model.thinking.default_effort)


def sign_block(
    block: dict[str, Any], model_id: str, prefix: str, seed: int = 0, effort: str = ""
) -> dict[str, Any]:
    """The block with its signature (thinking) or data (redacted_thinking) bound to
    `model_id` and `prefix` (and naming the effort it was made at)."""
    claims = {"m": model_id, "p": prefix, "c": _content_digest(block), "s": str(seed),
              "e": effort}
    sealed = _seal(claims)
    if block["type"] == "redacted_thinking":
        return {**block, "data": base64.b64encode(_REDACTED_PREFIX + sealed).decode()}
    return {**block, "signature": base64.b64encode(_PREFIX + sealed).decode()}


def _claims(block: dict[str, Any]) -> dict[str, str] | None:
    """The block's signed claims, or None when its signature is not a valid one for it."""
    kind = block.get("type")
    value = block.get("data" if kind == "redacted_thinking" else "signature")
    marker = _REDACTED_PREFIX if kind == "redacted_thinking" else _PREFIX
    try:
        decoded = base64.b64decode(str(value or ""), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not decoded.startswith(marker):
        return None
    claims = _open(decoded.removeprefix(marker))
    if claims is None or claims.get("c") != _content_digest(block):
        return None
    return claims


def sign_reply_blocks(
    body: dict[str, Any], model: ModelSpec, blocks: list[dict[str, Any]], seed: int
) -> list[dict[str, Any]]:
    """Sign every thinking block of a reply, each bound to the request and the reply's blocks
    before it.  A reply continuing a final assistant turn (a paused turn) continues it."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    earlier: list[dict[str, Any]] = []
    if messages and messages[-1].get("role") == "assistant":
        earlier = list(as_blocks(messages[-1].get("content")))
        messages = messages[:-1]
    signed = []
    for block in blocks:
        if block.get("type") in THINKING_TYPES:
            prefix = prefix_digest(body, messages, "assistant", earlier)
            block = sign_block(block, model.id, prefix, seed, effective_effort(body, model))
        signed.append(block)
        earlier.append(block)
    return signed


@dataclass
class BindingOutcome:
    """The request with failing blocks removed, and what to report about them."""

    body: dict[str, Any]
    transformations: list[dict[str, str]] = field(default_factory=list)


def _behaviour(body: dict[str, Any], beta_names: frozenset[str], batch: bool) -> str:
    thinking = body.get("thinking")
    binding = thinking.get("block_binding") if isinstance(thinking, dict) else None
    if binding is not None and BINDING_BETA not in beta_names:
        raise invalid(
            "thinking.block_binding: this field requires the beta header "
            f"`anthropic-beta: {BINDING_BETA}`"
        )
    chosen = binding.get("prefix_mismatch_behavior") if isinstance(binding, dict) else None
    if chosen is None:
        # Enforced by default; a batch drops instead of failing the request.
        return "drop_block" if batch else "error"
    if chosen not in BEHAVIOURS:
        raise invalid(
            "thinking.block_binding.prefix_mismatch_behavior: Input should be 'error' or "
            "'drop_block'"
        )
    return str(chosen)


def check_thinking_blocks(
    body: dict[str, Any], model: ModelSpec, beta_names: frozenset[str], *, batch: bool = False
) -> BindingOutcome:
    """Check every thinking block sent back (see the module docstring)."""
    behaviour = _behaviour(body, beta_names, batch)
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    dropped: set[tuple[int, int]] = set()
    report: list[dict[str, str]] = []
    for m_index, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        blocks = as_blocks(message.get("content"))
        for b_index, block in enumerate(blocks):
            if block.get("type") not in THINKING_TYPES:
                continue
            path = f"messages.{m_index}.content.{b_index}"
            reason = _failure(body, model, messages, m_index, blocks, b_index, path)
            if reason is None:
                continue
            if reason == "prefix_binding_mismatch" and behaviour == "error":
                raise invalid(f"{path}: {PREFIX_MISMATCH}")
            dropped.add((m_index, b_index))
            report.append({"type": "thinking_dropped", "path": path, "reason": reason})
    if not dropped:
        return BindingOutcome(body, report)
    return BindingOutcome(_without(body, messages, dropped), report)


def _failure(
    body: dict[str, Any], model: ModelSpec, messages: list[dict[str, Any]], m_index: int,
    blocks: list[dict[str, Any]], b_index: int, path: str,
) -> str | None:
    """Why a block sent back cannot be used (None: it can); a 400 if it was tampered with."""
    claims = _claims(blocks[b_index])
    if claims is None:
        if blocks[b_index].get("type") == "redacted_thinking":
            raise invalid(f"{path}: Invalid `data` in `redacted_thinking` block")
        raise invalid(f"{path}: Invalid `signature` in `thinking` block")
    if not can_read_thinking(model, claims.get("m", "")):
        return "model_binding_mismatch"
    _check_between_tools_effort(body, model, claims, path)
    if not model.preserved_thinking:
        return None
    prefix = prefix_digest(body, messages[:m_index], "assistant", blocks[:b_index])
    return None if hmac.compare_digest(prefix, claims.get("p", "")) else "prefix_binding_mismatch"


def _check_between_tools_effort(
    body: dict[str, Any], model: ModelSpec, claims: dict[str, str], path: str
) -> None:
    """With `between_tools` the effort cannot change mid-conversation (Sonnet 5.5)."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "between_tools":
        return
    made_at, asked = claims.get("e"), effective_effort(body, model)
    if claims.get("m") == model.id and made_at and made_at != asked:
        raise invalid(
            f"{path}: `output_config.effort` cannot change mid-conversation with "
            f"`thinking.type.between_tools`: this block was made at `{made_at}`, this request "
            f"asks for `{asked}`."
        )


def _without(
    body: dict[str, Any], messages: list[dict[str, Any]], dropped: set[tuple[int, int]]
) -> dict[str, Any]:
    """The request as the model sees it: dropped blocks gone (and a turn left empty by it)."""
    kept = []
    for m_index, message in enumerate(messages):
        blocks = as_blocks(message.get("content"))
        left = [b for b_index, b in enumerate(blocks) if (m_index, b_index) not in dropped]
        if len(left) != len(blocks):
            if not left:
                continue
            message = {**message, "content": left}
        kept.append(message)
    return {**body, "messages": kept}
