"""The live state of streaming replies: their text so far and the last ``seq`` published.

A socket that joins mid-reply reads it to catch up (see docs/protocol.md, "Gap-free,
duplicate-free delivery"). In one process a dict is enough; with REDIS_URL every process
sees the same state, so a reply generated in one process can be resumed from another.
Updated once per coalesced flush (tens of ms), never per token.
"""

import asyncio
import weakref
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

EXPIRY_SECONDS = 6 * 3600


@dataclass(frozen=True)
class LiveState:
    seq: int
    text: str


class LiveStore(Protocol):
    async def begin(self, message_id: int) -> None: ...
    async def append(self, message_id: int, seq: int, text: str) -> None: ...
    async def read(self, message_id: int) -> LiveState | None: ...
    async def clear(self, message_id: int) -> None: ...


class MemoryLiveStore:
    def __init__(self) -> None:
        self._states: dict[int, tuple[int, list[str]]] = {}

    async def begin(self, message_id: int) -> None:
        self._states[message_id] = (0, [])

    async def append(self, message_id: int, seq: int, text: str) -> None:
        _, parts = self._states.setdefault(message_id, (0, []))
        parts.append(text)
        self._states[message_id] = (seq, parts)

    async def read(self, message_id: int) -> LiveState | None:
        state = self._states.get(message_id)
        if state is None:
            return None
        seq, parts = state
        if len(parts) > 1:  # join once, so repeated reads stay cheap
            parts[:] = ["".join(parts)]
        return LiveState(seq, parts[0] if parts else "")

    async def clear(self, message_id: int) -> None:
        self._states.pop(message_id, None)


class RedisLiveStore:
    """Text is APPENDed and seq SET in one MULTI, so a reader never sees one without the other."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url)

    @staticmethod
    def _keys(message_id: int) -> tuple[str, str]:
        return f"chatapp:live:{message_id}:text", f"chatapp:live:{message_id}:seq"

    async def begin(self, message_id: int) -> None:
        text_key, seq_key = self._keys(message_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(text_key, "", ex=EXPIRY_SECONDS).set(seq_key, 0, ex=EXPIRY_SECONDS)
            await pipe.execute()

    async def append(self, message_id: int, seq: int, text: str) -> None:
        text_key, seq_key = self._keys(message_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.append(text_key, text.encode()).set(seq_key, seq, ex=EXPIRY_SECONDS)
            pipe.expire(text_key, EXPIRY_SECONDS)
            await pipe.execute()

    async def read(self, message_id: int) -> LiveState | None:
        text, seq = await self._redis.mget(self._keys(message_id))
        if seq is None:
            return None
        return LiveState(int(seq), (text or b"").decode())

    async def clear(self, message_id: int) -> None:
        await self._redis.delete(*self._keys(message_id))


_memory_store = MemoryLiveStore()
_redis_stores: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RedisLiveStore]"
_redis_stores = weakref.WeakKeyDictionary()


def get_live_store() -> LiveStore:
    """Redis when configured (one connection pool per event loop), else this process's dict."""
    if not settings.REDIS_URL:
        return _memory_store
    loop = asyncio.get_running_loop()
    store = _redis_stores.get(loop)
    if store is None:
        store = _redis_stores[loop] = RedisLiveStore(settings.REDIS_URL)
    return store
