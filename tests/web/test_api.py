"""The JSON endpoints: what an owner, a stranger and an anonymous visitor each get."""

import json
from decimal import Decimal

import pytest
from django.test import Client

from chatapp.models import Conversation, MessageStatus, UsageRecord
from tests.factories import make_conversation, make_exchange, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return make_user()


@pytest.fixture
def client_of(owner):
    def logged_in(user=owner, **kwargs):
        client = Client(**kwargs)
        client.force_login(user)
        return client

    return logged_in


def patch(client, url, body):
    return client.patch(url, json.dumps(body), content_type="application/json")


def test_create_list_and_read_a_conversation(client_of):
    client = client_of()
    created = client.post("/api/conversations/", {}, content_type="application/json")
    assert created.status_code == 201
    conversation_id = created.json()["id"]
    assert created.json()["model"] == "claude-sonnet-5-5"  # a fresh install's default

    listed = client.get("/api/conversations/").json()["conversations"]
    assert [c["id"] for c in listed] == [conversation_id]
    detail = client.get(f"/api/conversations/{conversation_id}/").json()
    assert detail["messages"] == [] and detail["title"] == ""


def test_conversations_are_listed_newest_first(owner, client_of):
    older = make_conversation(owner, title="older")
    newer = make_conversation(owner, title="newer")
    Conversation.objects.filter(pk=older.pk).update(updated_at=newer.updated_at.replace(year=2020))
    listed = client_of().get("/api/conversations/").json()["conversations"]
    assert [c["title"] for c in listed] == ["newer", "older"]


def test_messages_carry_usage_cost_and_text(owner, client_of):
    conversation = make_conversation(owner)
    make_exchange(conversation, "Hi", "Hello!", input_tokens=11, output_tokens=6,
                  cache_read_tokens=3, cost_usd="0.000123", stop_reason="end_turn")
    detail = client_of().get(f"/api/conversations/{conversation.pk}/").json()
    question, reply = detail["messages"]
    assert question["role"] == "user" and question["text"] == "Hi"
    assert reply["text"] == "Hello!" and reply["content"] == [{"type": "text", "text": "Hello!"}]
    assert reply["usage"] == {"input_tokens": 11, "output_tokens": 6, "cache_write_5m_tokens": 0,
                              "cache_write_1h_tokens": 0, "cache_read_tokens": 3}
    assert reply["cost_usd"] == "0.000123" and reply["status"] == "complete"


def test_a_conversations_cost_includes_its_title_and_summaries_not_only_replies(
    owner, client_of
):
    conversation = make_conversation(owner)
    make_exchange(conversation, "Hi", "Hello!", cost_usd="0.000123")
    for purpose, cost in (("title", "0.00001"), ("summary", "0.0002")):
        UsageRecord.objects.create(user=owner, conversation=conversation, purpose=purpose,
                                   model="claude-haiku-4-5", cost_usd=Decimal(cost))
    detail = client_of().get(f"/api/conversations/{conversation.pk}/").json()
    assert detail["cost_usd"] == "0.000333"
    assert detail["messages"][1]["cost_usd"] == "0.000123"  # the reply's own cost


def test_unpriced_reply_shows_null_cost_never_zero(owner, client_of):
    conversation = make_conversation(owner)
    make_exchange(conversation, "Hi", "Hello", cost_usd=None)
    reply = client_of().get(f"/api/conversations/{conversation.pk}/").json()["messages"][1]
    assert reply["cost_usd"] is None


def test_superseded_replies_are_not_shown(owner, client_of):
    conversation = make_conversation(owner)
    make_exchange(conversation, "Hi", "old", superseded=True, status=MessageStatus.ERROR)
    detail = client_of().get(f"/api/conversations/{conversation.pk}/").json()
    assert [m["text"] for m in detail["messages"]] == ["Hi"]


def test_rename_change_model_and_delete(owner, client_of):
    conversation = make_conversation(owner)
    client = client_of()
    url = f"/api/conversations/{conversation.pk}/"
    renamed = patch(client, url, {"title": "  Lisbon trip ", "model": "claude-haiku-4-5"})
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "Lisbon trip"
    assert renamed.json()["model"] == "claude-haiku-4-5"
    assert client.delete(url).status_code == 204
    assert not Conversation.objects.filter(pk=conversation.pk).exists()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"model": "gpt-5"}, "Unknown model"),
        ({"title": 5}, "title"),
        ({"title": "x" * 201}, "title"),
    ],
)
def test_bad_changes_are_explained(owner, client_of, body, says):
    conversation = make_conversation(owner)
    response = patch(client_of(), f"/api/conversations/{conversation.pk}/", body)
    assert response.status_code == 400 and says in response.json()["error"]


def test_malformed_json_is_a_400(client_of):
    response = client_of().post("/api/conversations/", "{oops", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "The request body is not valid JSON."}


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_a_strangers_conversation_is_not_found(owner, client_of, method):
    conversation = make_conversation(owner)
    stranger = client_of(make_user())
    response = getattr(stranger, method)(f"/api/conversations/{conversation.pk}/")
    assert response.status_code == 404 and "error" in response.json()
    assert Conversation.objects.filter(pk=conversation.pk).exists()


@pytest.mark.parametrize(
    "url", ["/api/conversations/", "/api/conversations/1/", "/api/models/"]
)
def test_anonymous_visitors_get_401_json(url):
    response = Client().get(url)
    assert response.status_code == 401 and response.json() == {"error": "Log in first."}


def test_wrong_method_is_405(client_of):
    response = client_of().put("/api/conversations/")
    assert response.status_code == 405 and response["Allow"] == "GET, POST"


def test_csrf_is_enforced_with_a_json_error(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post("/api/conversations/", {}, content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["error"]


def test_model_catalog_lists_active_models_with_their_facts(client_of):
    body = client_of().get("/api/models/").json()
    ids = [m["id"] for m in body["models"]]
    assert "claude-sonnet-4-6" in ids and "claude-haiku-4-5" in ids
    sonnet = next(m for m in body["models"] if m["id"] == "claude-sonnet-4-6")
    expected = {"id": "claude-sonnet-4-6", "display_name": "Claude Sonnet 4.6",
                "tier": "sonnet", "context_window": 1_000_000, "max_output_tokens": 128_000,
                "image_tier": "standard", "priced": True,
                "thinking": ["off", "low", "medium", "high", "max"],
                "default_max_output_tokens": 8192,
                "cache_rates": {"input": "3", "cache_write_5m": "3.75",
                                "cache_write_1h": "6", "cache_read": "0.3"},
                "picker_label": "Claude Sonnet 4.6", "lifecycle": "active",
                "retires_at": None, "thinking_off_note": ""}
    assert {name: sonnet.get(name) for name in expected} == expected
    assert body["default"] == "claude-sonnet-5-5"
    # A deprecated model is offered and marked; a retired one is not offered.
    opus_45 = next(m for m in body["models"] if m["id"] == "claude-opus-4-5")
    assert opus_45["picker_label"] == "Claude Opus 4.5 (deprecated, retires on 2027-01-22)"
    assert "claude-sonnet-4-5" not in ids


def test_chat_page_needs_login_and_ownership(owner, client_of):
    conversation = make_conversation(owner)
    assert Client().get("/").status_code == 302
    assert Client().get("/").url.startswith("/accounts/login/")
    assert client_of().get(f"/c/{conversation.pk}/").status_code == 200
    assert client_of(make_user()).get(f"/c/{conversation.pk}/").status_code == 404
