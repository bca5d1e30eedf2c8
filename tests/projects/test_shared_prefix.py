"""A project's instructions and documents open every conversation started in it, byte for byte,
so one cache write serves them all (issue 20): a second conversation's first question —
anyone's — reads the documents from the cache the first one wrote, through the real SDK and
the offline upstream's cache accounting. A document added later changes only the
conversations started after it (append-only)."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from channels.db import database_sync_to_async

from chatapp.models import Attachment, Message, UsageRecord
from chatapp.policies.attachments import prompt_policy
from tests import files
from tests.attachments.test_intake_and_prompting import ask, message_requests, ready_socket
from tests.factories import logged_in, make_user

# The upload endpoint is an async view, and the socket tests are async: real transactions.
pytestmark = pytest.mark.django_db(transaction=True)

INSTRUCTIONS = "You review leases for the legal team. Cite the clause you rely on."


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _post(client, path: str, body: dict):
    response = client.generic("POST", path, json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 201), response.content
    return response.json()


@pytest.fixture
def owner():
    return make_user("alice")


@pytest.fixture
def member():
    return make_user("bob")


@pytest.fixture
def project(claude, owner, member):
    client = logged_in(owner)
    project = _post(client, "/api/projects/", {"name": "Leases", "instructions": INSTRUCTIONS})
    lease = client.post(f"/api/projects/{project['id']}/documents/",
                        {"file": _upload("lease.pdf", files.make_pdf(files.LEASE))})
    assert lease.status_code == 201, lease.content
    _post(client, f"/api/projects/{project['id']}/members/", {"username": "bob", "role": "use"})
    return project


def _upload(name: str, raw: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, raw)


def _project_changed(user, conversation: dict) -> bool:
    return logged_in(user).get(f"/api/conversations/{conversation['id']}/").json()[
        "project_changed"]


def _conversation_in(user, project) -> dict:
    return _post(logged_in(user), "/api/conversations/", {"project": project["id"]})


@database_sync_to_async
def _reply_cost(message_id: int) -> Decimal:
    return sum(UsageRecord.objects.filter(message_id=message_id).values_list("cost_usd", flat=True))


async def _first_answer(user, conversation: dict, text: str) -> dict:
    socket = await ready_socket(user, conversation["id"])
    _question, completed = await ask(socket, text)
    await socket.disconnect()
    return completed


def _prefix(body: dict) -> tuple:
    """What must be the same bytes in every conversation of the project: tools, system, and
    the first question up to its last document."""
    first = body["messages"][0]["content"]
    last_document = max(i for i, block in enumerate(first) if block["type"] == "document")
    blocks = [{k: v for k, v in block.items() if k != "cache_control"}
              for block in first[: last_document + 1]]
    return json.dumps(body.get("tools")), json.dumps(body["system"]), json.dumps(blocks)


async def test_a_second_conversation_reads_the_project_documents_from_the_first_ones_cache(
    claude, project, owner, member, finish_replies
):
    first_conversation = await database_sync_to_async(_conversation_in)(owner, project)
    assert first_conversation["system_prompt"] == INSTRUCTIONS
    first = await _first_answer(owner, first_conversation, "When is the rent due?")
    assert first["usage"]["cache_write_5m_tokens"] > 0  # the documents went into the cache...
    assert first["usage"]["cache_read_tokens"] == 0

    # ...and the member's new conversation, asking something else, reads them back.
    second_conversation = await database_sync_to_async(_conversation_in)(member, project)
    second = await _first_answer(member, second_conversation, "Can the tenant sublet?")
    lease_tokens = await database_sync_to_async(
        lambda: Attachment.objects.get(project_id=project["id"]).tokens
    )()
    assert second["usage"]["cache_read_tokens"] >= lease_tokens
    assert second["usage"]["cache_write_5m_tokens"] < first["usage"]["cache_write_5m_tokens"]
    assert await _reply_cost(second["message_id"]) < await _reply_cost(first["message_id"])

    one, two = message_requests(claude)[:2]
    assert _prefix(one) == _prefix(two)  # the same bytes, up to and including the documents
    assert one["system"] == [{"type": "text", "text": INSTRUCTIONS}]
    document = one["messages"][0]["content"][0]
    assert document["type"] == "document" and document["title"] == "lease.pdf"
    # The breakpoint that lets the next conversation in: on the project's last document.
    assert document.get("cache_control") == {"type": "ephemeral"}


async def test_a_document_added_later_opens_only_the_conversations_started_after_it(
    claude, project, owner, finish_replies
):
    earlier = await database_sync_to_async(_conversation_in)(owner, project)
    await _first_answer(owner, earlier, "When is the rent due?")
    notes = _upload("notes.md", b"# House rules\n\nNo pets without consent.")
    added = await database_sync_to_async(
        lambda: logged_in(owner).post(f"/api/projects/{project['id']}/documents/", {"file": notes})
    )()
    assert added.status_code == 201, added.content

    changed = await database_sync_to_async(_project_changed)(owner, earlier)
    assert changed is True  # the earlier conversation says the project has changed since

    socket = await ready_socket(owner, earlier["id"])
    await ask(socket, "And who repairs the boiler?")
    await socket.disconnect()
    later = await database_sync_to_async(_conversation_in)(owner, project)
    assert await database_sync_to_async(_project_changed)(owner, later) is False
    await _first_answer(owner, later, "May I keep a cat?")
    assert await database_sync_to_async(_project_changed)(owner, later) is False

    first, again, new = message_requests(claude)[:3]  # streamed replies, in order
    titles = [[b.get("title") for b in body["messages"][0]["content"] if b["type"] == "document"]
              for body in (first, again, new)]
    # The earlier conversation goes on with what it was started with; the new one has both.
    assert titles == [["lease.pdf"], ["lease.pdf"], ["lease.pdf", "notes.md"]]
    assert _prefix(again) == _prefix(first)  # its first question is sent as it was
    questions = await database_sync_to_async(
        lambda: list(Message.objects.filter(role="user").order_by("pk").values_list("content",
                                                                                   flat=True))
    )()
    assert sum(block["type"] != "text" for block in questions[0]) == 1
    assert sum(block["type"] != "text" for block in questions[-1]) == 2


async def test_a_document_removed_later_stays_in_the_conversations_started_with_it(
    claude, project, owner, finish_replies
):
    client = await database_sync_to_async(logged_in)(owner)
    earlier = await database_sync_to_async(_conversation_in)(owner, project)
    await _first_answer(owner, earlier, "When is the rent due?")
    lease = await database_sync_to_async(
        lambda: Attachment.objects.get(project_id=project["id"])
    )()
    removed = await database_sync_to_async(client.delete)(
        f"/api/projects/{project['id']}/documents/{lease.pk}/"
    )
    assert removed.status_code == 204
    listed = await database_sync_to_async(client.get)(f"/api/projects/{project['id']}/documents/")
    assert listed.json()["documents"] == []  # gone from the project for its members...

    socket = await ready_socket(owner, earlier["id"])
    await ask(socket, "And who repairs the boiler?")  # ...but not from what was started with it
    await socket.disconnect()
    later = await database_sync_to_async(_conversation_in)(owner, project)
    await _first_answer(owner, later, "May I keep a cat?")

    first, again, new = message_requests(claude)[:3]
    assert _prefix(again) == _prefix(first)
    assert [b["type"] for b in new["messages"][0]["content"]] == ["text"]


@pytest.mark.django_db
def test_documents_beyond_the_context_window_are_left_out_with_a_note_and_stay_searchable(
    settings,
):
    """Before the question: a project whose documents would fill more than three quarters of
    the model's context window sends those that fit, says which it left out, and the tool
    still finds passages in them."""
    from chatapp.models import ClaudeModel, Project
    from chatapp.replies import history, turns
    from chatapp.replies.tools import search_documents
    from tests.factories import make_conversation, make_text_document

    settings.CHATAPP_TOOLS = True
    ClaudeModel.objects.filter(pk="claude-sonnet-4-6").update(context_window=9000)
    owner = make_user()
    project = Project.objects.create(owner=owner, name="Leases")
    make_text_document(owner, "The rent is due on the first.", name="lease.md",
                       project=project, tokens=4000)
    make_text_document(owner, "Pets need written consent.", name="rules.md",
                       project=project, tokens=4000)
    conversation = make_conversation(owner, project=project, model="claude-sonnet-4-6")
    _question, reply, _model = turns.open_turn(
        conversation.pk, "May I keep a cat?", None, prompt_policy=prompt_policy())

    assert reply.notes == [
        "The document “rules.md” was left out: with it the documents would fill more than 75% "
        "of the 9,000-token context window of Claude Sonnet 4.6, leaving too little for the "
        "conversation. Claude can still search it for passages (search_documents)."
    ]
    sent = history.request_for(
        reply.pk, default_max_tokens=8192, prompt_policy=prompt_policy())["messages"][0]["content"]
    assert [b.get("title") for b in sent if b["type"] == "document"] == ["lease.md"]
    assert "Pets need written consent." in search_documents(conversation.pk, "pets")


@pytest.mark.django_db
def test_a_file_of_the_conversations_own_never_pushes_a_sent_project_document_out():
    """The context-window share is the project's documents' alone: a conversation's own file,
    sent in a later turn (even one uploaded before them), takes none of it, so the documents
    the first question sent are sent again, byte for byte."""
    from chatapp.models import ClaudeModel, MessageStatus, Project
    from chatapp.replies import history, turns
    from tests.factories import make_conversation, make_text_document

    ClaudeModel.objects.filter(pk="claude-sonnet-4-6").update(context_window=9000)
    owner = make_user()
    project = Project.objects.create(owner=owner, name="Leases")
    conversation = make_conversation(owner, project=project, model="claude-sonnet-4-6")
    own = make_text_document(owner, "Minutes of the meeting.", name="minutes.md",
                             conversation=conversation, tokens=4000)  # the lower id
    make_text_document(owner, "The rent is due on the first.", name="lease.md",
                       project=project, tokens=4000)
    _question, first, _model = turns.open_turn(
        conversation.pk, "When is the rent due?", None, prompt_policy=prompt_policy())
    first.status, first.content = MessageStatus.COMPLETE, [{"type": "text", "text": "On the 1st."}]
    first.save()
    sent = history.request_for(
        first.pk, default_max_tokens=8192, prompt_policy=prompt_policy())["messages"][0]
    _question, second, _model = turns.open_turn(
        conversation.pk, "And what did we decide?", None, (own.pk,), prompt_policy=prompt_policy()
    )
    again = history.request_for(
        second.pk, default_max_tokens=8192, prompt_policy=prompt_policy())["messages"][0]
    def unmarked(message):  # the marks move between requests; they are not the prefix
        return [{k: v for k, v in block.items() if k != "cache_control"}
                for block in message["content"]]

    assert unmarked(again) == unmarked(sent)
    assert [b.get("title") for b in sent["content"] if b["type"] == "document"] == ["lease.md"]
