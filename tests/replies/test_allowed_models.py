"""A message for a model the user's groups do not allow is refused before anything is saved
or sent; Auto chooses only among the allowed models (issue 21)."""

import pytest
from django.contrib.auth.models import Group

from chatapp.models import GroupPolicy, Message
from chatapp.policies.attachments import prompt_policy
from chatapp.replies import turns
from chatapp.replies.model_router import Request, decide
from tests.factories import make_conversation, make_user

pytestmark = pytest.mark.django_db

DEFAULT = "claude-sonnet-5-5"  # CHATAPP_DEFAULT_MODEL: where Auto goes with no model
ANALYSIS = "Compare these contracts clause by clause and explain the risks. " * 40


def allow(user, *models) -> None:
    made = Group.objects.create(name=f"Only {' '.join(models)}")
    GroupPolicy.objects.create(group=made).allowed_models.set(models)
    user.groups.add(made)


def test_a_message_naming_a_model_not_allowed_is_refused_in_plain_words():
    user = make_user()
    allow(user, "claude-haiku-5-5")
    conversation = make_conversation(user, model="claude-haiku-5-5")
    with pytest.raises(turns.ReplyRefused) as refused:
        turns.open_turn(conversation.pk, "What is a lease?", "claude-opus-5-5",
                        prompt_policy=prompt_policy())
    assert refused.value.code == "model_not_allowed"
    assert refused.value.message == (
        "Claude Opus 5.5 is not among the models your groups allow. Pick another model, "
        "or ask an administrator to allow it."
    )
    assert not Message.objects.filter(conversation=conversation).exists()


def test_a_conversation_left_on_a_model_no_longer_allowed_is_refused_too():
    user = make_user()
    conversation = make_conversation(user, model="claude-opus-5-5")
    allow(user, "claude-haiku-5-5")  # the group's list came after the conversation
    with pytest.raises(turns.ReplyRefused, match="not among the models your groups allow"):
        turns.open_turn(conversation.pk, "What is a lease?", None,
                        prompt_policy=prompt_policy())


def test_auto_chooses_only_among_the_allowed_models():
    user = make_user()
    analysis = Request(text=ANALYSIS, documents=2, thinking="high")
    assert decide(analysis, user.pk, default_model=DEFAULT).model == "claude-opus-5-5"
    allow(user, "claude-haiku-5-5", "claude-sonnet-5-5")
    top = decide(analysis, user.pk, default_model=DEFAULT)
    assert top.model == "claude-sonnet-5-5" and top.reason.startswith("Auto chose Claude Sonnet")
    allow(user, "claude-haiku-5-5")
    assert decide(analysis, user.pk, default_model=DEFAULT).model == "claude-haiku-5-5"


@pytest.mark.django_db(transaction=True)
async def test_autos_check_asks_the_cheapest_model_the_groups_allow(claude, finish_replies):
    from dataclasses import replace

    from channels.db import database_sync_to_async

    from chatapp.policies.replies import reply_policy
    from chatapp.replies.model_router import record_confirmation, route

    user = await database_sync_to_async(make_user)()
    await database_sync_to_async(allow)(user, "claude-sonnet-5-5", "claude-opus-5-5")
    conversation = await database_sync_to_async(make_conversation)(user)
    confirming = replace(reply_policy(), router_confirm=True)
    routed = await route(conversation.pk, "Hello!", (), None, confirming)  # unsure: checked
    [check] = [r["body"] for r in claude.requests() if r["path"] == "/v1/messages"]
    assert check["model"] == "claude-sonnet-5-5"  # not Haiku, the cheapest of the catalog
    assert routed.decision.model == "claude-sonnet-5-5"
    await database_sync_to_async(record_confirmation)(routed, None)  # settles its reservation
