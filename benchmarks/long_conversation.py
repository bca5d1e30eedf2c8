"""CPU of one reply as a conversation grows: the app's own work per exchange, by history length.

    .venv/bin/python -m benchmarks.long_conversation [--exchanges 200] [--block 40]

Runs the real app in this process (a throw-away SQLite database, `replies.start_reply`, the
SDK) against the offline upstream in a process of its own, unpaced, so that this process's CPU
time is the app's alone. Each question asks for a 20-token answer; the table gives the CPU
time per exchange over each block of exchanges (the title of the first is left out). Results
go into docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from benchmarks.contract import setup_django
from benchmarks.relay_servers import start_upstream, stop

MODEL = "claude-sonnet-4-6"


async def cpu_per_exchange(exchanges: int, block: int) -> list[tuple[int, int, float]]:
    from channels.db import database_sync_to_async

    from chatapp.policies.replies import reply_policy
    from chatapp.replies import registry
    from chatapp.replies import service as replies
    from tests.factories import make_conversation, make_user

    user = await database_sync_to_async(make_user)()
    conversation = await database_sync_to_async(make_conversation)(user, model=MODEL)
    policy = reply_policy()
    await replies.start_reply(conversation.pk, "Hello [[tokens:20]]", MODEL, policy=policy)
    await registry.wait_for_all()  # the first exchange and its title
    rows = []
    for first in range(1, exchanges + 1, block):
        started = time.process_time()
        for number in range(first, first + block):
            await replies.start_reply(
                conversation.pk, f"Question {number} [[tokens:20]]", MODEL, policy=policy
            )
            await registry.wait_for_all()
        rows.append((first, first + block - 1, (time.process_time() - started) / block))
    await registry.shutdown()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.long_conversation",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=200)
    parser.add_argument("--block", type=int, default=40)
    options = parser.parse_args()
    url, upstream = start_upstream(0, 0, event_ms="0")
    try:
        setup_django(url, tempfile.mkdtemp(prefix="chatapp-bench-"))
        rows = asyncio.run(cpu_per_exchange(options.exchanges, options.block))
    finally:
        stop(upstream)
    print("| exchanges | CPU per exchange |")
    print("|---|---|")
    for first, last, seconds in rows:
        print(f"| {first}–{last} | {seconds * 1000:.1f} ms |")


if __name__ == "__main__":
    main()
