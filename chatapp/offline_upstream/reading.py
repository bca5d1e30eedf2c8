"""What the offline upstream reads out of a question, so the offline demo shows the app.

- **Titles.** A request whose system prompt asks for a title (the app's title job: "You name
  conversations…") is answered with the question's key words, capitalised, at most
  ``TITLE_WORDS`` words — never the "User:" label of the excerpt it is given, so every
  conversation in the sidebar gets a title of its own.
- **Arithmetic.** A question with an arithmetic expression ("What is 12*(3+4)?", "17% of
  2,340", "calculate 2^10") yields that expression in the calculator's syntax, for the
  ``calculator`` tool call agentic.py makes when the request offers that tool.

Both are patterns in data below, not a language model: they are meant to be predictable.
"""

from __future__ import annotations

import re
from typing import Any

from .prompt import as_blocks

TITLE_WORDS = 5
# A system prompt that asks for a title (what the app's title job and similar side calls say).
# Narrow on purpose: a user's own system prompt that mentions titles still gets a reply.
TITLE_ASK = re.compile(
    r"\bname (?:conversations|this conversation|chats)\b"
    r"|\b(?:reply|respond|answer) with (?:only )?a (?:short )?title\b", re.I)
# The app's title excerpt is "User: <question>\n\nAssistant: <answer>": only the question counts.
EXCERPT_QUESTION = re.compile(r"^\s*User:\s*(.*?)(?:\n\s*\n\s*Assistant:|\Z)", re.S)
MAGIC_PHRASE = re.compile(r"\[\[.*?\]\]", re.S)
WORD = re.compile(r"[^\W_][\w'’.,%+-]*", re.U)
# Words that carry no subject: left out of a title (unless nothing else is left).
_STOP_WORDS = """
a about all an and any are as at be been but by can could did do does for from give had has
have how i if in into is it its just let me might more most much my no not of on or our please
she should so some tell than that the their them then there these they this those to too us
use was we were what when where which who why will with would you your explain show write
make find list describe say help need want know get like using
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())
FALLBACK_TITLE = "A short exchange"

# Arithmetic: numbers joined by operators, with optional parentheses and signs.
_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"
_OPERATOR = r"(?:\*\*|//|[-+*/×÷^%])"
_OPERAND = rf"(?:\(\s*)*-?{_NUMBER}(?:\s*\))*"
EXPRESSION = re.compile(rf"{_OPERAND}(?:\s*{_OPERATOR}\s*{_OPERAND})+")
PERCENT_OF = re.compile(rf"({_NUMBER})\s*%\s*of\s*({_NUMBER})", re.I)
# Words that ask for a calculation: with one, a bare "a - b" counts (without, it may be a date
# or a range).
CALCULATE_WORDS = re.compile(
    r"\b(?:calculate|compute|work out|what is|what's|how much is|evaluate|sum of)\b", re.I)
# Signs written the way people write them → the calculator's syntax.
SYMBOLS = (("×", "*"), ("÷", "/"), ("^", "**"))


def _system_text(body: dict[str, Any]) -> str:
    return " ".join(str(b.get("text", "")) for b in as_blocks(body.get("system"))
                    if b.get("type") == "text")


def asks_for_title(body: dict[str, Any]) -> bool:
    return bool(TITLE_ASK.search(_system_text(body)))


def title_for(text: str) -> str:
    """The key words of the question in ``text`` (an excerpt or the question itself); a
    calculation is named by its expression as written."""
    excerpt = EXCERPT_QUESTION.match(text)
    question = MAGIC_PHRASE.sub(" ", excerpt.group(1) if excerpt else text)
    found = _arithmetic(question)
    if found:
        # Written with × and ^: the app strips "*" from titles as markdown decoration.
        written = found[0].replace("**", "^").replace("*", "×")
        return " ".join(f"Calculating {written}".split()[:TITLE_WORDS + 1])
    words = [word.strip(".,'’-") for word in WORD.findall(question)]
    words = [word for word in words if word]
    keys = [word for word in words if word.lower() not in STOP_WORDS] or words
    if not keys:
        return FALLBACK_TITLE
    return " ".join(word[:1].upper() + word[1:] for word in keys[:TITLE_WORDS])


def _normalise(expression: str) -> str:
    expression = re.sub(r"(?<=\d),(?=\d{3})", "", expression.strip())
    for written, meant in SYMBOLS:
        expression = expression.replace(written, meant)
    return " ".join(expression.split())


def _balanced(expression: str) -> str:
    """The expression with unmatched parentheses at its ends dropped."""
    while expression.count("(") > expression.count(")") and expression.startswith("("):
        expression = expression[1:].strip()
    while expression.count(")") > expression.count("(") and expression.endswith(")"):
        expression = expression[:-1].strip()
    return expression


def _arithmetic(question: str) -> tuple[str, str] | None:
    """(the arithmetic as written, in the calculator's syntax), or None."""
    percent = PERCENT_OF.search(question)
    if percent:
        written = percent.group(0)
        return written, f"{_normalise(percent.group(1))}/100*{_normalise(percent.group(2))}"
    asked = CALCULATE_WORDS.search(question) is not None
    for match in EXPRESSION.finditer(question):
        raw = match.group(0).strip()
        # "2026-12-01" or "10-20" alone is a date or a range unless a calculation is asked for.
        if not asked and re.fullmatch(rf"{_NUMBER}(?:-{_NUMBER})+", raw):
            continue
        return _balanced(raw), _balanced(_normalise(raw))
    return None


def arithmetic_in(question: str) -> str | None:
    """The arithmetic the question asks for, in the calculator's syntax, or None."""
    found = _arithmetic(MAGIC_PHRASE.sub(" ", question))
    return found[1] if found else None
