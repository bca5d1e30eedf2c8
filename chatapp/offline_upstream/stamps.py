"""Write times of streamed text, so a benchmark can measure what a relay adds to each delta.

Off by default. Once enabled (`POST /_control/stamps {"enabled": true}`, or `--stamps`), every
streamed reply records on the system-wide monotonic clock (`time.monotonic()`: CLOCK_MONOTONIC,
comparable between processes on one machine) when its request was accepted and, just before
each `text_delta` event is written, the time and how many characters of text the reply has
written with it. A client that notes when each character reached it can then tell how long the
text spent between the two, and how long the app took before it asked.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

# Enough for a large benchmark run; older streams are forgotten first.
MAX_STREAMS = 20_000
PROMPT_CHARS = 200


@dataclass
class StreamStamps:
    """One streamed reply: its request, the last user text (to find it by), when the request
    arrived and its writes."""

    request_id: str
    prompt: str
    received: float = field(default_factory=time.monotonic)
    writes: list[tuple[float, int]] = field(default_factory=list)
    _chars: int = 0

    def text_written(self, text: str) -> None:
        self._chars += len(text)
        self.writes.append((time.monotonic(), self._chars))

    def as_json(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "prompt": self.prompt,
                "received": self.received, "writes": self.writes}


class StampLog:
    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        self._streams: deque[StreamStamps] = deque(maxlen=MAX_STREAMS)

    def open(self, request_id: str, prompt: str) -> StreamStamps | None:
        """A record for a new stream, or None while stamping is off."""
        if not self.enabled:
            return None
        stamps = StreamStamps(request_id, prompt[:PROMPT_CHARS])
        self._streams.append(stamps)
        return stamps

    def as_json(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "streams": [s.as_json() for s in self._streams]}

    def clear(self) -> None:
        self._streams.clear()
