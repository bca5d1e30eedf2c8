"""Liveness and readiness (``GET /healthz``, ``GET /readyz``), cheap enough to poll every second.

/healthz says the process answers (it touches nothing else). /readyz checks what serving needs:
the database (reachable, and every migration applied), the cache, the channel layer, and a
batch poller seen recently. Each check is one round trip at most; the migration check reads
the migration files once per process and only until it has passed once (a migration applied
later needs a new release, which restarts the process anyway). What the deployment asks of
them comes in as a ``Readiness`` (``policy.py``).
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from chatapp.operations import heartbeat
from chatapp.operations.policy import Readiness

Check = Callable[[Readiness], Awaitable[str | None]]  # None when fine, else what is wrong

_migrated = False
CHECK_TIMEOUT_SECONDS = 2.0


def _database() -> str | None:
    global _migrated
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    if not _migrated:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            return f"{len(pending)} migration(s) not applied"
        _migrated = True
    return None


async def check_database(policy: Readiness) -> str | None:
    return await sync_to_async(_database)()


async def check_cache(policy: Readiness) -> str | None:
    key, token = "chatapp:readyz", uuid.uuid4().hex
    await cache.aset(key, token, timeout=10)
    # Another process may have written its own token meanwhile: anything back means it answers.
    if await cache.aget(key) is None:
        return "the cache did not keep a value"
    return None


async def check_channel_layer(policy: Readiness) -> str | None:
    layer = get_channel_layer()
    if layer is None:
        return "no channel layer configured"
    if not policy.redis:
        return None  # the in-memory layer lives in this process: it answers if we do
    await layer.send("chatapp.readyz", {"type": "readyz.ping"})  # one PUBLISH to Redis
    return None


async def check_batch_poller(policy: Readiness) -> str | None:
    if not policy.needs_batch_poller:
        return None
    seen = await sync_to_async(heartbeat.last_seen, thread_sensitive=False)(policy.heartbeat)
    if seen is None:
        return "no batch poller has run"
    age = time.time() - seen
    if age > policy.heartbeat.stale_seconds:
        return f"the batch poller was last seen {age:.0f} s ago"
    return None


CHECKS: dict[str, Check] = {
    "database": check_database,
    "cache": check_cache,
    "channel_layer": check_channel_layer,
    "batch_poller": check_batch_poller,
}


async def _run(check: Check, policy: Readiness) -> str | None:
    try:
        return await asyncio.wait_for(check(policy), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_SECONDS:.0f} s"
    except Exception as error:  # unreachable, refused, misconfigured: say which
        return f"{type(error).__name__}: {error}"[:300]


async def readiness(policy: Readiness) -> dict[str, str]:
    """Each check's name → "ok" or what is wrong, all run side by side."""
    outcomes = await asyncio.gather(*(_run(check, policy) for check in CHECKS.values()))
    return {name: outcome or "ok" for name, outcome in zip(CHECKS, outcomes, strict=True)}
