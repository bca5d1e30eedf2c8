"""Search across a user's conversations: titles and message text, only their own.

The same specification holds on both databases (substring matching on SQLite, full-text search
on PostgreSQL); the last tests check what only PostgreSQL does.
"""

import pytest
from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.test import Client

from chatapp.conversations import search
from chatapp.models import Message, Role
from tests.factories import make_conversation, make_exchange, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return make_user()


def search_as(user, query: str):
    client = Client()
    client.force_login(user)
    return client.get("/api/search/", {"q": query})


def test_a_word_in_a_reply_finds_that_message_with_a_snippet(owner):
    conversation = make_conversation(owner, title="Holiday plans")
    _, reply = make_exchange(conversation, "Where should I go?", "Try Lisbon in the spring.")
    make_exchange(make_conversation(owner), "Unrelated", "Nothing to see here.")

    body = search_as(owner, "lisbon").json()

    assert body == {"results": [{"conversation_id": conversation.pk, "message_id": reply.pk,
                                 "snippet": "Try Lisbon in the spring.", "title": "Holiday plans",
                                 "archived": False}]}


def test_every_word_must_occur_in_the_same_message(owner):
    conversation = make_conversation(owner)
    _, both = make_exchange(conversation, "About tea", "Green tea grows in Japan.")
    make_exchange(conversation, "About coffee", "Coffee grows in Brazil.")

    results = search_as(owner, "tea japan").json()["results"]
    assert [r["message_id"] for r in results] == [both.pk]


def test_titles_match_and_come_first(owner):
    titled = make_conversation(owner, title="Budget review")
    other = make_conversation(owner)
    _, reply = make_exchange(other, "Q", "The budget is fine.")

    results = search_as(owner, "budget").json()["results"]
    assert results[0] == {"conversation_id": titled.pk, "message_id": None,
                          "snippet": "Budget review", "title": "Budget review",
                          "archived": False}
    assert results[1]["message_id"] == reply.pk


def test_other_users_conversations_are_never_searched(owner):
    stranger = make_user()
    make_exchange(make_conversation(stranger, title="secret"), "secret plan", "secret answer")
    assert search_as(owner, "secret").json() == {"results": []}


def test_only_the_text_of_messages_is_searched_not_block_types_or_files(owner):
    conversation = make_conversation(owner)
    Message.objects.create(conversation=conversation, role=Role.USER, content=[
        {"type": "attachment", "attachment_id": 1, "kind": "document", "name": "zebra.pdf"},
        {"type": "text", "text": "Summarise it"},
    ])
    assert search_as(owner, "zebra").json()["results"] == []
    assert len(search_as(owner, "summarise").json()["results"]) == 1


def test_letters_beyond_ascii_are_found(owner):
    conversation = make_conversation(owner)
    _, reply = make_exchange(conversation, "Coffee?", "A café crème, please.")
    results = search_as(owner, "café").json()["results"]
    assert [r["message_id"] for r in results] == [reply.pk]


def test_a_long_text_is_cut_around_the_match(owner):
    conversation = make_conversation(owner)
    text = "filler " * 60 + "the needle is here " + "filler " * 60
    make_exchange(conversation, "Find it", text)
    snippet = search_as(owner, "needle").json()["results"][0]["snippet"]
    assert "the needle is here" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) <= search.SNIPPET_CHARS + 2


def test_percent_and_underscore_are_plain_characters(owner):
    conversation = make_conversation(owner)
    make_exchange(conversation, "Q", "Nothing special")
    assert search_as(owner, "100%").json()["results"] == []


@pytest.mark.parametrize("query, error", [
    ("", "Type a word to search for."),
    ("?!", "Type a word to search for."),
    ("x" * 201, "Search for at most 200 characters."),
])
def test_a_query_without_words_is_answered_in_plain_words(owner, query, error):
    response = search_as(owner, query)
    assert response.status_code == 400 and response.json() == {"error": error}


def test_anonymous_visitors_get_401():
    assert Client().get("/api/search/", {"q": "x"}).status_code == 401


@pytest.mark.services
def test_postgres_matches_word_forms_and_uses_the_full_text_index(owner):
    conversation = make_conversation(owner)
    _, reply = make_exchange(conversation, "Q", "The replies were streamed quickly.")
    results = search_as(owner, "streaming reply").json()["results"]
    assert [r["message_id"] for r in results] == [reply.pk]

    # The search's expression is the index's: with sequential scans off, the planner uses it.
    matching = Message.objects.alias(found=search.MessageTextVector("content")).filter(
        found=SearchQuery("stream", config=search.CONFIG, search_type="websearch")
    )
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        plan = matching.explain()
        cursor.execute("RESET enable_seqscan")
    assert "msg_text_search" in plan
