"""What the operations package is told by the deployment (built from settings by
``chatapp/policies/operations.py`` at the edges: the probes' view, the batch poller's command)."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PollerHeartbeat:
    """Where the batch poller's heartbeat is kept, and when it is stale (``heartbeat.py``).

    - ``shared``: ``REDIS_URL`` is set: the heartbeat is a key of the shared cache, which every
      process reads; else a file's modification time (one machine);
    - ``file``: ``CHATAPP_BATCH_POLLER_HEARTBEAT_FILE``;
    - ``stale_seconds``: ``CHATAPP_BATCH_POLLER_STALE_SECONDS``.
    """

    shared: bool
    file: Path
    stale_seconds: int


@dataclass(frozen=True)
class Readiness:
    """What ``/readyz`` checks (``health.py``).

    - ``redis``: ``REDIS_URL`` is set: the channel layer is Redis, pinged once;
    - ``needs_batch_poller``: ``CHATAPP_READY_NEEDS_BATCH_POLLER``;
    - ``heartbeat``: where to look for the poller.
    """

    redis: bool
    needs_batch_poller: bool
    heartbeat: PollerHeartbeat
