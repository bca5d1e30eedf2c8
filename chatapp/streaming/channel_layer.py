"""The embedded channel layer: Channels' in-memory layer without its per-message sweep.

``InMemoryChannelLayer`` sweeps every channel's queue and every group's members for expired
entries before each ``receive`` and each ``group_send``, and sends to a group through one task
per member. With N sockets streaming in a process, every frame then costs time in proportion
to N, and the process's work grows with N² (`python -m benchmarks.channel_layer`: 101 µs a
frame with 150 sockets, 238 µs with 500, against 9 µs here). Expiry is counted in seconds
(a minute for a message, a day for a group membership), so sweeping at most once a second
expires the same entries a moment later at a small fraction of the cost; a send to a member's
queue never waits, so sending to each member in turn delivers the same frames in the same
order.

Production uses channels_redis's pub/sub layer, which has neither cost (config/settings.py).
"""

import time
from contextlib import suppress
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

SWEEP_EVERY_SECONDS = 1.0


class SweptInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, sweep_every: float = SWEEP_EVERY_SECONDS, **config: Any) -> None:
        super().__init__(**config)
        self.sweep_every = sweep_every
        self._swept_at: float | None = None

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if self._swept_at is not None and now - self._swept_at < self.sweep_every:
            return
        self._swept_at = now
        super()._clean_expired()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            with suppress(ChannelFull):  # as Channels does: a full member misses this frame
                await self.send(channel, message)
