"""A conversation's cache settings, read from its messages (chatapp/replies/caching.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chatapp.models import Message, Project
from chatapp.replies.caching import previous_upstream_id, project_ttl_for, ttl_for
from tests.factories import make_conversation, make_exchange, make_user

pytestmark = pytest.mark.django_db


def asked(conversation, minutes_ago):
    """A question asked that long ago, with its reply."""
    question, reply = make_exchange(conversation, "q", "a")
    Message.objects.filter(pk=question.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return question, reply


def test_a_new_conversation_caches_for_five_minutes():
    conversation = make_conversation()
    _question, reply = asked(conversation, 0)
    assert ttl_for(conversation, reply.pk, "claude-sonnet-4-6") == "5m"


def test_questions_twenty_minutes_apart_cache_for_an_hour():
    conversation = make_conversation()
    for minutes_ago in (60, 40, 20):
        asked(conversation, minutes_ago)
    _question, reply = asked(conversation, 0)
    assert ttl_for(conversation, reply.pk, "claude-sonnet-4-6") == "1h"


def test_an_unpriced_model_keeps_the_default():
    conversation = make_conversation()
    for minutes_ago in (40, 20):
        asked(conversation, minutes_ago)
    _question, reply = asked(conversation, 0)
    assert ttl_for(conversation, reply.pk, "a-model-without-prices") == "5m"


def test_the_previous_reply_with_an_api_id_is_named():
    conversation = make_conversation()
    _q, first = asked(conversation, 3)
    Message.objects.filter(pk=first.pk).update(upstream_id="msg_first")
    asked(conversation, 2)  # its reply failed before the API answered: it has no id
    _question, reply = asked(conversation, 0)
    assert previous_upstream_id(conversation, reply.pk) == "msg_first"
    assert previous_upstream_id(conversation, first.pk) == ""


def test_a_projects_documents_are_cached_by_the_pace_of_the_whole_project():
    """Questions twenty minutes apart, each in another conversation of the project: the shared
    documents' entry is worth an hour; each conversation's own pace says nothing yet."""
    project = Project.objects.create(owner=make_user(), name="Leases")
    for minutes_ago in (60, 40, 20):
        asked(make_conversation(project=project), minutes_ago)
    newest = make_conversation(project=project)
    _question, reply = asked(newest, 0)
    assert project_ttl_for(newest, reply.pk, "claude-sonnet-4-6") == "1h"
    assert ttl_for(newest, reply.pk, "claude-sonnet-4-6") == "5m"
    # Outside a project, or with a TTL chosen in its settings, the conversation's own applies.
    assert project_ttl_for(make_conversation(), reply.pk, "claude-sonnet-4-6") is None
    newest.cache_ttl = "5m"
    assert project_ttl_for(newest, reply.pk, "claude-sonnet-4-6") is None
