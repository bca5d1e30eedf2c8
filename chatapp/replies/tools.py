"""The tools Claude may call while it writes a reply, run on this server.

- ``search_documents``: the conversation's documents (their text) for passages, with page or
  character location;
- ``calculator``: exact arithmetic through a small parser of our own (``ast`` + ``Fraction``;
  never ``eval``);
- ``current_datetime``: the time now in an IANA time zone.

The definitions are data, always sent in the same order with the same bytes, so they stay in
the cached prompt prefix. A tool that fails, or one we do not have, answers with
``is_error`` and words the model can act on; nothing here raises into the reply.
Server tools (web search) run at Anthropic; they are offered only when a deployment
switches them on (``CHATAPP_SERVER_TOOLS``) with a real API key.
"""

import ast
import operator
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db.models import Q

from chatapp.models import Attachment, Conversation, Message
from chatapp.replies.generation import ToolOutcome
from chatapp.replies.policy import ReplyPolicy

TOOL_DEFINITIONS: tuple[dict[str, Any], ...] = (
    {
        "name": "search_documents",
        "description": (
            "Search the documents attached to this conversation for passages about a topic. "
            "Returns the best matching passages with the document name and page or location."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "Words to look for"},
                "max_results": {"type": "integer", "minimum": 1, "maximum": 10},
            },
            "required": ["query"],
        },
    },
    {
        "name": "calculator",
        "description": (
            "Exact arithmetic on numbers: + - * / // % ** and parentheses. Use it for any "
            "calculation where the exact result matters."
        ),
        "input_schema": {
            "type": "object",
            "properties": {"expression": {"type": "string", "description": "e.g. (2+3)*7/4"}},
            "required": ["expression"],
        },
    },
    {
        "name": "current_datetime",
        "description": "The current date and time in an IANA time zone such as Europe/Paris.",
        "input_schema": {
            "type": "object",
            "properties": {"timezone": {"type": "string", "description": "IANA zone; UTC"}},
        },
    },
)
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}


def request_params(policy: ReplyPolicy) -> dict[str, Any]:
    """``tools`` for a reply's request ({} when tools are switched off)."""
    if not policy.tools:
        return {}
    definitions = [dict(tool) for tool in TOOL_DEFINITIONS]
    if policy.web_search:
        definitions.append(dict(WEB_SEARCH))
    return {"tools": definitions}


# --- calculator ----------------------------------------------------------------------------

class CalculationError(ValueError):
    """The expression cannot be computed; the message says why in plain words."""


MAX_EXPONENT = 10_000
MAX_DIGITS = 5_000
_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}


def _power(base: Fraction, exponent: Fraction) -> Fraction:
    if exponent.denominator != 1:
        raise CalculationError("Only whole-number exponents can be computed exactly.")
    if abs(exponent) > MAX_EXPONENT:
        raise CalculationError(f"Exponents above {MAX_EXPONENT:,} are too large.")
    if base == 0 and exponent < 0:
        raise CalculationError("Division by zero.")
    return base ** int(exponent)


def _evaluate(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            result = _power(left, right)
        elif type(node.op) in _BINARY:
            if right == 0 and isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod):
                raise CalculationError("Division by zero.")
            result = _BINARY[type(node.op)](left, right)
        else:
            raise CalculationError("Only + - * / // % ** and parentheses are supported.")
        if len(str(result.numerator)) > MAX_DIGITS:
            raise CalculationError("The result is too large to compute exactly.")
        return Fraction(result)
    raise CalculationError("Only numbers, + - * / // % ** and parentheses are supported.")


def calculate(expression: str) -> str:
    """The exact value of an arithmetic expression, e.g. ``1/3 + 1/6`` → ``1/2 (= 0.5)``."""
    cleaned = expression.replace("×", "*").replace("÷", "/").replace("^", "**").strip()
    if not cleaned or len(cleaned) > 1000:
        raise CalculationError("Give an arithmetic expression of at most 1,000 characters.")
    try:
        tree = ast.parse(cleaned, mode="eval")
    except SyntaxError:
        raise CalculationError(f"{expression!r} is not an arithmetic expression.") from None
    value = _evaluate(tree)
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator} (≈ {float(value):.12g})"


# --- current_datetime ----------------------------------------------------------------------

def current_datetime(zone: str = "UTC", now: datetime | None = None) -> str:
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{zone!r} is not an IANA time zone (e.g. Europe/Paris).") from None
    moment = (now or datetime.now(tz)).astimezone(tz)
    return f"{moment:%A %d %B %Y, %H:%M:%S} {moment.tzname()} ({moment.isoformat()})"


# --- search_documents ----------------------------------------------------------------------

PASSAGE_CHARS = 600


def _parts(text: str) -> list[tuple[str, str]]:
    """(where, text): pages where the text has page breaks (form feeds), else the whole."""
    if "\f" in text:
        return [(f"page {n}", page) for n, page in enumerate(text.split("\f"), start=1)]
    return [("", text)]


def _passages(name: str, text: str, words: list[str]) -> list[tuple[int, str]]:
    scored = []
    for where, part in _parts(text):
        for start in range(0, max(1, len(part)), PASSAGE_CHARS // 2):
            window = part[start : start + PASSAGE_CHARS]
            score = sum(window.lower().count(word) for word in words)
            if score:
                place = where or f"characters {start:,}–{start + len(window):,}"
                scored.append((score, f"[{name}, {place}] {' '.join(window.split())}"))
    return scored


def search_documents(conversation_id: int, query: str, max_results: int = 5) -> str:
    """Passages of the conversation's documents and its project's, all of them: those too
    large for one request too (or, without any, of its messages), ranked by the words found,
    each with its page where the text has pages. Synchronous; the reply's tool runner reads on
    the ORM thread and ranks off it (``runner``)."""
    return rank_passages(search_sources(conversation_id), query, max_results)


def _words(query: str) -> list[str]:
    words = [w for w in re.findall(r"\w+", query.lower()) if len(w) > 1]
    if not words:
        raise ValueError("Give some words to search for.")
    return words


def search_sources(conversation_id: int) -> list[tuple[str, str]]:
    """(name, text) of what the search reads: the documents (ORM: the database thread)."""
    project_id = Conversation.objects.filter(pk=conversation_id).values_list(
        "project_id", flat=True).first()
    searched = Q(conversation_id=conversation_id)
    if project_id is not None:
        searched |= Q(project_id=project_id, conversation=None, withdrawn_at=None)
    sources = [(a.name, a.text) for a in Attachment.objects.filter(searched).exclude(text="")]
    if not sources:
        messages = Message.objects.on_screen().filter(conversation_id=conversation_id)
        sources = [(f"message {m.pk} ({m.role})", m.text) for m in messages if m.text]
    return sources


def rank_passages(sources: list[tuple[str, str]], query: str, max_results: int = 5) -> str:
    """The best passages for ``query``: pure work on text, as long as the documents are (a
    project's may be many MB), so a worker thread's, never the ORM thread's."""
    words = _words(query)
    scored = [hit for name, text in sources for hit in _passages(name, text, words)]
    if not scored:
        return f"No passage mentions {query!r}."
    best = sorted(scored, key=lambda hit: -hit[0])[: max(1, min(int(max_results), 10))]
    return "\n\n".join(passage for _score, passage in best)


# --- running a call ------------------------------------------------------------------------

ToolRunner = Callable[[str, dict[str, Any]], Awaitable[ToolOutcome]]


def runner(conversation_id: int) -> ToolRunner:
    """Runs one tool call for a reply in ``conversation_id``; never raises."""

    async def run(name: str, tool_input: dict[str, Any]) -> ToolOutcome:
        try:
            if name == "calculator":
                return ToolOutcome(calculate(str(tool_input.get("expression", ""))))
            if name == "current_datetime":
                return ToolOutcome(current_datetime(str(tool_input.get("timezone") or "UTC")))
            if name == "search_documents":
                query = str(tool_input.get("query", ""))
                _words(query)  # refused before anything is read
                # Read on the one ORM thread, ranked off it: scanning a project's documents
                # must not hold every other reply's database work.
                sources = await database_sync_to_async(search_sources)(conversation_id)
                text = await sync_to_async(rank_passages, thread_sensitive=False)(
                    sources, query, tool_input.get("max_results") or 5
                )
                return ToolOutcome(text)
        except (ValueError, TypeError) as exc:
            return ToolOutcome(str(exc), is_error=True)
        known = ", ".join(tool["name"] for tool in TOOL_DEFINITIONS)
        return ToolOutcome(f"There is no tool named {name!r}. Tools: {known}.", is_error=True)

    return run
