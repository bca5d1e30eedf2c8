"""CPU time of one frame through the embedded channel layer, by sockets in the process.

    .venv/bin/python -m benchmarks.channel_layer

Each socket is a channel in a group of its own (as a conversation's socket is); a frame is one
``group_send`` to a conversation and the ``receive`` of its socket. Channels' own
``InMemoryChannelLayer`` sweeps every channel and group on both calls; ours
(chatapp/channel_layer.py) at most once a second. Results go into docs/benchmarks.md by hand.
"""

from __future__ import annotations

import asyncio
import os
import time

FRAMES = 20_000
SOCKETS = (10, 150, 500, 1000)


async def microseconds_per_frame(layer_class: type, sockets: int) -> float:
    layer = layer_class(capacity=1500)
    names = [await layer.new_channel() for _ in range(sockets)]
    for index, name in enumerate(names):
        await layer.group_add(f"conversation.{index}", name)
    frame = {"type": "reply.frame", "frame": {"type": "delta", "seq": 1, "text": "Hello there"}}
    started = time.process_time()
    for number in range(FRAMES):
        index = number % sockets
        await layer.group_send(f"conversation.{index}", frame)
        await layer.receive(names[index])
    return (time.process_time() - started) / FRAMES * 1e6


async def main() -> None:
    from channels.layers import InMemoryChannelLayer

    from chatapp.channel_layer import SweptInMemoryChannelLayer

    print("| sockets in the process | Channels' InMemoryChannelLayer | SweptInMemoryChannelLayer |")
    print("|---|---|---|")
    for sockets in SOCKETS:
        theirs = await microseconds_per_frame(InMemoryChannelLayer, sockets)
        ours = await microseconds_per_frame(SweptInMemoryChannelLayer, sockets)
        print(f"| {sockets} | {theirs:.0f} µs | {ours:.0f} µs |")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    asyncio.run(main())
