"""The channel layers: the embedded one delivers exactly what Channels' in-memory layer
delivers and still forgets expired messages and memberships, only sweeping for them at most
once a second; neither loses frames when a busy process falls behind."""

import asyncio

from channels.layers import get_channel_layer

from chatapp.streaming.channel_layer import SweptInMemoryChannelLayer


async def member(layer, group: str) -> str:
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return channel


def test_the_embedded_default_is_the_swept_layer_and_redis_is_used_when_configured(settings):
    from channels_redis.pubsub import RedisPubSubChannelLayer

    expected = RedisPubSubChannelLayer if settings.REDIS_URL else SweptInMemoryChannelLayer
    assert type(get_channel_layer()) is expected


async def test_a_group_frame_reaches_every_member_once_and_in_order():
    layer = SweptInMemoryChannelLayer()
    first, second = await member(layer, "conversation.1"), await member(layer, "conversation.1")
    other = await member(layer, "conversation.2")
    for seq in (1, 2):
        await layer.group_send("conversation.1", {"type": "reply.frame", "seq": seq})
    for channel in (first, second):
        assert [(await layer.receive(channel))["seq"] for _ in range(2)] == [1, 2]
    assert other not in layer.channels  # nothing was queued for another conversation


async def test_a_member_whose_queue_is_full_misses_the_frame_and_the_others_get_it():
    layer = SweptInMemoryChannelLayer(capacity=1)
    full, fine = await member(layer, "conversation.1"), await member(layer, "conversation.1")
    await layer.send(full, {"type": "reply.frame", "seq": 0})
    await layer.group_send("conversation.1", {"type": "reply.frame", "seq": 1})
    assert (await layer.receive(full))["seq"] == 0
    assert (await layer.receive(fine))["seq"] == 1


async def test_a_frame_is_a_copy_so_a_receiver_cannot_change_what_others_get():
    layer = SweptInMemoryChannelLayer()
    first, second = await member(layer, "conversation.1"), await member(layer, "conversation.1")
    await layer.group_send("conversation.1", {"type": "reply.frame", "text": ["a"]})
    (await layer.receive(first))["text"].append("changed")
    assert (await layer.receive(second))["text"] == ["a"]


async def test_expired_messages_and_their_channels_memberships_are_still_swept_away():
    layer = SweptInMemoryChannelLayer(expiry=-1, sweep_every=0)  # everything is already stale
    stale = await member(layer, "conversation.1")
    await layer.group_send("conversation.1", {"type": "reply.frame"})
    await layer.group_send("conversation.2", {"type": "reply.frame"})  # the next call sweeps
    assert stale not in layer.channels and stale not in layer.groups.get("conversation.1", {})


async def test_between_sweeps_nothing_is_swept():
    layer = SweptInMemoryChannelLayer(expiry=-1, sweep_every=3600)
    await layer.group_send("conversation.0", {"type": "reply.frame"})  # the first call sweeps
    kept = await member(layer, "conversation.1")
    await layer.group_send("conversation.1", {"type": "reply.frame"})  # within the hour
    assert kept in layer.groups["conversation.1"] and not layer.channels[kept].empty()


async def test_a_busy_process_falls_thousands_of_frames_behind_without_losing_one():
    """Whichever layer runs this pass: 20 sockets of one process, 2,000 frames in all, sent
    before any is read (channels_redis's list-based layer queued all of a process's sockets
    together, and dropped frames beyond its capacity)."""
    layer = get_channel_layer()
    sockets = [await member(layer, f"test-backlog.{index}") for index in range(20)]
    try:
        for seq in range(100):
            for index in range(20):
                await layer.group_send(f"test-backlog.{index}", {"type": "reply.frame", "seq": seq})
        for channel in sockets:  # a dropped frame would leave a receive waiting: fail instead
            received = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(100)]
            assert [frame["seq"] for frame in received] == list(range(100))
    finally:
        for index, channel in enumerate(sockets):
            await layer.group_discard(f"test-backlog.{index}", channel)
