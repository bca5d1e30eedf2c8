"""A conversation's model must be one the owner's groups allow (issue 21)."""

import json

import pytest
from django.contrib.auth.models import Group

from chatapp.models import GroupPolicy
from tests.factories import logged_in, make_conversation, make_user

pytestmark = pytest.mark.django_db


def interns(user) -> Group:
    made = Group.objects.create(name="Interns")
    GroupPolicy.objects.create(group=made).allowed_models.set(["claude-haiku-5-5"])
    user.groups.add(made)
    return made


def patch(user, conversation, body):
    return logged_in(user).patch(
        f"/api/conversations/{conversation.pk}/", json.dumps(body), content_type="application/json"
    )


def test_a_model_the_groups_do_not_allow_is_refused_in_plain_words():
    user = make_user()
    interns(user)
    conversation = make_conversation(user, model="claude-haiku-5-5")
    refused = patch(user, conversation, {"model": "claude-opus-5-5"})
    assert refused.status_code == 400
    assert refused.json()["error"] == (
        "Claude Opus 5.5 is not among the models your groups allow. Pick another model, "
        "or ask an administrator to allow it."
    )
    conversation.refresh_from_db()
    assert conversation.model == "claude-haiku-5-5"
    assert patch(user, conversation, {"model": "auto"}).status_code == 200
    assert patch(user, conversation, {"model": "gpt-5"}).json()["error"] == "Unknown model 'gpt-5'."


def test_a_new_conversation_with_a_model_not_allowed_is_refused():
    user = make_user()
    interns(user)
    made = logged_in(user).post(
        "/api/conversations/", json.dumps({"model": "claude-opus-5-5"}),
        content_type="application/json",
    )
    assert made.status_code == 400 and "not among the models your groups allow" in (
        made.json()["error"]
    )


def test_a_preset_naming_a_model_not_allowed_is_refused_when_applied():
    from chatapp.models import PromptPreset

    user = make_user()
    preset = PromptPreset.objects.create(owner=user, name="Deep", system_prompt="Think.",
                                         model="claude-opus-5-5")
    interns(user)  # the group's list came after the preset
    conversation = make_conversation(user, model="claude-haiku-5-5")
    refused = patch(user, conversation, {"preset": preset.pk})
    assert refused.status_code == 400
    assert "Claude Opus 5.5 is not among the models your groups allow" in refused.json()["error"]
    conversation.refresh_from_db()
    assert conversation.model == "claude-haiku-5-5" and conversation.system_prompt == ""
