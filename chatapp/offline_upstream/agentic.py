"""Thinking, tool calls and paused turns in the offline upstream's replies.

- **Thinking.** A request with ``thinking`` (``enabled`` or ``adaptive``) gets a thinking block
  before its text, signed: the signature is an HMAC of the thinking text, and a thinking block
  sent back with a signature that does not match is refused (400), as the API refuses a
  modified one. ``display: "omitted"`` sends the block with empty thinking and its signature;
  ``[[redacted_thinking]]`` in the question sends a ``redacted_thinking`` block instead.
- **Tools.** ``[[tool:NAME {json input}]]`` in the question makes the reply call that tool
  (several phrases: parallel calls in one turn), stop reason ``tool_use``. Once the tool
  results come back the reply answers, quoting them; ``[[tool_rounds:N]]`` asks for N rounds
  of calls first. Any name can be called, declared in ``tools`` or not (to see how an app
  copes with a tool it does not have).
- **Paused turns.** ``[[pause_turn]]`` answers with a ``server_tool_use`` block and stop reason
  ``pause_turn``; the turn sent back as the final assistant message is then continued.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import random
import re
from dataclasses import replace
from typing import Any

from .errors import invalid
from .models import ModelSpec
from .prompt import as_blocks
from .replies import SENTENCES, ReplyPlan, split_tokens

_SECRET = b"offline-upstream-thinking"
TOOL_PHRASE = re.compile(r"\[\[tool:([A-Za-z_][\w-]*)\s*(\{.*?\})?\s*\]\]", re.DOTALL)
ROUNDS_PHRASE = re.compile(r"\[\[tool_rounds:(\d+)\]\]")
PAUSE_PHRASE = "[[pause_turn]]"
REDACTED_PHRASE = "[[redacted_thinking]]"


def sign(thinking: str) -> str:
    digest = hmac.new(_SECRET, thinking.encode(), hashlib.sha256).digest()
    return base64.b64encode(b"sig1" + digest).decode()


def _redacted_data(seed: int) -> str:
    return base64.b64encode(b"redacted:" + seed.to_bytes(8, "big")).decode()


def _tokens(text: str, model: ModelSpec) -> int:
    return math.ceil(len(text) / model.chars_per_token) if text else 0


# --- Reading the request -----------------------------------------------------------------


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body.get("messages") or [] if isinstance(m, dict)]


def _texts(message: dict[str, Any]) -> list[str]:
    return [str(b.get("text", "")) for b in as_blocks(message.get("content"))
            if b.get("type") == "text"]


def _question_index(messages: list[dict[str, Any]]) -> int:
    """The last user message with text: the question the tool rounds belong to."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "user" and any(_texts(messages[index])):
            return index
    return -1


def question_text(body: dict[str, Any]) -> str:
    messages = _messages(body)
    index = _question_index(messages)
    return " ".join(_texts(messages[index])) if index >= 0 else ""


def _tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_result blocks of the last user message (this round's answers)."""
    messages = _messages(body)
    if not messages or messages[-1].get("role") != "user":
        return []
    return [b for b in as_blocks(messages[-1].get("content")) if b.get("type") == "tool_result"]


def _rounds_done(body: dict[str, Any]) -> int:
    messages = _messages(body)
    after = messages[_question_index(messages) + 1:]
    return sum(
        1 for m in after
        if m.get("role") == "user"
        and any(b.get("type") == "tool_result" for b in as_blocks(m.get("content")))
    )


def _tool_names(body: dict[str, Any]) -> dict[str, str]:
    """tool_use id → name, for every tool call in the request's assistant turns."""
    names = {}
    for message in _messages(body):
        for block in as_blocks(message.get("content")):
            if block.get("type") == "tool_use":
                names[str(block.get("id"))] = str(block.get("name"))
    return names


def is_paused_turn(message: dict[str, Any]) -> bool:
    """A final assistant message sent back to continue a paused turn (not a prefill)."""
    blocks = as_blocks(message.get("content"))
    return bool(blocks) and blocks[-1].get("type") in ("server_tool_use", "web_search_tool_result")


def check_signatures(body: dict[str, Any]) -> None:
    """Thinking blocks must come back exactly as they were sent."""
    for number, message in enumerate(_messages(body)):
        if message.get("role") != "assistant":
            continue
        for index, block in enumerate(as_blocks(message.get("content"))):
            if block.get("type") == "thinking" and block.get("signature") != sign(
                str(block.get("thinking", ""))
            ):
                raise invalid(
                    f"messages.{number}.content.{index}: Invalid `signature` in `thinking` block"
                )


# --- Composing ---------------------------------------------------------------------------


def _thinking_block(body: dict[str, Any], seed: int) -> dict[str, Any] | None:
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive"):
        return None
    if REDACTED_PHRASE in question_text(body):
        return {"type": "redacted_thinking", "data": _redacted_data(seed)}
    rng = random.Random(seed ^ 0x7468696E6B)
    text = (
        f"The question is: “{' '.join(question_text(body).split())[:120]}”. "
        + " ".join(rng.sample(SENTENCES, 2))
        + " I will answer plainly and show a short code example."
    )
    if thinking.get("display") == "omitted":
        return {"type": "thinking", "thinking": "", "signature": sign("")}
    return {"type": "thinking", "thinking": text, "signature": sign(text)}


def _tool_calls(body: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    question = question_text(body)
    wanted = ROUNDS_PHRASE.search(question)
    if _rounds_done(body) >= (int(wanted.group(1)) if wanted else 1):
        return []
    calls = []
    for number, (name, raw) in enumerate(TOOL_PHRASE.findall(question)):
        try:
            tool_input = json.loads(raw) if raw else {}
        except ValueError:
            tool_input = {"raw": raw}
        digest = hashlib.sha256(f"{seed}:{_rounds_done(body)}:{number}".encode()).hexdigest()
        calls.append({"type": "tool_use", "id": f"toolu_{digest[:24]}", "name": name,
                      "input": tool_input})
    return calls


def _results_summary(body: dict[str, Any]) -> str:
    results = _tool_results(body)
    if not results:
        return ""
    names = _tool_names(body)
    lines = []
    for block in results:
        content = block.get("content")
        if isinstance(content, list):
            content = " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
        flat = " ".join(str(content or "").split())[:100]
        failed = " (error)" if block.get("is_error") else ""
        lines.append(f"- {names.get(str(block.get('tool_use_id')), 'tool')}{failed}: {flat}")
    return "The tools answered:\n" + "\n".join(lines) + "\n\n"


def _paused(body: dict[str, Any], seed: int) -> dict[str, Any] | None:
    messages = _messages(body)
    if PAUSE_PHRASE not in question_text(body) or messages[-1].get("role") != "user":
        return None
    digest = hashlib.sha256(f"pause:{seed}".encode()).hexdigest()
    return {"type": "server_tool_use", "id": f"srvtoolu_{digest[:24]}", "name": "web_search",
            "input": {"query": question_text(body).replace(PAUSE_PHRASE, "").strip()[:80]}}


def decorate(plan: ReplyPlan, body: dict[str, Any], model: ModelSpec) -> ReplyPlan:
    """The reply with its thinking, tool calls or pause, as the request asks for them."""
    thinking = _thinking_block(body, plan.seed)
    before = (thinking,) if thinking else ()
    extra = 0
    if thinking:
        extra = _tokens(str(thinking.get("thinking", thinking.get("data", ""))), model)
    calls = _tool_calls(body, plan.seed)
    paused = None if calls else _paused(body, plan.seed)
    if calls or paused:
        after = tuple(calls) if calls else (paused,)
        names = ", ".join(block["name"] for block in after)
        text = f"Let me use {names} for this." if calls else "Let me search for that."
        tool_tokens = sum(_tokens(json.dumps(block["input"]), model) + 3 for block in after)
        return replace(
            plan, text=text, blocks=(), before=before, after=after,
            output_tokens=len(split_tokens(text, model.chars_per_token)) + extra + tool_tokens,
            stop_reason="tool_use" if calls else "pause_turn", stop_sequence=None,
        )
    summary = _results_summary(body)
    if not (before or summary):
        return plan
    summary_tokens = len(split_tokens(summary, model.chars_per_token))
    return replace(
        plan, text=summary + plan.text, blocks=() if summary else plan.blocks, before=before,
        output_tokens=plan.output_tokens + extra + summary_tokens,
    )
