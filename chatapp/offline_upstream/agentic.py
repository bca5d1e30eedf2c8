"""Thinking, tool calls and paused turns in the offline upstream's replies.

- **Thinking.** A request with ``thinking`` (``enabled`` or ``adaptive``), or with none on a
  model that thinks by default (the 5.x models), gets a thinking block before its text,
  signed and bound to the request (see binding.py: a block sent back edited, from a model that
  cannot read it, or after its prefix changed is refused or dropped). Thinking tokens count
  against ``max_tokens``: a small one ends ``max_tokens`` with no text at all.
  ``display: "omitted"`` (the default on the newer models) sends the block with empty thinking
  and its signature; ``[[redacted_thinking]]`` in the question sends a ``redacted_thinking``
  block instead. On Opus 5.5 and Sonnet 5.5 the text written between tool calls comes back in
  a thinking block of its own.
- **Tools.** ``[[tool:NAME {json input}]]`` in the question makes the reply call that tool
  (several phrases: parallel calls in one turn), stop reason ``tool_use``. Once the tool
  results come back the reply answers, quoting them; ``[[tool_rounds:N]]`` asks for N rounds
  of calls first. Any name can be called, declared in ``tools`` or not (to see how an app
  copes with a tool it does not have). Without a phrase, a question with arithmetic in it
  ("what is 12*(3+4)?", see reading.py) calls ``calculator`` when the request offers that
  tool, and the answer then leads with its result. A title call never calls a tool.
- **Paused turns.** ``[[pause_turn]]`` answers with a ``server_tool_use`` block and stop reason
  ``pause_turn``; the turn sent back as the final assistant message is then continued.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import replace
from typing import Any

from .binding import effective_effort, sign_reply_blocks
from .models import ModelSpec
from .prompt import as_blocks
from .reading import arithmetic_in, asks_for_title
from .replies import SENTENCES, ReplyPlan, plan_reply, split_tokens

TOOL_PHRASE = re.compile(r"\[\[tool:([A-Za-z_][\w-]*)\s*(\{.*?\})?\s*\]\]", re.DOTALL)
ROUNDS_PHRASE = re.compile(r"\[\[tool_rounds:(\d+)\]\]")
PAUSE_PHRASE = "[[pause_turn]]"
CALCULATOR = "calculator"  # the tool a question with arithmetic calls, when it is offered
REDACTED_PHRASE = "[[redacted_thinking]]"


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


def _tool_uses(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """tool_use id → its block, for every tool call in the request's assistant turns."""
    uses = {}
    for message in _messages(body):
        for block in as_blocks(message.get("content")):
            if block.get("type") == "tool_use":
                uses[str(block.get("id"))] = block
    return uses


def _tool_names(body: dict[str, Any]) -> dict[str, str]:
    """tool_use id → name, for every tool call in the request's assistant turns."""
    return {key: str(block.get("name")) for key, block in _tool_uses(body).items()}


def _offers(body: dict[str, Any], name: str) -> bool:
    return any(isinstance(tool, dict) and tool.get("name") == name
               for tool in body.get("tools") or [])


def _wanted_calls(body: dict[str, Any], question: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, input) of the calls the question asks for: its tool phrases, else the calculator
    for arithmetic (only where offered and tool_choice allows it)."""
    if asks_for_title(body):
        return []  # a title call is answered with a title
    phrases = TOOL_PHRASE.findall(question)
    if phrases:
        calls = []
        for name, raw in phrases:
            try:
                calls.append((name, json.loads(raw) if raw else {}))
            except ValueError:
                calls.append((name, {"raw": raw}))
        return calls
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "none":
        return []
    expression = arithmetic_in(question)
    if expression and _offers(body, CALCULATOR):
        return [(CALCULATOR, {"expression": expression})]
    return []


def is_paused_turn(message: dict[str, Any]) -> bool:
    """A final assistant message sent back to continue a paused turn (not a prefill)."""
    blocks = as_blocks(message.get("content"))
    return bool(blocks) and blocks[-1].get("type") in ("server_tool_use", "web_search_tool_result")


# --- Composing ---------------------------------------------------------------------------


def thinking_kind(body: dict[str, Any], model: ModelSpec) -> str | None:
    """The request's thinking type; a 5.x model without one thinks adaptively."""
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        return thinking.get("type")
    return "adaptive" if model.thinking.by_default else None


def _display(body: dict[str, Any], model: ModelSpec) -> str:
    thinking = body.get("thinking")
    asked = thinking.get("display") if isinstance(thinking, dict) else None
    return asked or model.thinking.default_display


# How many sentences the thinking runs to at each effort: more effort, more thinking tokens.
EFFORT_SENTENCES = {"low": 1, "medium": 2, "high": 3, "xhigh": 4, "max": 5}
NO_EFFORT_SENTENCES = 2  # models without effort (budget thinking only)


def _depth(body: dict[str, Any], model: ModelSpec) -> int:
    if not model.takes_effort:
        return NO_EFFORT_SENTENCES
    return EFFORT_SENTENCES[effective_effort(body, model)]


def _thinking_block(
    body: dict[str, Any], seed: int, model: ModelSpec
) -> tuple[dict[str, Any], str] | None:
    """The (unsigned) thinking block and the thinking it stands for (billed even when its
    display is omitted)."""
    if thinking_kind(body, model) not in ("enabled", "adaptive"):
        return None
    rng = random.Random(seed ^ 0x7468696E6B)
    text = (
        f"The question is: “{' '.join(question_text(body).split())[:120]}”. "
        + " ".join(rng.sample(SENTENCES, _depth(body, model)))
        + " I will answer plainly and show a short code example."
    )
    if REDACTED_PHRASE in question_text(body):
        return {"type": "redacted_thinking", "data": ""}, text
    shown = text if _display(body, model) == "summarized" else ""
    return {"type": "thinking", "thinking": shown, "signature": ""}, text


def _tool_calls(body: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    question = question_text(body)
    wanted = ROUNDS_PHRASE.search(question)
    if _rounds_done(body) >= (int(wanted.group(1)) if wanted else 1):
        return []
    calls = []
    for number, (name, tool_input) in enumerate(_wanted_calls(body, question)):
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
    return _calculated(body, results) + "The tools answered:\n" + "\n".join(lines) + "\n\n"


def _calculated(body: dict[str, Any], results: list[dict[str, Any]]) -> str:
    """For a calculation the question asked for (no tool phrase): its result, said first."""
    if TOOL_PHRASE.search(question_text(body)):
        return ""
    uses = _tool_uses(body)
    for block in results:
        use = uses.get(str(block.get("tool_use_id"))) or {}
        content = block.get("content")
        if isinstance(content, list):
            content = " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
        if use.get("name") == CALCULATOR and not block.get("is_error") and content:
            expression = (use.get("input") or {}).get("expression", "")
            return f"`{expression}` = **{' '.join(str(content).split())}**\n\n"
    return ""


def _paused(body: dict[str, Any], seed: int) -> dict[str, Any] | None:
    messages = _messages(body)
    if PAUSE_PHRASE not in question_text(body) or messages[-1].get("role") != "user":
        return None
    digest = hashlib.sha256(f"pause:{seed}".encode()).hexdigest()
    return {"type": "server_tool_use", "id": f"srvtoolu_{digest[:24]}", "name": "web_search",
            "input": {"query": question_text(body).replace(PAUSE_PHRASE, "").strip()[:80]}}


def _cut(block: dict[str, Any], tokens: int, model: ModelSpec) -> dict[str, Any]:
    """A thinking block stopped by max_tokens after `tokens` tokens."""
    if block["type"] != "thinking" or not block["thinking"]:
        return block
    pieces = split_tokens(block["thinking"], model.chars_per_token)[:tokens]
    return {**block, "thinking": "".join(pieces)}


def compose(body: dict[str, Any], model: ModelSpec, bound_to: dict[str, Any]) -> ReplyPlan:
    """The reply with its thinking, tool calls or pause, as the request asks for them.

    `body` is the request as the model sees it (blocks dropped by the binding check gone);
    `bound_to` the request as sent, which the reply's thinking blocks are bound to."""
    seed_plan = plan_reply(body, model)
    made = _thinking_block(body, seed_plan.seed, model)
    if made is None:
        return _with_tools(seed_plan, body, model, bound_to, (), 0)
    block, thought = made
    thinking_tokens = _tokens(thought, model)
    max_tokens = int(body.get("max_tokens", 0))
    if thinking_tokens >= max_tokens:
        # Thinking used the whole budget: the reply ends there, with no text at all.
        before = tuple(sign_reply_blocks(bound_to, model, [_cut(block, max_tokens, model)],
                                         seed_plan.seed))
        return replace(seed_plan, text="", blocks=(), before=before, after=(),
                       output_tokens=max_tokens, thinking_tokens=max_tokens,
                       stop_reason="max_tokens", stop_sequence=None)
    plan = plan_reply({**body, "max_tokens": max_tokens - thinking_tokens}, model)
    return _with_tools(plan, body, model, bound_to, (block,), thinking_tokens)


def _with_tools(
    plan: ReplyPlan, body: dict[str, Any], model: ModelSpec, bound_to: dict[str, Any],
    before: tuple[dict[str, Any], ...], thinking_tokens: int,
) -> ReplyPlan:
    calls = _tool_calls(body, plan.seed)
    paused = None if calls or asks_for_title(body) else _paused(body, plan.seed)
    if calls or paused:
        after = tuple(calls) if calls else (paused,)
        names = ", ".join(block["name"] for block in after)
        text = f"Let me use {names} for this." if calls else "Let me search for that."
        text_tokens = len(split_tokens(text, model.chars_per_token))
        tool_tokens = sum(_tokens(json.dumps(block["input"]), model) + 3 for block in after)
        noting = before or thinking_kind(body, model) == "between_tools"
        if noting and model.thinking.text_between_tools_in_thinking:
            # Opus 5.5 / Sonnet 5.5: what is said between tool calls is thinking too (with
            # `between_tools`, the only thinking there is).
            shown = text if _display(body, model) == "summarized" else ""
            before = (*before, {"type": "thinking", "thinking": shown, "signature": ""})
            thinking_tokens, text = thinking_tokens + text_tokens, ""
        signed = tuple(sign_reply_blocks(bound_to, model, list(before), plan.seed))
        return replace(
            plan, text=text, blocks=(), before=signed, after=after,
            output_tokens=text_tokens + thinking_tokens + tool_tokens,
            thinking_tokens=thinking_tokens,
            stop_reason="tool_use" if calls else "pause_turn", stop_sequence=None,
        )
    summary = _results_summary(body)
    if not (before or summary):
        return plan
    signed = tuple(sign_reply_blocks(bound_to, model, list(before), plan.seed))
    summary_tokens = len(split_tokens(summary, model.chars_per_token))
    return replace(
        plan, text=summary + plan.text, blocks=() if summary else plan.blocks, before=signed,
        output_tokens=plan.output_tokens + thinking_tokens + summary_tokens,
        thinking_tokens=thinking_tokens,
    )
