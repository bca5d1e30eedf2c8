"""Content flags on finished replies, end to end: the socket, the offline upstream (which
quotes the question in its reply), the stored message, the JSON the page reads, the admin and
the per-user counts for the cost review."""

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from chatapp.models import Attachment, ContentFlag, Message
from chatapp.safety.flags import flagged_message_counts
from tests.factories import make_conversation, make_exchange, make_user
from tests.sockets import frames_until, next_frame, open_socket, send

pytestmark = [pytest.mark.django_db(transaction=True)]

CARD = "4111 1111 1111 1111"


@pytest.fixture
async def owner():
    return await database_sync_to_async(make_user)()


@pytest.fixture
async def conversation(owner):
    return await database_sync_to_async(make_conversation)(owner)


async def ask(user, conversation, text):
    """Send ``text``; the reply's message_completed frame and the stored reply."""
    socket, connected = await open_socket(user, conversation.pk)
    assert connected and (await next_frame(socket))["type"] == "ready"
    await send(socket, type="user_message", text=text)
    completed = (await frames_until(socket, "message_completed"))[-1]
    await socket.disconnect()
    reply = await Message.objects.aget(pk=completed["message_id"])
    return completed, reply


def flags_of(reply):
    return list(reply.content_flags.values_list("kind", "action", "excerpt"))


async def test_by_default_a_reply_is_flagged_and_left_as_it_is(
    claude, owner, conversation, finish_replies
):
    completed, reply = await ask(owner, conversation, f"Is {CARD} a test card?")
    assert CARD in reply.text
    assert [(f["label"], f["action"], f["category"]) for f in completed["flags"]] == [
        ("card number", "flag", "personal_data")
    ]
    assert "text" not in completed  # nothing changed: the streamed text stands
    assert await database_sync_to_async(flags_of)(reply) == [("card_number", "flag", CARD)]


async def test_redaction_changes_what_is_stored_shown_and_sent_back_to_claude(
    claude, settings, owner, conversation, finish_replies
):
    settings.CHATAPP_CONTENT_ACTIONS = {"personal_data": "redact"}
    completed, reply = await ask(owner, conversation, f"Is {CARD} a test card?")
    assert CARD not in reply.text and "[redacted: card number]" in reply.text
    assert completed["text"] == reply.text  # the page replaces what it streamed
    assert completed["flags"][0]["action"] == "redact"
    # Neither the original nor the redacted number is kept anywhere.
    assert reply.original_content is None
    assert await database_sync_to_async(flags_of)(reply) == [("card_number", "redact", "")]

    await ask(owner, conversation, "And what now?")
    # The last reply request (the first exchange's title request may come after it).
    replies = [r for r in claude.requests()
               if r["path"] == "/v1/messages" and r["body"].get("stream")]
    history = replies[-1]["body"]["messages"]
    earlier_reply = history[1]["content"]
    assert CARD not in str(earlier_reply) and "[redacted: card number]" in str(earlier_reply)


async def test_a_deployment_may_keep_the_originals_for_review(
    claude, settings, owner, conversation, finish_replies
):
    settings.CHATAPP_CONTENT_ACTIONS = {"card_number": "redact"}
    settings.CHATAPP_CONTENT_KEEP_ORIGINALS = True
    _, reply = await ask(owner, conversation, f"Is {CARD} a test card?")
    assert "[redacted: card number]" in reply.text
    assert CARD in str(reply.original_content)
    assert await database_sync_to_async(flags_of)(reply) == [("card_number", "redact", CARD)]


async def test_a_withheld_reply_shows_only_a_notice(
    claude, settings, owner, conversation, finish_replies
):
    settings.CHATAPP_CONTENT_ACTIONS = {"dangerous_code": "withhold"}
    completed, reply = await ask(owner, conversation, "Should I run sudo rm -rf / today?")
    assert reply.text == completed["text"] == "[withheld: dangerous command]"
    assert [f["action"] for f in completed["flags"]] == ["withhold"]


async def test_the_conversation_json_carries_each_replys_flags(
    claude, owner, conversation, finish_replies
):
    await ask(owner, conversation, "Mail me at jane.doe@acme-corp.com")
    client = Client()
    await database_sync_to_async(client.force_login)(owner)
    body = (await database_sync_to_async(client.get)(f"/api/conversations/{conversation.pk}/"))
    question, answer = body.json()["messages"]
    assert question["flags"] == []  # what the user typed is theirs; replies are checked
    assert answer["flags"] == [
        {"kind": "email", "category": "personal_data", "category_label": "Personal data",
         "label": "e-mail address", "explanation": "an e-mail address", "action": "flag",
         "count": 1}
    ]


# --- Reviewing: the admin list and the counts per user ---------------------------------------


def flag(reply, category, kind):
    ContentFlag.objects.create(message=reply, category=category, kind=kind, action="flag")
    reply.flag_summary = [*reply.flag_summary, {"kind": kind, "action": "flag", "count": 1}]
    reply.save(update_fields=["flag_summary"])


@pytest.fixture
def flagged_world(db):
    alice, bob = make_user("alice"), make_user("bob")
    _, a1 = make_exchange(make_conversation(alice), "q", "card 4111 1111 1111 1111")
    _, a2 = make_exchange(make_conversation(alice), "q", "rm -rf / and my@acme-corp.com")
    _, b1 = make_exchange(make_conversation(bob), "q", "I might be wrong")
    make_exchange(make_conversation(bob), "q", "nothing to see")
    flag(a1, "personal_data", "card_number")
    flag(a2, "dangerous_code", "delete_everything")
    flag(a2, "personal_data", "email")
    flag(b1, "uncertainty", "unsure")
    return alice, bob


def test_counts_per_user_are_flagged_messages_per_category(flagged_world):
    alice, bob = flagged_world
    assert flagged_message_counts() == {
        alice.pk: {"personal_data": 2, "dangerous_code": 1},
        bob.pk: {"uncertainty": 1},
    }


def test_the_admin_lists_flagged_messages_and_filters_them(flagged_world):
    alice, _ = flagged_world
    staff = make_user("reviewer", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    url = "/admin/chatapp/flaggedmessage/"

    page = client.get(url)
    assert page.status_code == 200
    assert sorted(m.text for m in page.context["cl"].result_list) == [
        "I might be wrong", "card 4111 1111 1111 1111", "rm -rf / and my@acme-corp.com"
    ]  # and not the reply with nothing to see

    by_category = client.get(url, {"category": "personal_data"}).context["cl"].result_list
    assert sorted(m.text for m in by_category) == [
        "card 4111 1111 1111 1111", "rm -rf / and my@acme-corp.com"
    ]
    by_user = client.get(url, {"conversation__owner__id__exact": alice.pk})
    assert {m.conversation.owner_id for m in by_user.context["cl"].result_list} == {alice.pk}
    counts = {m.text: m.flag_count for m in by_category}
    assert counts["rm -rf / and my@acme-corp.com"] == 2  # both its flags, not only the filtered


def test_people_without_staff_rights_cannot_open_the_review(flagged_world):
    alice, _ = flagged_world
    client = Client()
    client.force_login(alice)
    assert client.get("/admin/chatapp/flaggedmessage/").status_code == 302


# --- Uploaded text -----------------------------------------------------------------------------


def test_an_uploaded_document_is_flagged_but_never_changed(claude, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CHATAPP_CONTENT_ACTIONS = {"personal_data": "redact"}  # for replies, not uploads
    owner = make_user()
    conversation = make_conversation(owner)
    client = Client()
    client.force_login(owner)
    notes = SimpleUploadedFile("notes.txt", f"Pay with {CARD} by Friday.".encode())
    body = client.post(f"/api/conversations/{conversation.pk}/attachments/", {"file": notes})

    assert body.status_code == 201
    assert [(f["label"], f["action"]) for f in body.json()["flags"]] == [("card number", "flag")]
    assert CARD in Attachment.objects.get().text  # what Claude will be sent, as the user gave it
