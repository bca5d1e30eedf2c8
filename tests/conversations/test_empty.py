"""Conversations nobody used (issue 23 item 2): the chat page cleans them up on its next
load, once they are old enough that no first message can still be on its way."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chatapp.models import Conversation
from tests.factories import (
    logged_in,
    make_conversation,
    make_exchange,
    make_text_document,
    make_user,
)

pytestmark = pytest.mark.django_db


def age(conversation, minutes):
    Conversation.objects.filter(pk=conversation.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_opening_the_chat_page_deletes_its_owners_old_empty_conversations():
    owner, other = make_user(), make_user()
    empty_old = make_conversation(owner)
    empty_new = make_conversation(owner)  # maybe about to get its first message
    used = make_conversation(owner)
    make_exchange(used, "Hi", "Hello!")
    with_file = make_conversation(owner)
    make_text_document(owner, conversation=with_file)
    renamed = make_conversation(owner, title="Kept for later")
    strangers = make_conversation(other)
    for conversation in (empty_old, used, with_file, renamed, strangers):
        age(conversation, 60)
    age(empty_new, 1)

    assert logged_in(owner).get("/").status_code == 200

    left = set(Conversation.objects.values_list("pk", flat=True))
    assert left == {empty_new.pk, used.pk, with_file.pk, renamed.pk, strangers.pk}


def test_the_empty_conversation_being_opened_is_kept():
    owner = make_user()
    empty = make_conversation(owner)
    age(empty, 60)
    assert logged_in(owner).get(f"/c/{empty.pk}/").status_code == 200
    assert Conversation.objects.filter(pk=empty.pk).exists()
