"""A conversation exported as Markdown and JSON, and that JSON imported as a new one."""

import json

import pytest
from django.test import Client

from chatapp.models import Conversation, MessageStatus, Project, UsageRecord
from tests.factories import make_conversation, make_exchange, make_text_document, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return make_user()


@pytest.fixture
def client(owner):
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def conversation(owner):
    conversation = make_conversation(owner, title="Trip to Porto",
                                     system_prompt="Answer briefly.")
    question, _ = make_exchange(conversation, "What to eat?", "Try a **francesinha**.",
                                input_tokens=120, output_tokens=30, cost_usd="0.00081")
    make_text_document(owner, name="menu.txt", conversation=conversation, message=question)
    make_exchange(conversation, "And to drink?", "Port wine.", input_tokens=200,
                  output_tokens=10, cost_usd="0.00075")
    return conversation


def export(client, conversation_id, fmt):
    return client.get(f"/api/conversations/{conversation_id}/export/", {"format": fmt})


def test_markdown_export_reads_like_the_conversation(client, conversation):
    response = export(client, conversation.pk, "md")
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="trip-to-porto.md"'
    text = response.content.decode()
    assert text.startswith("# Trip to Porto\n")
    assert "Answer briefly." in text and "- Cost: $0.0016" in text
    assert text.index("What to eat?") < text.index("Try a **francesinha**.") < text.index(
        "Port wine.")
    assert "_Attached: menu.txt (text/plain)_" in text
    assert "claude-sonnet-4-6 · 120 in · 30 out · $0.0008" in text


def test_every_rule_between_messages_stays_a_rule(client, conversation):
    """CommonMark: a "---" line right under a paragraph line underlines it as a heading
    (setext); only after a blank line is it a thematic break."""
    lines = export(client, conversation.pk, "md").content.decode().splitlines()
    rules = [n for n, line in enumerate(lines) if line == "---"]
    assert len(rules) == 4  # one above each message
    assert all(lines[n - 1] == "" for n in rules), [lines[n - 1] for n in rules]


def test_a_reply_served_from_the_cache_counts_its_whole_prompt_as_in(client, owner):
    """As the chat page shows it: input = input + cache writes + cache reads."""
    conversation = make_conversation(owner)
    make_exchange(conversation, "Again?", "Yes.", input_tokens=0, cache_read_tokens=3900,
                  cache_write_5m_tokens=36, output_tokens=12, cost_usd="0.0014")
    text = export(client, conversation.pk, "md").content.decode()
    assert "claude-sonnet-4-6 · 3,936 in · 12 out · $0.0014" in text


def test_json_export_lists_messages_attachments_usage_and_cost(client, conversation):
    data = export(client, conversation.pk, "json").json()
    assert data["format"] == "chatapp.conversation" and data["version"] == 1
    assert data["conversation"]["title"] == "Trip to Porto"
    assert data["cost_usd"] == "0.00156"
    assert data["usage"]["input_tokens"] == 320 and data["usage"]["output_tokens"] == 40
    first, reply = data["messages"][:2]
    assert first["attachments"] == [{"name": "menu.txt", "kind": "document",
                                     "media_type": "text/plain", "size": 17, "pages": None}]
    assert reply["parent_id"] == first["id"] and reply["on_branch"] is True
    assert reply["usage"]["output_tokens"] == 30 and reply["cost_usd"] == "0.00081"


def test_someone_elses_conversation_cannot_be_exported(conversation):
    stranger = Client()
    stranger.force_login(make_user())
    assert export(stranger, conversation.pk, "json").status_code == 404


def test_an_unknown_format_is_refused_in_plain_words(client, conversation):
    response = export(client, conversation.pk, "pdf")
    assert response.status_code == 400
    assert response.json() == {"error": "format must be md or json."}


def import_(client, body: bytes | str):
    return client.post("/api/conversations/import/", body, content_type="application/json")


def test_an_export_imports_as_a_new_conversation_with_the_same_messages(client, owner,
                                                                         conversation):
    exported = export(client, conversation.pk, "json").content
    created = import_(client, exported)
    assert created.status_code == 201
    copy = Conversation.objects.get(pk=created.json()["id"])
    assert copy.owner == owner and copy.pk != conversation.pk
    assert copy.title == "Trip to Porto (imported)" and copy.system_prompt == "Answer briefly."

    shown = client.get(f"/api/conversations/{copy.pk}/").json()["messages"]
    # The file note is a paragraph of its own, not glued to the question.
    assert [m["text"] for m in shown] == [
        "What to eat?\n\n[Attached in the original: menu.txt (text/plain)]",
        "Try a **francesinha**.", "And to drink?", "Port wine."]
    assert [m["role"] for m in shown] == ["user", "assistant"] * 2
    # The replies read as they did: their usage and cost come along.
    replies = [m for m in shown if m["role"] == "assistant"]
    assert [(m["usage"]["input_tokens"], m["usage"]["output_tokens"], m["cost_usd"])
            for m in replies] == [(120, 30, "0.00081"), (200, 10, "0.00075")]


def test_an_import_says_the_files_did_not_come(client, conversation):
    exported = export(client, conversation.pk, "json").content
    answer = import_(client, exported).json()
    assert answer["notice"] == (
        "1 attached file was not imported: an export lists files but does not contain them. "
        "Each message notes what it had; attach the files again to ask about them.")
    assert not Conversation.objects.get(pk=answer["id"]).attachments.exists()
    without_files = {"format": "chatapp.conversation", "version": 1, "conversation": {},
                     "messages": [{"role": "user", "text": "hi"}]}
    assert import_(client, json.dumps(without_files)).json()["notice"] == ""


def test_imported_spend_is_shown_but_not_the_importers(client, owner, conversation):
    """The original account paid for the imported replies: the copy's own cost is none of
    it, and no usage record (the budget, the cost review) counts it."""
    exported = export(client, conversation.pk, "json").content
    copy_id = import_(client, exported).json()["id"]
    assert client.get(f"/api/conversations/{copy_id}/").json()["cost_usd"] is None
    assert not UsageRecord.objects.exists()


@pytest.mark.parametrize("usage, cost, error", [
    ({"input_tokens": -1}, None, "Message 2's token counts must be whole numbers from 0."),
    ({"output_tokens": "many"}, None, "Message 2's token counts must be whole numbers from 0."),
    ([], None, "Message 2's usage must be an object of token counts."),
    ({}, "free", 'Message 2\'s cost_usd must be a decimal string like "0.0123", or null.'),
    ({}, "-0.5", 'Message 2\'s cost_usd must be a decimal string like "0.0123", or null.'),
    ({}, "NaN", 'Message 2\'s cost_usd must be a decimal string like "0.0123", or null.'),
    ({}, 0.5, 'Message 2\'s cost_usd must be a decimal string like "0.0123", or null.'),
])
def test_a_reply_with_impossible_usage_is_refused(client, usage, cost, error):
    data = {"format": "chatapp.conversation", "version": 1, "conversation": {},
            "messages": [{"role": "user", "text": "hi"},
                         {"role": "assistant", "text": "hello", "usage": usage,
                          "cost_usd": cost}]}
    response = import_(client, json.dumps(data))
    assert response.status_code == 400 and response.json() == {"error": error}
    assert not Conversation.objects.exists()


def test_versions_survive_the_round_trip(client):
    def message(key, parent, role, text, on_branch):
        return {"id": key, "parent_id": parent, "role": role, "text": text,
                "on_branch": on_branch, "status": "complete"}

    versions = {"format": "chatapp.conversation", "version": 1, "conversation": {},
                "messages": [message("a", None, "user", "v1", False),
                             message("b", "a", "assistant", "answer 1", False),
                             message("c", None, "user", "v2", True),
                             message("d", "c", "assistant", "answer 2", True)]}
    created = import_(client, json.dumps(versions)).json()
    shown = client.get(f"/api/conversations/{created['id']}/").json()["messages"]
    assert [m["text"] for m in shown] == ["v2", "answer 2"]
    assert shown[0]["versions"]["index"] == 2 and shown[0]["versions"]["count"] == 2

    again = export(client, created["id"], "json").json()["messages"]
    ids = [m["id"] for m in again]
    assert [m["parent_id"] for m in again] == [None, ids[0], None, ids[2]]
    assert [m["on_branch"] for m in again] == [False, False, True, True]


@pytest.mark.parametrize("body, error", [
    (b"{not json", "The file is not valid JSON: choose a chatapp JSON export."),
    (json.dumps({"hello": 1}), "This is not a chatapp conversation export (JSON)."),
    (json.dumps({"format": "chatapp.conversation", "version": 9}),
     "Only version 1 exports can be imported."),
    (json.dumps({"format": "chatapp.conversation", "version": 1, "conversation": {},
                 "messages": [{"role": "system", "text": "x"}]}),
     "Message 1 has no role “user” or “assistant”."),
])
def test_a_file_that_is_not_an_export_is_refused_and_nothing_is_created(client, body, error):
    response = import_(client, body)
    assert response.status_code == 400 and response.json() == {"error": error}
    assert not Conversation.objects.exists()


def test_imported_blocks_are_text_only(client):
    forged = {"format": "chatapp.conversation", "version": 1,
              "conversation": {"title": "x", "model": "no-such-model"},
              "messages": [
                  {"role": "user", "content": [
                      {"type": "attachment", "attachment_id": 1, "name": "other.pdf"},
                      {"type": "text", "text": "hi"}]},
                  {"role": "assistant", "status": "streaming", "content": [
                      {"type": "thinking", "thinking": "secret", "signature": "forged"},
                      {"type": "text", "text": "hello"}]}]}
    created = import_(client, json.dumps(forged)).json()
    copy = Conversation.objects.get(pk=created["id"])
    assert copy.model == "claude-sonnet-5-5"  # an unknown model: the default
    assert [m.content for m in copy.messages.order_by("id")] == [
        [{"type": "text", "text": "hi"}], [{"type": "text", "text": "hello"}]]
    assert copy.messages.last().status == MessageStatus.CANCELLED


def test_a_long_conversation_imports_beyond_the_usual_request_size(client):
    long_text = "word " * 100_000  # 500 kB a message, 1.5 MB in all
    data = {"format": "chatapp.conversation", "version": 1, "conversation": {"title": "Long"},
            "messages": [{"role": "user", "text": long_text}] * 3}
    response = import_(client, json.dumps(data))
    assert response.status_code == 201
    assert Conversation.objects.get(pk=response.json()["id"]).messages.count() == 3


def test_a_file_over_the_import_limit_is_refused(client, monkeypatch):
    from chatapp.conversations import imports

    monkeypatch.setattr(imports, "MAX_IMPORT_BYTES", 1024 * 1024)
    response = import_(client, json.dumps({"padding": "x" * 1_100_000}))
    assert response.status_code == 413
    assert response.json() == {"error": "The file is larger than 1 MB."}
    assert not Conversation.objects.exists()


def test_an_export_names_its_project_and_imports_as_a_plain_conversation(client, owner):
    project = Project.objects.create(owner=owner, name="Leases", instructions="Cite clauses.")
    conversation = make_conversation(owner, title="Elm Street", project=project)
    make_exchange(conversation, "When is the rent due?", "On the first.")
    assert "- Project: Leases" in export(client, conversation.pk, "md").content.decode()
    exported = export(client, conversation.pk, "json").json()
    assert exported["conversation"]["project"] == {"id": project.pk, "name": "Leases"}

    answer = import_(client, json.dumps(exported)).json()
    assert Conversation.objects.get(pk=answer["id"]).project is None
    assert answer["notice"] == ("It was a conversation of the project “Leases”; it is imported "
                                "as a plain conversation, without the project's documents.")
