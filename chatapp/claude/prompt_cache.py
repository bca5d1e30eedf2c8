"""The prompt cache's part of a request, pure functions: where the cache breakpoints go (at
most four, in prompt order, never a 1-hour one after a 5-minute one), marked on copies of the
blocks; and the TTL a conversation's pace of questions makes cheaper. The rules and their
arithmetic are in docs/caching.md.
"""

import copy
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from chatapp.claude.pricing import PriceRates

CACHE_5M = {"type": "ephemeral"}
CACHE_1H = {"type": "ephemeral", "ttl": "1h"}
MAX_BREAKPOINTS = 4
# Blocks the API does not let carry a cache_control.
_UNMARKABLE = {"thinking", "redacted_thinking"}


@dataclass(frozen=True)
class Breakpoint:
    message: int  # index into messages
    block: int  # index into that message's content
    ttl: str  # "5m" or "1h"


def order_breakpoints(points: Iterable[Breakpoint]) -> list[Breakpoint]:
    """At most four, in prompt order, and no 1-hour breakpoint after a 5-minute one.

    The API refuses a fifth breakpoint and a 1h after a 5m (400). When there are too many, the
    first (the documents) and the last ones (the newest history) are kept; a 1h that would
    follow a 5m is demoted to 5m rather than moved, so the prefix it ends is still cached.
    """
    unique = sorted({(p.message, p.block): p for p in points}.values(),
                    key=lambda p: (p.message, p.block))
    if len(unique) > MAX_BREAKPOINTS:
        unique = [unique[0], *unique[-(MAX_BREAKPOINTS - 1):]]
    ordered, seen_short = [], False
    for point in unique:
        ttl = "5m" if seen_short else point.ttl
        seen_short = seen_short or ttl == "5m"
        ordered.append(Breakpoint(point.message, point.block, ttl))
    return ordered


def _last_markable(content: list[dict[str, Any]]) -> int | None:
    for index in range(len(content) - 1, -1, -1):
        if content[index].get("type") not in _UNMARKABLE:
            return index
    return None


def _last_document(
    messages: list[dict[str, Any]], upto: int | None = None
) -> tuple[int, int] | None:
    """(message, block) of the newest document block (in ``messages[:upto]``): the end of the
    largest stable part."""
    for m in range(len(messages) - 1 if upto is None else upto - 1, -1, -1):
        content = messages[m]["content"]
        for b in range(len(content) - 1, -1, -1):
            if content[b].get("type") == "document":
                return m, b
    return None


def plan_breakpoints(
    messages: list[dict[str, Any]], ttl: str, first_ttl: str | None = None
) -> list[Breakpoint]:
    """Where the cache breakpoints go (see docs/caching.md):

    - on the first question's last document block: a project's documents open every
      conversation started in it, byte for byte, so this entry serves the first question of
      every other conversation of the project (chatapp/projects/);
    - on the newest document block: the documents are the large part of the prompt, and
      this one entry serves every later question even when the moving breakpoints below are
      more than about 20 blocks (the API's look-back) past the last entry;
    - at the end of the previous turn: the moving breakpoint, which finds the history cached
      by the last request however many blocks the new question brings;
    - on the newest turn: the next request reads everything up to here.

    ``first_ttl``: the first question's documents' own TTL (a project's pace, read by every
    conversation of the project), else ``ttl``.
    """
    first = _last_document(messages, upto=1)
    candidates = [] if first is None else [Breakpoint(*first, first_ttl or ttl)]
    newest = _last_document(messages)
    if newest is not None:
        candidates.append(Breakpoint(*newest, ttl))
    for index in (len(messages) - 2, len(messages) - 1):
        if index >= 0:
            block = _last_markable(messages[index]["content"])
            if block is not None:
                candidates.append(Breakpoint(index, block, ttl))
    return order_breakpoints(candidates)


def apply_breakpoints(messages: list[dict[str, Any]], points: list[Breakpoint]) -> None:
    """Marks copies of the blocks: the stored content is never changed."""
    for point in points:
        message = messages[point.message]
        content = list(message["content"])
        marked = copy.copy(content[point.block])
        marked["cache_control"] = dict(CACHE_1H if point.ttl == "1h" else CACHE_5M)
        content[point.block] = marked
        messages[point.message] = {"role": message["role"], "content": content}


# A question this much before an entry expires may still find it gone (the reply before it
# ran, the clock of the cache is not ours): the pace is judged with this margin.
TTL_MARGIN = timedelta(seconds=30)
TTL_SPANS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1)}
PACE_GAPS = 3


def question_pace(asked_at: Sequence[datetime]) -> timedelta | None:
    """The median of the last few gaps between questions (None before the second one)."""
    times = sorted(asked_at)[-(PACE_GAPS + 1):]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    return statistics.median(gaps) if gaps else None


def choose_ttl(asked_at: Sequence[datetime], rates: PriceRates | None) -> str:
    """5 minutes, unless this conversation's pace makes the 1-hour cache cheaper.

    With questions every g minutes and a cached prefix of P tokens: for g under 5 minutes
    both TTLs read (5m writes cost less); over an hour neither survives (5m writes cost less);
    in between a 5m entry has expired at every question and is written again (w5·P each
    time), while a 1h entry is written once and then read (w1h·P + r·P for two questions).
    The 1h cache wins when w1h + r < 2·w5 — with the usual rates 2 + 0.1 < 2.5.
    The arithmetic is in docs/caching.md.
    """
    pace = question_pace(asked_at)
    if pace is None or rates is None:
        return "5m"
    if pace <= TTL_SPANS["5m"] - TTL_MARGIN or pace > TTL_SPANS["1h"] - TTL_MARGIN:
        return "5m"
    two_questions_1h = rates.cache_write_1h + rates.cache_read
    return "1h" if two_questions_1h < 2 * rates.cache_write_5m else "5m"
