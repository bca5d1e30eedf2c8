"""Conversation titles: one short plain line, from a side call that cannot come back empty for
want of room, and never saved empty."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from chatapp.models import Conversation, UsageRecord
from chatapp.replies import titles
from chatapp.replies.titles import clean_title
from chatapp.streaming import broadcast
from tests.factories import make_conversation, make_exchange


def test_titles_are_one_short_plain_line():
    assert clean_title('"Trip to Lisbon."\nMore text') == "Trip to Lisbon"
    assert clean_title("# **Planning** a very long trip across the whole of Europe") == (
        "Planning a very long trip across"
    )
    assert clean_title("\n\n  ") == ""


# --- The title call: a side call that leaves room for the title -------------------------------

# What a model that spent its whole max_tokens thinking answers: a thinking block, no text.
THOUGHT_ONLY = {
    "id": "msg_thought_only", "type": "message", "role": "assistant",
    "model": "claude-haiku-5-5", "stop_reason": "max_tokens", "stop_sequence": None,
    "content": [{"type": "thinking", "thinking": "", "signature": "sig"}],
    "usage": {"input_tokens": 120, "output_tokens": 24, "cache_creation_input_tokens": 0,
              "cache_read_input_tokens": 0},
}
EMPTY = {"kind": "replay", "body": json.dumps(THOUGHT_ONLY), "content_type": "application/json"}


def _titled_later():
    conversation = make_conversation()
    make_exchange(conversation, "How do I boil an egg?", "Put it in boiling water for 8 minutes.")
    return conversation


def _title_calls(claude) -> list[dict]:
    return [r["body"] for r in claude.requests()
            if r["path"] == "/v1/messages" and "You name conversations" in str(r["body"])]


@pytest.mark.django_db(transaction=True)
async def test_the_title_call_turns_thinking_off_and_leaves_room_for_the_title(claude):
    conversation = await database_sync_to_async(_titled_later)()
    await titles.maybe_generate(conversation.pk)
    [request] = _title_calls(claude)
    # The cheapest model, Haiku 5.5, thinks unless told not to (API version 2026-10-21).
    assert request["model"] == "claude-haiku-5-5"
    assert request["thinking"] == {"type": "disabled"} and request["max_tokens"] == 24
    assert (await Conversation.objects.aget(pk=conversation.pk)).title


@pytest.mark.django_db(transaction=True)
async def test_an_answer_without_a_title_is_asked_once_more(claude):
    conversation = await database_sync_to_async(_titled_later)()
    claude.add_faults([EMPTY])
    await titles.maybe_generate(conversation.pk)
    assert len(_title_calls(claude)) == 2
    assert (await Conversation.objects.aget(pk=conversation.pk)).title  # the second one
    assert await UsageRecord.objects.filter(purpose="title").acount() == 2  # both billed


@pytest.mark.django_db(transaction=True)
async def test_an_empty_title_is_never_saved(claude):
    conversation = await database_sync_to_async(_titled_later)()
    claude.add_faults([EMPTY, EMPTY])
    await titles.maybe_generate(conversation.pk)
    assert len(_title_calls(claude)) == 2  # asked once more, then left out
    assert (await Conversation.objects.aget(pk=conversation.pk)).title == ""


@pytest.mark.django_db(transaction=True)
async def test_a_rename_while_the_title_is_asked_wins_and_no_other_title_is_announced(claude):
    conversation = await database_sync_to_async(_titled_later)()
    announced: list[dict] = []
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(broadcast.group_name(conversation.pk), channel)
    # The title call is held before its answer: the owner renames the conversation meanwhile.
    claude.add_faults([{"kind": "stall", "seconds": 5}])
    job = asyncio.ensure_future(titles.maybe_generate(conversation.pk))
    while not _title_calls(claude):  # noqa: ASYNC110 (the upstream runs in another thread)
        await asyncio.sleep(0.01)  # polls for the request's arrival, not a stand-in for it
    await Conversation.objects.filter(pk=conversation.pk).aupdate(title="Egg timings")
    await job
    assert (await Conversation.objects.aget(pk=conversation.pk)).title == "Egg timings"
    while True:
        try:
            announced.append(await asyncio.wait_for(layer.receive(channel), 0.2))
        except TimeoutError:
            break
    assert not [m for m in announced if m["frame"].get("type") == "conversation_updated"]
