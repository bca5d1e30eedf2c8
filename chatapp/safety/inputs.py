"""Checks every edge applies to what a browser (or a script) sends, before anything else reads it.

JSON can carry things that are not text and numbers no database holds: a lone UTF-16 surrogate
("\\ud800" escaped) parses into a Python string that cannot be encoded as UTF-8 (PostgreSQL
refuses it, the SDK cannot send it, a page cannot show it), and an integer of 30 digits
overflows every id column. Both are refused here in plain words, at the edge, so they never
become a 500 page, an ``internal`` socket error, or a request that fails at Claude.
"""

import json
from typing import Any

# The largest id a BigAutoField (64-bit signed) can hold.
MAX_ID = 2**63 - 1


def is_id(value: Any) -> bool:
    """A positive whole number that can be the id of a row (``True`` is not 1)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def broken_text_at(data: Any) -> str | None:
    """Where ``data`` (parsed JSON) holds a string that is not text, e.g. ``messages[3].text``;
    None when every string (keys too) is text. One C-speed encode when all is well."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
        return None
    except UnicodeEncodeError:
        pass
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:  # iterative: the data may be as deep as json.loads allowed
        path, value = stack.pop()
        if isinstance(value, str) and not _is_text(value):
            return path or "the text"
        if isinstance(value, dict):
            for key, item in reversed(value.items()):
                if not _is_text(key):
                    return f"{path}.<a key>" if path else "a key"
                stack.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return "the text"


def broken_text_message(where: str) -> str:
    return (
        f"{where} contains a broken character (a lone UTF-16 surrogate such as \\ud800, "
        "which is not text): remove it and try again."
    )
