"""Edited questions and regenerated replies are versions side by side (‹ 1/2 ›): nothing
stored is rewritten, and Claude is always sent the branch on screen."""

import json

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from chatapp.models import Message
from tests.factories import make_conversation, make_text_document, make_user
from tests.sockets import frames_until, next_frame, open_socket, send

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
async def owner():
    return await database_sync_to_async(make_user)()


@pytest.fixture
async def conversation(owner):
    return await database_sync_to_async(make_conversation)(owner)


async def open_ready(user, conversation_id):
    socket, connected = await open_socket(user, conversation_id)
    assert connected and (await next_frame(socket))["type"] == "ready"
    return socket


async def ask(socket, **frame) -> list[dict]:
    await send(socket, **frame)
    return await frames_until(socket, "message_completed")


def created(frames: list[dict]) -> dict:
    """The question's own frame (the first exchange's title may arrive among them)."""
    return next(frame for frame in frames if frame["type"] == "message_created")


def reply_requests(claude) -> list[dict]:
    """The streamed /v1/messages requests: a title's request (not streamed) may arrive after
    the next reply's, as the title is asked for once the first reply has completed."""
    return [r for r in claude.requests() if r["path"] == "/v1/messages" and r["body"].get("stream")]


def sent_history(claude) -> list[str]:
    """The text of each turn of the last reply request Claude received."""
    body = reply_requests(claude)[-1]["body"]
    return [
        "".join(b.get("text", "") for b in turn["content"] if b.get("type") == "text")
        if isinstance(turn["content"], list) else turn["content"]
        for turn in body["messages"]
    ]


def sent_documents(claude) -> list[str]:
    """The titles of the documents in the last reply request Claude received."""
    body = reply_requests(claude)[-1]["body"]
    return [b.get("title") for turn in body["messages"] if isinstance(turn["content"], list)
            for b in turn["content"] if b.get("type") == "document"]


def on_screen(user, conversation_id) -> list[dict]:
    client = Client()
    client.force_login(user)
    return client.get(f"/api/conversations/{conversation_id}/").json()["messages"]


def switch(user, conversation_id, message_id):
    client = Client()
    client.force_login(user)
    return client.post(f"/api/conversations/{conversation_id}/branch/",
                       json.dumps({"message_id": message_id}), content_type="application/json")


def started_reply(frames) -> int:
    return next(f["message_id"] for f in frames if f["type"] == "message_started")


async def test_editing_an_earlier_question_starts_a_new_branch_and_keeps_the_old_one(
    claude, owner, conversation, finish_replies
):
    socket = await open_ready(owner, conversation.pk)
    first = await ask(socket, type="user_message", text="Name a fruit")
    await ask(socket, type="user_message", text="And a colour")
    question_id = first[0]["message"]["id"]

    edited = await ask(socket, type="edit_message", message_id=question_id, text="Name a tree")
    assert edited[0] == {"type": "branch_changed"}
    assert sent_history(claude) == ["Name a tree"]  # the later turns are not on this branch

    messages = await database_sync_to_async(on_screen)(owner, conversation.pk)
    assert messages[0]["text"] == "Name a tree" and len(messages) == 2
    assert messages[0]["versions"] == {"index": 2, "count": 2, "previous_id": question_id,
                                       "next_id": None}
    original = await database_sync_to_async(Message.objects.get)(pk=question_id)
    assert original.text == "Name a fruit" and original.superseded  # kept, not rewritten
    await socket.disconnect()


async def test_regenerating_an_earlier_reply_sends_only_the_turns_before_it(
    claude, owner, conversation, finish_replies
):
    socket = await open_ready(owner, conversation.pk)
    first = await ask(socket, type="user_message", text="One")
    await ask(socket, type="user_message", text="Two")
    first_reply = started_reply(first)

    again = await ask(socket, type="regenerate", message_id=first_reply)
    assert sent_history(claude) == ["One"]
    messages = await database_sync_to_async(on_screen)(owner, conversation.pk)
    assert [m["id"] for m in messages] == [first[0]["message"]["id"], started_reply(again)]
    assert messages[1]["versions"]["index"] == 2 and messages[1]["versions"]["count"] == 2
    await socket.disconnect()


async def test_switching_back_shows_the_old_branch_and_the_next_question_follows_it(
    claude, owner, conversation, finish_replies
):
    socket = await open_ready(owner, conversation.pk)
    first = await ask(socket, type="user_message", text="Old question")
    await ask(socket, type="user_message", text="Old follow-up")
    question_id = first[0]["message"]["id"]
    await ask(socket, type="edit_message", message_id=question_id, text="New question")

    response = await database_sync_to_async(switch)(owner, conversation.pk, question_id)
    assert response.status_code == 200
    assert [m["text"] for m in response.json()["messages"] if m["role"] == "user"] == [
        "Old question", "Old follow-up"]
    assert (await frames_until(socket, "branch_changed"))[-1] == {"type": "branch_changed"}

    await ask(socket, type="user_message", text="Third")
    assert sent_history(claude)[0] == "Old question"
    assert sent_history(claude)[2::2] == ["Old follow-up", "Third"]
    await socket.disconnect()


async def test_a_stale_or_foreign_message_cannot_be_edited_or_shown(
    claude, owner, conversation, finish_replies
):
    socket = await open_ready(owner, conversation.pk)
    first = await ask(socket, type="user_message", text="Hello")
    question_id = first[0]["message"]["id"]
    await ask(socket, type="edit_message", message_id=question_id, text="Hello again")

    await send(socket, type="edit_message", message_id=question_id, text="off screen")
    error = await next_frame(socket)
    assert error["code"] == "not_found"
    stranger = await database_sync_to_async(make_user)()
    response = await database_sync_to_async(switch)(stranger, conversation.pk, question_id)
    assert response.status_code == 404
    await socket.disconnect()


async def test_a_document_sent_on_another_branch_stays_out_and_an_edited_question_keeps_its_own(
    claude, owner, conversation, finish_replies
):
    lease = await database_sync_to_async(make_text_document)(
        owner, "The lease runs for ten years.", "lease.txt", conversation=conversation)
    socket = await open_ready(owner, conversation.pk)
    first = await ask(socket, type="user_message", text="Hello")
    with_lease = await ask(socket, type="user_message", text="How long?", attachments=[lease.pk])
    assert sent_documents(claude) == ["lease.txt"]

    await ask(socket, type="edit_message", message_id=created(with_lease)["message"]["id"],
              text="How long does it run?")
    assert sent_documents(claude) == ["lease.txt"]  # the new version keeps its question's file

    await ask(socket, type="edit_message", message_id=created(first)["message"]["id"], text="Hi")
    assert sent_documents(claude) == []  # the lease belongs to a branch no longer on screen
    assert sent_history(claude) == ["Hi"]
    await socket.disconnect()
