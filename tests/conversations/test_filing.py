"""Pinning and archiving conversations (chatapp/conversations/filing.py) through the JSON
endpoints: what the
owner's sidebar, Archived list and search get, and what a stranger gets (404, nothing changed)."""

import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from chatapp.models import Conversation
from tests.factories import make_conversation, make_exchange, make_user
from tests.sockets import frames_until, next_frame, open_socket

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return make_user()


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def file(user, conversation, **flags):
    return client_of(user).patch(
        f"/api/conversations/{conversation.pk}/", json.dumps(flags),
        content_type="application/json",
    )


def sidebar(user) -> list[str]:
    rows = client_of(user).get("/api/conversations/").json()["conversations"]
    return [row["title"] for row in rows]


def archived_list(user) -> list[str]:
    rows = client_of(user).get("/api/conversations/", {"archived": "1"}).json()["conversations"]
    return [row["title"] for row in rows]


def used_days_ago(conversation, days: int) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(
        updated_at=timezone.now() - timedelta(days=days)
    )


def test_pinned_conversations_come_first_the_most_recently_pinned_on_top(owner):
    for days, title in ((3, "3 days ago"), (2, "2 days ago"), (1, "yesterday"), (0, "today")):
        used_days_ago(make_conversation(owner, title=title), days)
    by_title = {c.title: c for c in Conversation.objects.filter(owner=owner)}

    assert file(owner, by_title["2 days ago"], pinned=True).json()["pinned"] is True
    assert file(owner, by_title["3 days ago"], pinned=True).status_code == 200

    # Pinned last, first in the list however long ago it was used; the rest by last use.
    assert sidebar(owner) == ["3 days ago", "2 days ago", "today", "yesterday"]


def test_pinning_and_archiving_leave_the_last_use_alone(owner):
    conversation = make_conversation(owner, title="kept in its date group")
    used_days_ago(conversation, 5)
    before = Conversation.objects.get(pk=conversation.pk).updated_at

    file(owner, conversation, pinned=True)
    file(owner, conversation, archived=True)
    answer = file(owner, conversation, archived=False)

    assert Conversation.objects.get(pk=conversation.pk).updated_at == before
    assert answer.json()["updated_at"] == before.isoformat()


def test_unpinning_returns_a_conversation_to_its_date_order(owner):
    first = make_conversation(owner, title="first")
    make_conversation(owner, title="2nd")
    used_days_ago(first, 1)
    file(owner, first, pinned=True)
    assert sidebar(owner) == ["first", "2nd"]

    answer = file(owner, first, pinned=False).json()

    assert answer["pinned"] is False and answer["pinned_at"] is None
    assert sidebar(owner) == ["2nd", "first"]


def test_archived_conversations_leave_the_sidebar_for_the_archived_list(owner):
    make_conversation(owner, title="kept")
    filed = make_conversation(owner, title="filed")

    answer = file(owner, filed, archived=True).json()

    assert answer["archived"] is True and answer["archived_at"]
    assert sidebar(owner) == ["kept"]
    assert archived_list(owner) == ["filed"]
    listed = client_of(owner).get("/api/conversations/").json()
    assert listed["archived_count"] == 1
    # Still the owner's to open, by its address too.
    assert client_of(owner).get(f"/api/conversations/{filed.pk}/").json()["archived"] is True
    assert client_of(owner).get(f"/c/{filed.pk}/").status_code == 200

    file(owner, filed, archived=False)
    assert sidebar(owner) == ["filed", "kept"] and archived_list(owner) == []


def test_the_archived_list_is_most_recently_archived_first(owner):
    for title in ("archived first", "archived second"):
        file(owner, make_conversation(owner, title=title), archived=True)
    assert archived_list(owner) == ["archived second", "archived first"]


def test_archiving_unpins_and_pinning_unarchives(owner):
    conversation = make_conversation(owner, title="both ways")
    file(owner, conversation, pinned=True)

    archived = file(owner, conversation, archived=True).json()
    assert (archived["archived"], archived["pinned"]) == (True, False)

    pinned = file(owner, conversation, pinned=True).json()
    assert (pinned["archived"], pinned["pinned"]) == (False, True)
    assert sidebar(owner) == ["both ways"]


def test_pinning_twice_keeps_the_first_pins_place(owner):
    first, second = make_conversation(owner, title="first"), make_conversation(owner, title="2nd")
    file(owner, first, pinned=True)
    file(owner, second, pinned=True)
    pinned_at = file(owner, first, pinned=True).json()["pinned_at"]  # already pinned
    assert pinned_at == Conversation.objects.get(pk=first.pk).pinned_at.isoformat()
    assert sidebar(owner) == ["2nd", "first"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"pinned": "yes"}, "pinned must be true or false."),
        ({"archived": 1}, "archived must be true or false."),
        ({"pinned": True, "archived": True}, "cannot be pinned and archived at once"),
        ({"archived": True, "title": 5}, "title"),
    ],
)
def test_bad_filing_is_explained_and_changes_nothing(owner, body, says):
    conversation = make_conversation(owner, title="as it was")
    response = file(owner, conversation, **body)
    assert response.status_code == 400 and says in response.json()["error"]
    stored = Conversation.objects.get(pk=conversation.pk)
    assert (stored.pinned_at, stored.archived_at, stored.title) == (None, None, "as it was")


def test_a_bad_archived_parameter_is_a_400(owner):
    response = client_of(owner).get("/api/conversations/", {"archived": "maybe"})
    assert response.status_code == 400 and response.json() == {"error": "archived must be 0 or 1."}


@pytest.mark.parametrize("flags", [{"pinned": True}, {"archived": True}])
def test_a_stranger_cannot_pin_or_archive_and_learns_nothing(owner, flags):
    conversation = make_conversation(owner, title="mine")
    stranger = make_user()

    response = file(stranger, conversation, **flags)

    assert response.status_code == 404 and response.json()["error"]
    stored = Conversation.objects.get(pk=conversation.pk)
    assert (stored.pinned_at, stored.archived_at) == (None, None)


def test_lists_hold_only_the_users_own_conversations(owner):
    stranger = make_user()
    file(stranger, make_conversation(stranger, title="their pin"), pinned=True)
    file(stranger, make_conversation(stranger, title="their archive"), archived=True)
    make_conversation(owner, title="mine")

    assert sidebar(owner) == ["mine"] and archived_list(owner) == []


def test_search_leaves_archived_conversations_out_unless_asked(owner):
    filed = make_conversation(owner, title="Lisbon trip")
    make_exchange(filed, "Where in Lisbon?", "Alfama, for the views.")
    file(owner, filed, archived=True)
    client = client_of(owner)

    assert client.get("/api/search/", {"q": "lisbon"}).json() == {"results": []}

    asked = client.get("/api/search/", {"q": "lisbon", "archived": "1"}).json()["results"]
    assert {(hit["conversation_id"], hit["title"], hit["archived"]) for hit in asked} == {
        (filed.pk, "Lisbon trip", True)
    }
    assert len(asked) == 2  # the title and the question


@pytest.mark.django_db(transaction=True)
async def test_the_conversations_open_tabs_hear_it_was_pinned_and_archived(owner):
    conversation = await database_sync_to_async(make_conversation)(owner)
    socket, connected = await open_socket(owner, conversation.pk)
    assert connected and (await next_frame(socket))["type"] == "ready"

    await database_sync_to_async(file)(owner, conversation, pinned=True)
    frames = await frames_until(socket, "conversation_updated")
    assert frames[-1] == {"type": "conversation_updated", "pinned": True, "archived": False}

    await database_sync_to_async(file)(owner, conversation, archived=True)
    frames = await frames_until(socket, "conversation_updated")
    assert frames[-1] == {"type": "conversation_updated", "pinned": False, "archived": True}
    await socket.disconnect()
