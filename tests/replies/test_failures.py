"""A reply that fails in a way nobody planned for ends as an error the user can read, is billed
for what reached Claude, and leaves its conversation working (issue 24 item 5).

Both failures come for real from the offline upstream's replay fault, through the real SDK:
a text delta carrying a lone surrogate escape (``"\\ud800"``: valid JSON, decoded by Python
into a str no later request can encode), and a stream the SDK cannot make sense of.
"""

import json
import logging

import pytest
from channels.db import database_sync_to_async

from chatapp.models import Conversation, Message, MessageStatus, UsageRecord
from chatapp.replies import registry
from chatapp.streaming.relay import UNEXPECTED_FAILURE
from tests.factories import make_conversation, make_user
from tests.sockets import next_frame, open_socket, send, streamed_text

pytestmark = [pytest.mark.django_db(transaction=True)]


def sse(events):
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


def message_start():
    return {"type": "message_start", "message": {
        "id": "msg_odd", "type": "message", "role": "assistant", "content": [],
        "model": "claude-sonnet-4-6", "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 1200, "output_tokens": 1}}}


def text_delta(index, text):
    return {"type": "content_block_delta", "index": index,
            "delta": {"type": "text_delta", "text": text}}


def complete_stream(text):
    """A whole, well-formed stream whose reply is exactly ``text``."""
    return sse([
        message_start(),
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        text_delta(0, text),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 40}},
        {"type": "message_stop"},
    ])


def senseless_stream():
    """It starts, writes some text, then sends a delta for a content block that was never
    opened: the SDK fails with an exception that is not one of its API errors."""
    return sse([
        message_start(),
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        text_delta(0, "The first words "),
        text_delta(3, "of a block nobody opened"),
    ])


async def exchange(socket):
    """Every frame up to the end of the next reply (error frames included)."""
    frames = []
    while not frames or frames[-1]["type"] != "message_completed":
        frames.append(await next_frame(socket))
    await registry.wait_for_all()
    return frames


@pytest.fixture
async def chat(claude, finish_replies):
    owner = await database_sync_to_async(make_user)()
    conversation = await database_sync_to_async(make_conversation)(owner)
    socket, connected = await open_socket(owner, conversation.pk)
    assert connected and (await next_frame(socket))["type"] == "ready"
    yield socket, conversation
    await socket.disconnect()


def reply_bodies(claude):
    return [r["body"] for r in claude.requests()
            if r["path"] == "/v1/messages" and r["body"].get("stream")]


async def test_a_lone_surrogate_from_upstream_is_stored_as_a_replacement_character(claude, chat):
    socket, conversation = chat
    claude.add_faults([{"kind": "replay", "body": complete_stream("hi \ud800 there")}])
    await send(socket, type="user_message", text="Say hi")
    frames = await exchange(socket)

    reply_id = frames[-1]["message_id"]
    reply = await Message.objects.aget(pk=reply_id)
    assert frames[-1]["status"] == "complete" and reply.status == MessageStatus.COMPLETE
    assert reply.text == "hi \ufffd there" == streamed_text(frames, reply_id)
    # The title call (it sends the reply's text) was made and saved.
    assert (await Conversation.objects.aget(pk=conversation.pk)).title

    await send(socket, type="user_message", text="And then?")
    after = await exchange(socket)
    assert after[-1]["status"] == "complete" and after[-1]["content"]
    sent = reply_bodies(claude)[-1]["messages"]
    assert sent[1]["content"][0]["text"] == "hi \ufffd there"  # sent again as it was stored


async def test_an_unexpected_exception_ends_the_reply_as_an_error_and_the_next_one_works(
    claude, chat, caplog
):
    socket, _conversation = chat
    claude.add_faults([{"kind": "replay", "body": senseless_stream()}])
    await send(socket, type="user_message", text="Tell me")
    with caplog.at_level(logging.ERROR):
        frames = await exchange(socket)

    reply_id = frames[-1]["message_id"]
    reply = await Message.objects.aget(pk=reply_id)
    ended = frames[-1]
    assert ended["status"] == "error" and reply.status == MessageStatus.ERROR
    assert ended["error"] == {"code": "internal", "message": UNEXPECTED_FAILURE}
    assert reply.error_message == UNEXPECTED_FAILURE
    assert reply.text == "The first words "  # what was shown is kept
    (logged,) = [r for r in caplog.records if f"reply {reply_id} failed" in r.getMessage()]
    assert logged.exc_info is not None  # with its traceback
    # The call reached Claude: it is billed (input as reported, output estimated).
    (record,) = [r async for r in UsageRecord.objects.filter(message_id=reply_id)]
    assert record.input_tokens == 1200 and record.output_tokens >= 1 and record.cost_usd
    assert reply.cost_usd == record.cost_usd

    await send(socket, type="user_message", text="Try again, please")
    after = await exchange(socket)
    assert after[-1]["status"] == "complete" and after[-1]["content"]
