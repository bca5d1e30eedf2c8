"""The ORM thread under a burst: a message on its way to Claude goes before work that can wait,
and older messages before newer ones (issue 18)."""

import asyncio
import threading

import pytest
from asgiref.sync import SyncToAsync
from channels.db import database_sync_to_async

from chatapp.replies import orm_thread


def test_the_app_runs_orm_calls_on_the_oldest_first_thread():
    assert isinstance(SyncToAsync.single_thread_executor, orm_thread.OldestFirstExecutor)


@pytest.mark.django_db(transaction=True)  # the thread closes stale connections around each call
async def test_calls_of_messages_on_their_way_go_first_oldest_first():
    ran: list[str] = []
    release = threading.Event()

    def hold() -> None:  # keeps the thread busy while the others queue
        release.wait(10)

    def note(name: str) -> None:
        ran.append(name)

    async def message(name: str, *, asked: bool = False) -> None:
        orm_thread.arrived()
        if asked:
            orm_thread.asked()
        await database_sync_to_async(note)(name)

    busy = asyncio.create_task(database_sync_to_async(hold)())
    await asyncio.sleep(0.05)
    queued = [asyncio.create_task(database_sync_to_async(note)("a checkpoint"))]
    await asyncio.sleep(0.01)
    queued.append(asyncio.create_task(message("first message")))
    await asyncio.sleep(0.01)
    queued.append(asyncio.create_task(message("reply already asking", asked=True)))
    await asyncio.sleep(0.01)
    queued.append(asyncio.create_task(message("second message")))
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.gather(busy, *queued)

    assert ran == ["first message", "second message", "a checkpoint", "reply already asking"]
