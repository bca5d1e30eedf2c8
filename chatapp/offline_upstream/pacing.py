"""Pacing a reply: deltas spaced out at the current tokens-per-second rate after a wait for the
first token, keeping to a schedule (event-loop latency never slows a stream down) without
bursting to catch up; optionally grouped into events every few tens of milliseconds, as Claude
sends text. Pacing sleeps with asyncio, so any number of streams run side by side.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable, Iterator

# How far a stream may fall behind its schedule before it stops catching up in a burst.
MAX_CATCH_UP_SECONDS = 0.25


class Pacer:
    """Spaces deltas out at the current tokens-per-second rate (0 means no pacing), after a
    wait of `first_token` seconds before the first (the model "thinking" before it answers).

    With `event_ms` (low, high), a paced stream sends its text as Claude does: one event every
    low–high milliseconds carrying the tokens written meanwhile; without it, every delta of
    1–3 tokens is an event."""

    def __init__(
        self,
        rate: Callable[[], float],
        first_token: float = 0.0,
        *,
        event_ms: tuple[float, float] | None = None,
        seed: int = 0,
    ) -> None:
        self._rate = rate
        self._first_token = first_token
        self._due: float | None = None
        self._event_ms = event_ms
        self._random = random.Random(seed)
        self._first_event = True

    def events(self, deltas: Iterable[tuple[str, int]]) -> Iterator[tuple[str, int]]:
        """`deltas` joined into the events this stream sends, as (text, tokens)."""
        text, tokens, wanted = "", 0, self._event_tokens()
        for piece, count in deltas:
            text, tokens = text + piece, tokens + count
            if tokens >= wanted:
                yield text, tokens
                text, tokens, wanted = "", 0, self._event_tokens()
        if tokens:
            yield text, tokens

    def _event_tokens(self) -> float:
        """How many tokens the next event carries: what the pace writes in one gap. The
        stream's first text goes out as soon as it is written, as the API's does."""
        rate = self._rate()
        first, self._first_event = self._first_event, False
        if self._event_ms is None or rate <= 0 or first:
            return 1
        return max(1.0, rate * self._random.uniform(*self._event_ms) / 1000)

    async def wait(self, tokens: int) -> None:
        if self._first_token > 0:
            first, self._first_token = self._first_token, 0.0
            await asyncio.sleep(first)
        rate = self._rate()
        if rate <= 0 or tokens <= 0:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        # Keep to the schedule (so event-loop latency does not slow a stream down) but never
        # burst more than MAX_CATCH_UP_SECONDS worth of tokens to catch up.
        due = max(self._due if self._due is not None else now, now - MAX_CATCH_UP_SECONDS)
        self._due = due + tokens / rate
        if self._due > now:
            await asyncio.sleep(self._due - now)
