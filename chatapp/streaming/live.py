"""The live state of streaming replies: their text so far and the last ``seq`` published.

A socket that joins mid-reply reads it to catch up (see docs/protocol.md, "Gap-free,
duplicate-free delivery"). In one process a dict is enough; with REDIS_URL every process
sees the same state, so a reply generated in one process can be resumed from another.
Updated once per coalesced flush (tens of ms), never per token.
"""

import asyncio
import json
import weakref
from dataclasses import dataclass, field
from typing import Any, Protocol

EXPIRY_SECONDS = 6 * 3600


@dataclass(frozen=True)
class LiveState:
    seq: int
    text: str
    thinking: str = ""
    # Tool cards by call id, in the order they started (see ReplyRelay's ToolCard).
    tools: tuple[dict[str, Any], ...] = field(default_factory=tuple)


class LiveStore(Protocol):
    async def begin(self, message_id: int) -> None: ...
    async def append(self, message_id: int, seq: int, text: str, thinking: str = "") -> None: ...
    async def reset(self, message_id: int, seq: int, text: str, thinking: str = "") -> None: ...
    async def put_tool(self, message_id: int, seq: int, card: dict[str, Any]) -> None: ...
    async def read(self, message_id: int) -> LiveState | None: ...
    async def clear(self, message_id: int) -> None: ...


@dataclass
class _MemoryState:
    seq: int = 0
    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)


def _joined(parts: list[str]) -> str:
    if len(parts) > 1:  # join once, so repeated reads stay cheap
        parts[:] = ["".join(parts)]
    return parts[0] if parts else ""


class MemoryLiveStore:
    def __init__(self) -> None:
        self._states: dict[int, _MemoryState] = {}

    async def begin(self, message_id: int) -> None:
        self._states[message_id] = _MemoryState()

    async def append(self, message_id: int, seq: int, text: str, thinking: str = "") -> None:
        state = self._states.setdefault(message_id, _MemoryState())
        state.text.append(text)
        state.thinking.append(thinking)
        state.seq = seq

    async def reset(self, message_id: int, seq: int, text: str, thinking: str = "") -> None:
        state = self._states.setdefault(message_id, _MemoryState())
        state.seq, state.text, state.thinking = seq, [text], [thinking]

    async def put_tool(self, message_id: int, seq: int, card: dict[str, Any]) -> None:
        state = self._states.setdefault(message_id, _MemoryState())
        state.tools[card["id"]] = card
        state.seq = seq

    async def read(self, message_id: int) -> LiveState | None:
        state = self._states.get(message_id)
        if state is None:
            return None
        return LiveState(
            state.seq, _joined(state.text), _joined(state.thinking), tuple(state.tools.values())
        )

    async def clear(self, message_id: int) -> None:
        self._states.pop(message_id, None)


class RedisLiveStore:
    """Text is APPENDed and seq SET in one MULTI, so a reader never sees one without the other."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url)

    @staticmethod
    def _keys(message_id: int) -> tuple[str, str, str, str]:
        prefix = f"chatapp:live:{message_id}"
        return f"{prefix}:text", f"{prefix}:seq", f"{prefix}:thinking", f"{prefix}:tools"

    async def begin(self, message_id: int) -> None:
        await self.reset(message_id, 0, "")

    async def append(self, message_id: int, seq: int, text: str, thinking: str = "") -> None:
        text_key, seq_key, thinking_key, _ = self._keys(message_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.append(text_key, text.encode()).set(seq_key, seq, ex=EXPIRY_SECONDS)
            pipe.expire(text_key, EXPIRY_SECONDS)
            if thinking:
                pipe.append(thinking_key, thinking.encode()).expire(thinking_key, EXPIRY_SECONDS)
            await pipe.execute()

    async def reset(self, message_id: int, seq: int, text: str, thinking: str = "") -> None:
        text_key, seq_key, thinking_key, _ = self._keys(message_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(text_key, text.encode(), ex=EXPIRY_SECONDS)
            pipe.set(thinking_key, thinking.encode(), ex=EXPIRY_SECONDS)
            pipe.set(seq_key, seq, ex=EXPIRY_SECONDS)
            await pipe.execute()

    async def put_tool(self, message_id: int, seq: int, card: dict[str, Any]) -> None:
        _, seq_key, _, tools_key = self._keys(message_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(tools_key, card["id"], json.dumps(card)).expire(tools_key, EXPIRY_SECONDS)
            pipe.set(seq_key, seq, ex=EXPIRY_SECONDS)
            await pipe.execute()

    async def read(self, message_id: int) -> LiveState | None:
        text_key, seq_key, thinking_key, tools_key = self._keys(message_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.mget(text_key, seq_key, thinking_key).hvals(tools_key)
            (text, seq, thinking), tools = await pipe.execute()
        if seq is None:
            return None
        cards = sorted((json.loads(raw) for raw in tools), key=lambda card: card.get("order", 0))
        return LiveState(
            int(seq), (text or b"").decode(), (thinking or b"").decode(), tuple(cards)
        )

    async def clear(self, message_id: int) -> None:
        await self._redis.delete(*self._keys(message_id))


_memory_store = MemoryLiveStore()
_redis_stores: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RedisLiveStore]"
_redis_stores = weakref.WeakKeyDictionary()


def get_live_store(redis_url: str) -> LiveStore:
    """Redis at ``redis_url`` (REDIS_URL; one connection pool per event loop), else ("") this
    process's dict."""
    if not redis_url:
        return _memory_store
    loop = asyncio.get_running_loop()
    store = _redis_stores.get(loop)
    if store is None:
        store = _redis_stores[loop] = RedisLiveStore(redis_url)
    return store
