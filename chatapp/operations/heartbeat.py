"""The batch poller's heartbeat: when a poller last went round its loop.

With Redis (several processes) it is a cache key every process reads. In the embedded setup the
cache is each process's own memory, and the poller is a process of its own (``make run`` starts
it beside daphne), so there it is a file's modification time under var/. Either way a beat is
written at most every ``BEAT_EVERY`` seconds, however fast the loop goes. Which of the two, and
the file's place, come in as a ``PollerHeartbeat`` (``policy.py``).
"""

import logging
import time

from django.core.cache import cache

from chatapp.operations.policy import PollerHeartbeat

log = logging.getLogger(__name__)
CACHE_KEY = "chatapp:batch-poller:seen"
BEAT_EVERY = 5.0

_last_beat = 0.0


def beat_sync(place: PollerHeartbeat) -> None:
    """Record that a poller is alive now (cheap: skipped within BEAT_EVERY of the last)."""
    global _last_beat
    now = time.time()
    if now - _last_beat < BEAT_EVERY:
        return
    if place.shared:
        cache.set(CACHE_KEY, now, timeout=place.stale_seconds * 2)
    else:
        place.file.touch()
    _last_beat = now


async def beat(place: PollerHeartbeat) -> None:
    """``beat_sync`` off the event loop; a failed beat is logged, never stops the poller's
    work (readiness then says the poller was not seen, which is the truth to act on)."""
    from asgiref.sync import sync_to_async

    try:
        await sync_to_async(beat_sync, thread_sensitive=False)(place)
    except Exception:
        log.warning("The batch poller's heartbeat could not be written", exc_info=True)


def forget() -> None:
    """The next beat is written whatever the time (a new loop, or a test)."""
    global _last_beat
    _last_beat = 0.0


def last_seen(place: PollerHeartbeat) -> float | None:
    """When a poller last beat (a Unix time), or None if none ever did."""
    if place.shared:
        return cache.get(CACHE_KEY)
    try:
        return place.file.stat().st_mtime
    except FileNotFoundError:
        return None
