"""Prompt presets: a user's reusable system prompts (with a model if they like), created,
edited, deleted, applied to a conversation and used to start a new chat.
Someone else's presets are never found (tests/safety/test_access.py has the doors)."""

import json

import pytest

from chatapp.models import Conversation, PromptPreset
from tests.factories import logged_in, make_conversation, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return make_user()


def send(user, method, url, body=None):
    return logged_in(user).generic(
        method, url, json.dumps(body or {}), content_type="application/json"
    )


def make_preset(owner, **fields):
    fields.setdefault("name", "Reviewer")
    fields.setdefault("system_prompt", "Review code for bugs first, style last.")
    return PromptPreset.objects.create(owner=owner, **fields)


def test_create_list_edit_and_delete_a_preset(owner):
    created = send(
        owner,
        "POST",
        "/api/presets/",
        {
            "name": "  Translator ",
            "system_prompt": "Translate into German.",
            "model": "claude-haiku-4-5",
            "temperature": 0.2,
        },
    )
    assert created.status_code == 201
    preset = created.json()
    # No temperature under API version 2026-10-21: one sent is accepted and ignored.
    assert (preset["name"], preset["model"]) == ("Translator", "claude-haiku-4-5")
    assert "temperature" not in preset
    assert PromptPreset.objects.get(pk=preset["id"]).temperature is None

    listed = logged_in(owner).get("/api/presets/").json()["presets"]
    assert [p["name"] for p in listed] == ["Translator"]

    url = f"/api/presets/{preset['id']}/"
    edited = send(owner, "PATCH", url, {"system_prompt": "Translate into Dutch.", "model": None})
    assert edited.status_code == 200
    assert edited.json()["system_prompt"] == "Translate into Dutch."
    assert edited.json()["model"] is None

    assert send(owner, "DELETE", url).status_code == 204
    assert logged_in(owner).get("/api/presets/").json()["presets"] == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"system_prompt": "no name"}, "A preset needs a name of 1 to 100 characters."),
        ({"name": "   "}, "A preset needs a name"),
        ({"name": "x" * 101}, "A preset needs a name"),
        ({"name": "Reviewer"}, "You already have a preset named “Reviewer”."),
        ({"name": "Odd", "model": "gpt-5"}, "Unknown model"),
    ],
)
def test_a_bad_preset_is_explained_and_not_saved(owner, body, says):
    make_preset(owner)
    response = send(owner, "POST", "/api/presets/", body)
    assert response.status_code == 400 and says in response.json()["error"]
    assert PromptPreset.objects.filter(owner=owner).count() == 1


def test_two_people_may_use_the_same_preset_name(owner):
    make_preset(owner)
    assert send(make_user(), "POST", "/api/presets/", {"name": "Reviewer"}).status_code == 201


def test_applying_a_preset_sets_the_conversations_settings(owner):
    conversation = make_conversation(owner, system_prompt="Old prompt.", max_output_tokens=900)
    # A temperature stored with the preset before API version 2026-10-21: kept, never applied.
    preset = make_preset(owner, model="claude-haiku-4-5", temperature=0.1)
    applied = send(owner, "PATCH", f"/api/conversations/{conversation.pk}/", {"preset": preset.pk})
    assert applied.status_code == 200
    conversation.refresh_from_db()
    assert (conversation.system_prompt, conversation.model, conversation.temperature) == (
        "Review code for bugs first, style last.",
        "claude-haiku-4-5",
        None,
    )
    assert conversation.max_output_tokens == 900  # not part of a preset: left alone


def test_fields_named_beside_a_preset_win(owner):
    conversation = make_conversation(owner)
    preset = make_preset(owner, model="claude-haiku-4-5")
    send(
        owner,
        "PATCH",
        f"/api/conversations/{conversation.pk}/",
        {"preset": preset.pk, "model": "claude-opus-5"},
    )
    conversation.refresh_from_db()
    assert conversation.model == "claude-opus-5"


def test_a_preset_without_a_model_keeps_the_conversations(owner):
    conversation = make_conversation(owner, model="claude-opus-5")
    preset = make_preset(owner)
    send(owner, "PATCH", f"/api/conversations/{conversation.pk}/", {"preset": preset.pk})
    conversation.refresh_from_db()
    assert conversation.model == "claude-opus-5" and conversation.temperature is None


def test_a_new_chat_starts_from_a_preset(owner):
    preset = make_preset(owner, model="claude-haiku-4-5", temperature=0.5)
    created = send(owner, "POST", "/api/conversations/", {"preset": preset.pk})
    assert created.status_code == 201
    body = created.json()
    assert body["system_prompt"] == preset.system_prompt
    assert (body["model"], body["temperature"]) == ("claude-haiku-4-5", None)


def test_someone_elses_preset_cannot_be_applied_to_your_own_conversation(owner):
    theirs = make_preset(make_user(), system_prompt="their secret")
    mine = make_conversation(owner)
    response = send(owner, "PATCH", f"/api/conversations/{mine.pk}/", {"preset": theirs.pk})
    assert response.status_code == 404 and "secret" not in response.content.decode()
    mine.refresh_from_db()
    assert mine.system_prompt == ""
    assert send(owner, "POST", "/api/conversations/", {"preset": theirs.pk}).status_code == 404
    assert Conversation.objects.filter(owner=owner).count() == 1


def test_a_preset_whose_model_was_withdrawn_says_so(owner):
    from chatapp.models import ClaudeModel

    preset = make_preset(owner, model="claude-haiku-4-5")
    ClaudeModel.objects.filter(pk="claude-haiku-4-5").update(is_active=False)
    response = send(owner, "POST", "/api/conversations/", {"preset": preset.pk})
    assert response.status_code == 400
    assert "names a model that is no longer offered" in response.json()["error"]


def test_a_user_keeps_at_most_fifty_presets(owner):
    PromptPreset.objects.bulk_create(
        PromptPreset(owner=owner, name=f"Preset {n}") for n in range(50)
    )
    response = send(owner, "POST", "/api/presets/", {"name": "One more"})
    assert response.status_code == 400 and "at most 50 presets" in response.json()["error"]
