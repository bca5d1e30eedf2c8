"""CPU time of one frame through the channel layers, by sockets in the process.

    .venv/bin/python -m benchmarks.channel_layer [--redis redis://127.0.0.1:6379/13]

Each socket is a channel in a group of its own (as a conversation's socket is); a frame is one
``group_send`` to a conversation and the ``receive`` of its socket. Channels' own
``InMemoryChannelLayer`` sweeps every channel and group on both calls; ours
(chatapp/streaming/channel_layer.py) at most once a second. With ``--redis``, also channels_redis's
``RedisChannelLayer`` (production's) and ``RedisPubSubChannelLayer``: CPU of this process
only (Redis's own is not counted). Results go into docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

FRAMES = 5_000
SOCKETS = (10, 150, 500, 1000)


async def microseconds_per_frame(layer: Any, sockets: int) -> float:
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


def layers(redis_url: str) -> dict[str, Any]:
    from channels.layers import InMemoryChannelLayer

    from chatapp.streaming.channel_layer import SweptInMemoryChannelLayer

    found: dict[str, Any] = {
        "Channels' InMemoryChannelLayer": lambda: InMemoryChannelLayer(capacity=1500),
        "SweptInMemoryChannelLayer": lambda: SweptInMemoryChannelLayer(capacity=1500),
    }
    if redis_url:
        from channels_redis.core import RedisChannelLayer
        from channels_redis.pubsub import RedisPubSubChannelLayer

        found["RedisChannelLayer"] = lambda: RedisChannelLayer(hosts=[redis_url])
        found["RedisPubSubChannelLayer"] = lambda: RedisPubSubChannelLayer(hosts=[redis_url])
    return found


async def main(redis_url: str) -> None:
    chosen = layers(redis_url)
    print("| sockets in the process | " + " | ".join(chosen) + " |")
    print("|---|" + "---|" * len(chosen))
    for sockets in SOCKETS if not redis_url else SOCKETS[:3]:
        cells = []
        for make in chosen.values():
            layer = make()
            cells.append(f"{await microseconds_per_frame(layer, sockets):.0f} µs")
            await layer.flush()
        print(f"| {sockets} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    parser = argparse.ArgumentParser(prog="python -m benchmarks.channel_layer")
    parser.add_argument("--redis", default="", help="also measure the Redis layers on this URL")
    asyncio.run(main(parser.parse_args().redis))
