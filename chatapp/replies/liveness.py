"""Is anyone still writing this reply? Heartbeats of running replies, and a sweeper that
marks replies whose process died as interrupted.

With several server processes (REDIS_URL) a process that crashes or is killed leaves its
replies "streaming" in the database, and nobody else knows. So every process announces its
running replies in Redis (``chatapp:alive:<id>``, refreshed every ``CHATAPP_HEARTBEAT_SECONDS``,
expiring after three intervals), and every process that holds sockets or runs replies sweeps:
a streaming reply without a heartbeat is marked interrupted with the text its live state (or
last checkpoint) holds, and its sockets are told. One process alone (no Redis) needs none of
this: at start-up nothing else can be writing, so everything streaming is interrupted.
"""

import asyncio
import logging
import weakref
from collections.abc import Callable
from datetime import timedelta

from channels.db import database_sync_to_async
from django.db.models import Q
from django.utils import timezone

from chatapp.conversations.presenters import completed_frame
from chatapp.models import Message, MessageStatus
from chatapp.replies import checkpoints
from chatapp.replies.policy import ProcessPolicy
from chatapp.streaming import broadcast
from chatapp.streaming.live import get_live_store

logger = logging.getLogger(__name__)

LocalIds = Callable[[], set[int]]
ORPHAN_MESSAGE = "The server process writing this reply stopped."


def _key(message_id: int) -> str:
    return f"chatapp:alive:{message_id}"


def ttl_seconds(process: ProcessPolicy) -> float:
    return process.heartbeat_seconds * 3


_redis_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, object]"
_redis_clients = weakref.WeakKeyDictionary()


def _redis(redis_url: str):
    import redis.asyncio as aioredis

    loop = asyncio.get_running_loop()
    client = _redis_clients.get(loop)
    if client is None:
        client = _redis_clients[loop] = aioredis.from_url(redis_url)
    return client


async def beat(message_ids: set[int], process: ProcessPolicy) -> None:
    """Announce these replies alive for three heartbeat intervals (no-op without Redis)."""
    if not process.redis_url or not message_ids:
        return
    milliseconds = int(ttl_seconds(process) * 1000)
    async with _redis(process.redis_url).pipeline(transaction=False) as pipe:
        for message_id in message_ids:
            pipe.set(_key(message_id), 1, px=milliseconds)
        await pipe.execute()


async def forget(message_id: int, process: ProcessPolicy) -> None:
    if process.redis_url:
        await _redis(process.redis_url).delete(_key(message_id))


async def _alive(message_ids: list[int], redis_url: str) -> set[int]:
    if not message_ids:
        return set()
    values = await _redis(redis_url).mget([_key(message_id) for message_id in message_ids])
    return {message_id for message_id, value in zip(message_ids, values, strict=True) if value}


# --- Sweeping ------------------------------------------------------------------------------


def _suspects(quiet_since) -> list[tuple[int, int]]:
    rows = Message.objects.filter(status=MessageStatus.STREAMING)
    if quiet_since is not None:
        rows = rows.filter(Q(updated_at__lt=quiet_since))
    return list(rows.values_list("pk", "conversation_id"))


def _interrupt(message_id: int, text: str | None) -> Message | None:
    """Streaming → interrupted, only if it still is (its own process may just have ended it);
    the calls its last checkpoint knew of are billed as estimates (chatapp/replies/checkpoints.py).
    ``text``: the live state's, fresher than the last checkpoint."""
    return checkpoints.end_orphan(
        message_id,
        status=MessageStatus.INTERRUPTED,
        error_code="interrupted",
        error_message=ORPHAN_MESSAGE,
        text=text,
    )


async def sweep(local_ids: LocalIds, process: ProcessPolicy, *, grace: bool = True) -> list[int]:
    """Mark streaming replies that no process is writing as interrupted; returns their ids.

    ``grace``: leave replies alone that changed within the last heartbeat TTL (one that has
    just started may not have beaten yet)."""
    if not process.redis_url:
        return []
    quiet_since = timezone.now() - timedelta(seconds=ttl_seconds(process)) if grace else None
    suspects = [
        (message_id, conversation_id)
        for message_id, conversation_id in await database_sync_to_async(_suspects)(quiet_since)
        if message_id not in local_ids()
    ]
    alive = await _alive([message_id for message_id, _ in suspects], process.redis_url)
    interrupted = []
    live = get_live_store(process.redis_url)
    for message_id, conversation_id in suspects:
        if message_id in alive:
            continue
        state = await live.read(message_id)
        reply = await database_sync_to_async(_interrupt)(message_id, state.text if state else None)
        if reply is None:
            continue
        await live.clear(message_id)
        await broadcast.publish(conversation_id, completed_frame(reply, state.seq if state else 0))
        logger.warning("reply %s had no heartbeat: marked interrupted", message_id)
        interrupted.append(message_id)
    return interrupted


async def keep_watch(local_ids: LocalIds, process: ProcessPolicy) -> None:
    """This process's watch: beat for its replies and sweep for dead ones, every interval."""
    while True:
        try:
            await beat(local_ids(), process)
            await sweep(local_ids, process)
        except asyncio.CancelledError:
            raise
        except Exception:  # Redis or the database away for a moment: try again next time
            logger.exception("liveness watch failed")
        await asyncio.sleep(process.heartbeat_seconds)
