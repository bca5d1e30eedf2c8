"""This process's running replies: each a task owned here rather than by any socket, so that
closing a tab neither stops nor loses it. Stop requests reach the process that runs a reply
through the channel layer (with Redis, a socket held by one process can stop a reply another
generates); heartbeats and the sweeper for dead processes run beside them (liveness.py); a
stopping process gives its replies a grace period (shutdown.py)."""

import asyncio
import logging
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from chatapp.billing import reservations
from chatapp.models import (
    ClaudeModel,
    Message,
    MessageStatus,
)
from chatapp.replies import (
    compaction,
    liveness,
)
from chatapp.replies import shutdown as shutdown_hook
from chatapp.replies.generation import ReplyGeneration
from chatapp.replies.policy import ProcessPolicy, ReplyPolicy
from chatapp.streaming.relay import ReplyRelay

logger = logging.getLogger(__name__)


CONTROL_GROUP = "chatapp.reply-control"


@dataclass
class ReplyJob:
    conversation_id: int
    message_id: int
    user_id: int
    model: str
    policy: ReplyPolicy  # read when the reply started
    relay: ReplyRelay | None = None
    task: asyncio.Task | None = None
    stop_requested: bool = False
    generation: ReplyGeneration | None = None
    continuing: bool = False  # `continue`: the reply goes on after its stored text
    initial_text: str = ""
    budget: reservations.CallBudget | None = None
    guard: compaction.ContextGuard | None = None  # its exact token counts go in the final write
    # The reply (with its conversation) and its model as the write that opened it has them:
    # the plan reads neither again (dropped once the plan is made).
    opened: tuple[Message, ClaudeModel] | None = None

    shutting_down: bool = False  # stopped because the process stops: interrupted, not cancelled

    def stop(self) -> None:
        self.stop_requested = True
        if self.relay is not None:
            self.relay.stop()


# This process's running replies, by assistant message id.
_jobs: dict[int, ReplyJob] = {}


def add(job: ReplyJob) -> None:
    _jobs[job.message_id] = job


def remove(job: ReplyJob) -> None:
    _jobs.pop(job.message_id, None)


_control_listeners: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}


_watches: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}


def _streaming_ids(conversation_id: int, message_id: int | None) -> list[int]:
    rows = Message.objects.filter(conversation_id=conversation_id, status=MessageStatus.STREAMING)
    if message_id is not None:
        rows = rows.filter(pk=message_id)
    return list(rows.values_list("pk", flat=True))


async def _request_stop(reply_id: int) -> None:
    job = _jobs.get(reply_id)
    if job is not None:
        job.stop()
    else:  # it runs in another process (or in none, if that process died)
        await get_channel_layer().group_send(
            CONTROL_GROUP, {"type": "reply.stop", "message_id": reply_id}
        )


async def stop_reply(conversation_id: int, message_id: int | None = None) -> list[int]:
    """Stop the conversation's streaming reply (or the given one), wherever it runs."""
    ids = await database_sync_to_async(_streaming_ids)(conversation_id, message_id)
    for reply_id in ids:
        await _request_stop(reply_id)
    return ids


def stop_replies_from_sync_code(conversation_id: int) -> None:
    """``stop_reply`` for sync views: the lookup stays in this thread, only the signal hops."""
    for reply_id in _streaming_ids(conversation_id, None):
        async_to_sync(_request_stop)(reply_id)


async def shutdown() -> None:
    """Stop listening for stop requests and watching (the loop is going away)."""
    for tasks in (_control_listeners, _watches):
        for loop, task in list(tasks.items()):
            if loop is asyncio.get_running_loop():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                del tasks[loop]


async def wait_for_all() -> None:
    """Wait until this process's replies have finished (tests and graceful shutdown)."""
    while _jobs:
        tasks = [job.task for job in list(_jobs.values()) if job.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)


def ensure_background(process: ProcessPolicy) -> None:
    """Listen for stop requests, beat for this process's replies and sweep for dead ones
    (sockets call this on connect, and every reply as it starts, so every process serving users
    watches). The first call in a loop decides ``process``'s Redis and intervals."""
    loop = asyncio.get_running_loop()
    listener = _control_listeners.get(loop)
    if listener is None or listener.done():
        _control_listeners[loop] = loop.create_task(_listen_for_control())
    watch = _watches.get(loop)
    if process.redis_url and (watch is None or watch.done()):
        _watches[loop] = loop.create_task(liveness.keep_watch(lambda: set(_jobs), process))
    shutdown_hook.install(finish_for_shutdown, process.shutdown_grace_seconds)




async def finish_for_shutdown(grace: float) -> None:
    """The process is stopping: replies get ``grace`` seconds, then end as interrupted."""
    running = [job.task for job in list(_jobs.values()) if job.task is not None]
    if running:
        await asyncio.wait(running, timeout=grace)
    for job in list(_jobs.values()):
        job.shutting_down = True
        job.stop()
    await wait_for_all()


async def _listen_for_control() -> None:
    layer = get_channel_layer()
    # The default prefix: channels_redis's list-based layer read all of a process's channels
    # through one "specific.<client>!" list, and another prefix starved every socket in the
    # process. The pub/sub layer used now has no such list; keep the default all the same.
    channel = await layer.new_channel()
    await layer.group_add(CONTROL_GROUP, channel)
    try:
        while True:
            event = await layer.receive(channel)
            if event.get("type") == "reply.stop":
                job = _jobs.get(event.get("message_id"))
                if job is not None:
                    job.stop()
    finally:
        await layer.group_discard(CONTROL_GROUP, channel)
