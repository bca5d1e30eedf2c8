"""The thread that runs sockets' and replies' ORM calls, taking the oldest message's work first.

Channels' ``database_sync_to_async`` runs every call of every consumer (and of the reply tasks
they start) on asgiref's one thread-sensitive thread, in the order the calls were queued. A
reply's start is several such calls (the socket's session, the turn's write, the request, its
sizing, the plan, the budget), each queued only when the one before has returned. So when
fifty messages arrive at once, every reply's second call waits behind the other forty-nine's
first, and all fifty replies ask Claude together at the very end of the burst (issue 18: the
first token ~1 s late for every one of them).

Here the calls of a message on its way to Claude go first, the oldest message's first: each
call carries its message's arrival (``arrived``, set by the consumer when a frame comes in and
inherited by the tasks of the reply it starts) until the reply is about to ask Claude
(``asked``). The first message's reply then goes through all its calls before the second's,
and the replies ask Claude one after another instead of all at the end. Every other call (a
socket connecting, a checkpoint, a final write, a title) waits for those and is taken in the
order queued, as before. Still one thread: SQLite has one writer, and the calls were never
parallel.
"""

import contextvars
import heapq
import itertools
import math
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import SyncToAsync


class _Arrival:
    """When a message arrived; None once its reply has asked Claude. Shared (not copied) by
    every task the message's handling starts, so ``asked`` reaches them all."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at: float | None = time.monotonic()


_arrival: contextvars.ContextVar[_Arrival | None] = contextvars.ContextVar(
    "chatapp_message_arrival", default=None
)


def arrived() -> None:
    """This task's ORM calls (and those of tasks it starts) are this message's, from now."""
    _arrival.set(_Arrival())


def asked() -> None:
    """The message's reply is about to ask Claude: its later calls queue like any other."""
    arrival = _arrival.get()
    if arrival is not None:
        arrival.at = None


def _key() -> tuple[int, float]:
    """(0, arrival) for a message on its way to Claude, else (1, now): those first."""
    arrival = _arrival.get()
    at = arrival.at if arrival is not None else None
    return (1, time.monotonic()) if at is None else (0, at)


class _OldestFirst:
    """The executor's work queue (the part of ``queue.SimpleQueue`` its worker uses), ordered
    by ``_key``; equal keys in the order queued. ``None`` (the shutdown wake-up) comes last,
    so no queued call is dropped."""

    def __init__(self) -> None:
        self._heap: list[tuple[tuple[int, float], int, Any]] = []
        self._order = itertools.count()
        self._ready = threading.Condition()

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        when = (2, math.inf) if item is None else _key()
        with self._ready:
            heapq.heappush(self._heap, (when, next(self._order), item))
            self._ready.notify()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        with self._ready:
            if block and not self._ready.wait_for(lambda: self._heap, timeout):
                raise queue.Empty
            if not self._heap:
                raise queue.Empty
            return heapq.heappop(self._heap)[2]

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def empty(self) -> bool:
        with self._ready:
            return not self._heap

    def qsize(self) -> int:
        with self._ready:
            return len(self._heap)


class OldestFirstExecutor(ThreadPoolExecutor):
    """One thread, the oldest message's calls first."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="orm")
        self._work_queue = _OldestFirst()  # type: ignore[assignment]


def install() -> None:
    """Make it the thread ``database_sync_to_async`` (thread-sensitive, outside a request's own
    ``ThreadSensitiveContext``) runs on. Once per process, before the first socket."""
    if not isinstance(SyncToAsync.single_thread_executor, OldestFirstExecutor):
        SyncToAsync.single_thread_executor = OldestFirstExecutor()
