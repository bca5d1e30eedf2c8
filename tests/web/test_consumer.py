"""The conversation socket, end to end: real ASGI app, real SDK, offline upstream."""

import asyncio
import json
import threading

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer

from chatapp.models import Conversation, Message, MessageStatus, UsageRecord
from chatapp.replies import registry
from chatapp.streaming import broadcast
from tests.factories import make_conversation, make_user
from tests.sockets import close_code, frames_until, next_frame, open_socket, send, streamed_text

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
async def owner():
    return await database_sync_to_async(make_user)()


@pytest.fixture
async def conversation(owner):
    return await database_sync_to_async(make_conversation)(owner)


async def open_ready(user, conversation_id):
    socket, connected = await open_socket(user, conversation_id)
    assert connected
    assert (await next_frame(socket))["type"] == "ready"
    return socket


def fetch(message_id) -> Message:
    return Message.objects.get(pk=message_id)


# --- Who may connect -----------------------------------------------------------------------


async def test_anonymous_visitors_are_closed_with_4401(conversation):
    socket, _ = await open_socket(None, conversation.pk)
    assert await close_code(socket) == 4401


async def test_someone_elses_conversation_is_closed_with_4403(conversation):
    stranger = await database_sync_to_async(make_user)()
    socket, _ = await open_socket(stranger, conversation.pk)
    assert await close_code(socket) == 4403


async def test_unknown_conversation_is_closed_with_4404(owner):
    socket, _ = await open_socket(owner, 999_999)
    assert await close_code(socket) == 4404


async def test_foreign_origin_is_refused(owner, conversation):
    socket, connected = await open_socket(owner, conversation.pk, origin=b"https://evil.example")
    assert not connected
    await socket.wait(timeout=10)


# --- Frames --------------------------------------------------------------------------------


async def test_malformed_frame_gets_an_error_and_the_socket_stays_open(
    claude, owner, conversation, finish_replies
):
    socket = await open_ready(owner, conversation.pk)
    await socket.send_to(text_data="{not json")
    error = await next_frame(socket)
    assert error == {
        "type": "error", "code": "bad_frame", "message": "The frame is not valid JSON."
    }
    await send(socket, type="user_message", text="still there?")
    frames = await frames_until(socket, "message_completed")
    assert frames[-1]["status"] == "complete"
    await socket.disconnect()


async def test_unknown_model_is_refused_before_anything_is_saved(owner, conversation):
    socket = await open_ready(owner, conversation.pk)
    await send(socket, type="user_message", text="hi", model="gpt-5")
    error = await next_frame(socket)
    assert error["code"] == "bad_frame" and "gpt-5" in error["message"]
    assert not await Message.objects.filter(conversation=conversation).aexists()
    await socket.disconnect()


# --- One reply -----------------------------------------------------------------------------


async def test_a_reply_streams_in_order_and_is_stored_with_usage_and_cost(
    claude, owner, conversation, finish_replies
):
    socket = await open_ready(owner, conversation.pk)
    await send(socket, type="user_message", text="What is a cache breakpoint?")
    frames = await frames_until(socket, "message_completed")

    created, started = frames[0], frames[1]
    assert created["type"] == "message_created"
    assert created["message"]["text"] == "What is a cache breakpoint?"
    assert started["type"] == "message_started"
    reply_id = started["message_id"]
    deltas = [f for f in frames if f["type"] == "delta"]
    assert [d["seq"] for d in deltas] == list(range(1, len(deltas) + 1))

    completed = frames[-1]
    reply = await database_sync_to_async(fetch)(reply_id)
    assert reply.status == MessageStatus.COMPLETE
    assert streamed_text(frames, reply_id) == reply.text
    assert "What is a cache breakpoint?" in reply.text  # the upstream quotes the question
    assert completed["stop_reason"] == "end_turn"
    assert completed["usage"]["input_tokens"] > 0 and completed["usage"]["output_tokens"] > 0
    assert completed["cost_usd"] == str(reply.cost_usd.normalize())
    assert reply.input_tokens == completed["usage"]["input_tokens"]
    assert reply.ttft_ms is not None and reply.duration_ms >= reply.ttft_ms
    record = await UsageRecord.objects.aget(message_id=reply_id)
    assert record.cost_usd == reply.cost_usd and record.purpose == "reply"
    await socket.disconnect()


async def test_the_question_is_saved_before_the_upstream_is_called(
    claude, owner, conversation, finish_replies
):
    claude.add_faults([{"kind": "status", "status": 529}])
    socket = await open_ready(owner, conversation.pk)
    await send(socket, type="user_message", text="Are you there?")
    frames = await frames_until(socket, "message_completed")
    assert frames[-1]["status"] == "error"
    assert frames[-1]["error"]["code"] == "overloaded"
    assert "overloaded" in frames[-1]["error"]["message"].lower()
    texts = [m.text async for m in Message.objects.filter(conversation=conversation)]
    assert texts[0] == "Are you there?"
    # Nothing reached Claude, so nothing is billed.
    assert not await UsageRecord.objects.filter(message__conversation=conversation).aexists()
    await socket.disconnect()


async def test_a_first_exchange_gets_a_title_from_the_cheapest_model(
    claude, owner, conversation, finish_replies
):
    socket = await open_ready(owner, conversation.pk)
    await send(socket, type="user_message", text="Plan a trip to Lisbon")
    updated = await frames_until(socket, "conversation_updated")
    title = updated[-1]["title"]
    assert title
    assert (await Conversation.objects.aget(pk=conversation.pk)).title == title
    record = await UsageRecord.objects.aget(purpose="title")
    assert record.model == "claude-haiku-5-5" and record.cost_usd is not None
    await socket.disconnect()


async def test_a_second_message_while_streaming_is_refused(
    claude, owner, conversation, finish_replies
):
    claude.set_pace(100)
    socket = await open_ready(owner, conversation.pk)
    await send(socket, type="user_message", text="long one [[tokens:300]]")
    await frames_until(socket, "delta")
    await send(socket, type="user_message", text="and another")
    error = await frames_until(socket, "error")
    assert error[-1]["code"] == "busy"
    await send(socket, type="stop")
    await frames_until(socket, "message_completed")
    await socket.disconnect()


# --- Joining late, leaving early, stopping --------------------------------------------------


async def test_a_socket_that_joins_mid_reply_gets_all_text_once(
    claude, owner, conversation, finish_replies
):
    claude.set_pace(200)
    first = await open_ready(owner, conversation.pk)
    await send(first, type="user_message", text="Tell me a long story [[tokens:300]]")
    seen_by_first = await frames_until(first, "delta")
    seen_by_first += await frames_until(first, "delta")  # two flushes before the join

    late, connected = await open_socket(owner, conversation.pk)
    assert connected
    state = await next_frame(late)
    assert state["type"] == "reply_state" and state["seq"] >= 2
    assert (await next_frame(late)) == {"type": "ready", "streaming": [state["message_id"]]}
    seen_by_late = [state, *await frames_until(late, "message_completed")]
    seen_by_first += await frames_until(first, "message_completed")

    reply = await database_sync_to_async(fetch)(state["message_id"])
    assert streamed_text(seen_by_late, reply.pk) == reply.text
    assert streamed_text(seen_by_first, reply.pk) == reply.text
    await first.disconnect()
    await late.disconnect()


async def test_frames_reach_the_socket_while_the_orm_thread_is_busy(owner, conversation):
    # Under a burst the one ORM thread is busy with other replies' writes: relaying a frame
    # must not wait for it (Channels' dispatch ran close_old_connections there per event).
    socket = await open_ready(owner, conversation.pk)
    loop = asyncio.get_running_loop()
    holding, release = loop.create_future(), threading.Event()

    def hold() -> None:
        loop.call_soon_threadsafe(holding.set_result, None)
        release.wait(60)

    busy = asyncio.create_task(database_sync_to_async(hold)())
    try:
        await holding
        frame = {"type": "notice", "message_id": 1, "text": "still relayed"}
        await broadcast.publish(conversation.pk, frame)
        assert json.loads(await socket.receive_from(timeout=5)) == frame
    finally:
        release.set()
        await busy
    await socket.disconnect()


def group_size(layer, group: str) -> int:
    """This process's members of a group, as the channel layer keeps them (in memory; or, for
    channels_redis's pub/sub layer, the sockets it hands the group's messages to)."""
    if isinstance(layer, InMemoryChannelLayer):
        return len(layer.groups.get(group, {}))
    return len(layer.groups.get(layer._get_group_channel_name(group), ()))


async def test_a_closed_socket_leaves_nothing_behind_in_the_channel_layer(owner, conversation):
    # Memory stays flat over 10,000 connect/disconnect cycles (docs/benchmarks.md, item 7)
    # only if a socket that has gone keeps neither its group membership nor its queue.
    layer = get_channel_layer()
    group = broadcast.group_name(conversation.pk)
    # The first socket starts the process's one listener for stop requests, on a channel of
    # its own; that one stays.
    await (await open_ready(owner, conversation.pk)).disconnect()
    channels_before = set(getattr(layer, "channels", ()))
    socket = await open_ready(owner, conversation.pk)
    assert group_size(layer, group) == 1
    await socket.disconnect()
    assert group_size(layer, group) == 0
    assert set(layer.channels) <= channels_before  # its queue is gone too


async def test_closing_the_socket_does_not_stop_the_reply(
    claude, owner, conversation, finish_replies
):
    claude.set_pace(300)
    socket = await open_ready(owner, conversation.pk)
    await send(socket, type="user_message", text="Keep going [[tokens:200]]")
    started = await frames_until(socket, "delta")
    await socket.disconnect()
    await registry.wait_for_all()
    reply = await database_sync_to_async(fetch)(started[1]["message_id"])
    assert reply.status == MessageStatus.COMPLETE
    assert reply.output_tokens >= 150


async def test_stop_keeps_the_partial_text_and_bills_what_was_used(
    claude, owner, conversation, finish_replies
):
    claude.set_pace(100)
    socket = await open_ready(owner, conversation.pk)
    await send(socket, type="user_message", text="Write at length [[tokens:2000]]")
    frames = await frames_until(socket, "delta")
    await send(socket, type="stop")
    frames += await frames_until(socket, "message_completed")
    reply = await database_sync_to_async(fetch)(frames[1]["message_id"])

    assert frames[-1]["status"] == "cancelled"
    assert reply.status == MessageStatus.CANCELLED
    assert reply.text and reply.text == streamed_text(frames, reply.pk)
    assert 0 < reply.output_tokens < 2000
    assert reply.input_tokens > 0 and reply.cost_usd > 0
    assert reply.cost_breakdown.get("output_estimated") is True
    await socket.disconnect()


async def test_an_error_mid_stream_keeps_what_was_written(
    claude, owner, conversation, finish_replies, settings
):
    settings.CHATAPP_STREAM_RECOVERIES = 0  # recovery: see tests/replies/test_generation.py
    claude.add_faults([{"kind": "error_event", "after_tokens": 20,
                        "error_type": "overloaded_error"}])
    socket = await open_ready(owner, conversation.pk)
    await send(socket, type="user_message", text="Go [[tokens:200]]")
    frames = await frames_until(socket, "message_completed")
    reply = await database_sync_to_async(fetch)(frames[1]["message_id"])
    assert frames[-1]["status"] == "interrupted" and frames[-1]["error"]["code"] == "overloaded"
    assert reply.text == streamed_text(frames, reply.pk) != ""
    assert reply.input_tokens > 0  # the attempt reached Claude and is billed
    await socket.disconnect()


async def test_retry_replaces_a_failed_reply_and_keeps_the_old_one(
    claude, owner, conversation, finish_replies
):
    claude.add_faults([{"kind": "status", "status": 400}])
    socket = await open_ready(owner, conversation.pk)
    await send(socket, type="user_message", text="Try this")
    failed = await frames_until(socket, "message_completed")
    failed_id = failed[-1]["message_id"]
    assert failed[-1]["status"] == "error" and failed[-1]["error"]["code"] == "invalid_request"

    await send(socket, type="regenerate", message_id=failed_id)
    retried = await frames_until(socket, "message_completed")
    assert retried[-1]["status"] == "complete" and retried[-1]["message_id"] != failed_id
    old = await database_sync_to_async(fetch)(failed_id)
    assert old.superseded and old.status == MessageStatus.ERROR
    await socket.disconnect()


async def test_regenerating_another_conversations_message_is_not_found(
    claude, owner, conversation, finish_replies
):
    other = await database_sync_to_async(make_conversation)(owner)
    socket = await open_ready(owner, other.pk)
    await send(socket, type="user_message", text="hello")
    done = await frames_until(socket, "message_completed")
    await socket.disconnect()

    socket = await open_ready(owner, conversation.pk)
    await send(socket, type="regenerate", message_id=done[-1]["message_id"])
    assert (await next_frame(socket))["code"] == "not_found"
    await socket.disconnect()
