"""The operations package's policies, from settings (called by the edges: the probes' view and
the batch poller's command)."""

from pathlib import Path

from django.conf import settings

from chatapp.operations.policy import PollerHeartbeat, Readiness


def poller_heartbeat() -> PollerHeartbeat:
    return PollerHeartbeat(
        shared=bool(settings.REDIS_URL),
        file=Path(settings.CHATAPP_BATCH_POLLER_HEARTBEAT_FILE),
        stale_seconds=settings.CHATAPP_BATCH_POLLER_STALE_SECONDS,
    )


def readiness() -> Readiness:
    return Readiness(
        redis=bool(settings.REDIS_URL),
        needs_batch_poller=settings.CHATAPP_READY_NEEDS_BATCH_POLLER,
        heartbeat=poller_heartbeat(),
    )
