"""A conversation's settings: what may be set (and the words for what may not), and what
the next request Claude receives carries. Requests are read from the offline upstream's log."""

import json

import pytest
from channels.db import database_sync_to_async

from chatapp.conversations import exports
from chatapp.models import Conversation, Message
from chatapp.replies import registry
from tests.factories import logged_in, make_conversation, make_user
from tests.sockets import frames_until, next_frame, open_socket, send

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owner():
    return make_user()


def patch(user, conversation, body):
    return logged_in(user).patch(
        f"/api/conversations/{conversation.pk}/", json.dumps(body), content_type="application/json"
    )


# --- Setting them ----------------------------------------------------------------------------


def test_settings_are_saved_and_read_back(owner):
    conversation = make_conversation(owner)
    saved = patch(
        owner,
        conversation,
        {
            "system_prompt": "Answer in French.",
            "max_output_tokens": 2000,
            "cache_ttl": "1h",
        },
    )
    assert saved.status_code == 200
    body = logged_in(owner).get(f"/api/conversations/{conversation.pk}/").json()
    assert {k: body[k] for k in ("system_prompt", "max_output_tokens", "cache_ttl")} == {
        "system_prompt": "Answer in French.",
        "max_output_tokens": 2000,
        "cache_ttl": "1h",
    }
    back_to_defaults = patch(owner, conversation, {"max_output_tokens": None, "cache_ttl": "auto"})
    assert back_to_defaults.json()["max_output_tokens"] is None


def test_a_new_chat_can_start_with_its_settings(owner):
    created = logged_in(owner).post(
        "/api/conversations/",
        json.dumps({"system_prompt": "Be brief.", "cache_ttl": "5m"}),
        content_type="application/json",
    )
    assert created.status_code == 201
    assert created.json()["system_prompt"] == "Be brief." and created.json()["cache_ttl"] == "5m"


@pytest.mark.parametrize("value", [0.3, 0, 1.5, "warm", None])
def test_a_temperature_from_an_older_client_is_accepted_and_ignored(owner, value):
    """API version 2026-10-21 takes no temperature on any model: none is stored or offered."""
    conversation = make_conversation(owner)
    saved = patch(owner, conversation, {"model": "claude-opus-5", "temperature": value})
    assert saved.status_code == 200 and saved.json()["model"] == "claude-opus-5"
    conversation.refresh_from_db()
    assert conversation.temperature is None
    created = logged_in(owner).post(
        "/api/conversations/", json.dumps({"temperature": value}), content_type="application/json"
    )
    assert created.status_code == 201 and created.json()["temperature"] is None


def test_the_model_list_offers_no_temperature(owner):
    listed = logged_in(owner).get("/api/models/").json()["models"]
    assert listed and not any("temperature" in model for model in listed)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            {"max_output_tokens": 0},
            "Max output tokens must be a whole number from 1 to 128,000 for Claude Sonnet 4.6",
        ),
        ({"max_output_tokens": 200_000}, "from 1 to 128,000"),
        ({"max_output_tokens": "lots"}, "whole number"),
        (
            {"model": "claude-haiku-4-5", "max_output_tokens": 100_000},
            "from 1 to 64,000 for Claude Haiku 4.5",
        ),
        ({"cache_ttl": "2h"}, "The cache TTL must be"),
        ({"system_prompt": "x" * 50_001}, "at most 50,000 characters"),
        ({"model": "gpt-5"}, "Unknown model"),
    ],
)
def test_a_bad_setting_is_explained_and_nothing_is_changed(owner, body, says):
    conversation = make_conversation(owner, system_prompt="Keep me.", temperature=0.7)
    response = patch(owner, conversation, {**body, "title": "renamed"})
    assert response.status_code == 400 and says in response.json()["error"]
    conversation.refresh_from_db()
    assert (conversation.title, conversation.system_prompt, conversation.temperature) == (
        "",
        "Keep me.",
        0.7,
    )


def test_a_temperature_stored_before_is_kept_through_a_change_of_model(owner):
    """The composer's picker changes only the model: an old temperature stays stored (never
    sent)."""
    conversation = make_conversation(owner, temperature=0.4)
    moved = patch(owner, conversation, {"model": "claude-opus-5"})
    assert moved.status_code == 200 and moved.json()["temperature"] == 0.4


# --- What Claude receives ------------------------------------------------------------------


def reply_requests(claude) -> list[dict]:
    return [
        r["body"]
        for r in claude.requests()
        if r["path"] == "/v1/messages" and r["body"].get("stream")
    ]


async def ask(owner, conversation, text="Hello [[tokens:5]]", **frame):
    socket, connected = await open_socket(owner, conversation.pk)
    assert connected and (await next_frame(socket))["type"] == "ready"
    await send(socket, type="user_message", text=text, **frame)
    frames = await frames_until(socket, "message_completed")
    await socket.disconnect()
    await registry.wait_for_all()
    return frames[-1], await Message.objects.aget(pk=frames[-1]["message_id"])


def cache_ttls(body) -> set[str]:
    return {
        block["cache_control"].get("ttl", "5m")
        for turn in body["messages"]
        for block in turn["content"]
        if "cache_control" in block
    }


async def test_the_next_request_carries_the_settings(claude, owner, finish_replies):
    conversation = await database_sync_to_async(make_conversation)(
        owner,
        system_prompt="Answer like a pirate.",
        max_output_tokens=500,
        temperature=0.3,
        cache_ttl="1h",
    )
    completed, reply = await ask(owner, conversation, "Who are you? [[show_request]]")
    [body] = reply_requests(claude)
    assert body["system"] == [{"type": "text", "text": "Answer like a pirate."}]
    # The stored temperature (from before API version 2026-10-21) is never sent.
    assert body["max_tokens"] == 500 and "temperature" not in body
    assert cache_ttls(body) == {"1h"}
    assert completed["status"] == "complete"
    assert 'system prompt "Answer like a pirate."' in reply.text and "max_tokens 500" in reply.text
    assert reply.notes == []


async def test_without_settings_the_defaults_are_sent(claude, owner, settings, finish_replies):
    settings.CHATAPP_MAX_OUTPUT_TOKENS = 1234
    conversation = await database_sync_to_async(make_conversation)(owner)
    await ask(owner, conversation)
    [body] = reply_requests(claude)
    assert body["max_tokens"] == 1234 and "temperature" not in body and "system" not in body
    assert cache_ttls(body) == {"5m"}  # the first question of a conversation: 5 minutes


@pytest.mark.parametrize(("model", "thinking"), [
    ("claude-sonnet-4-6", None), ("claude-sonnet-4-6", "low"), ("claude-opus-5", None),
    ("claude-sonnet-5-5", "high"),
])
async def test_a_stored_temperature_is_never_sent_and_needs_no_note(
    claude, owner, finish_replies, model, thinking
):
    """The upstream answers 400 to any temperature (API version 2026-10-21): a reply that
    completes is the proof it was left out, on every model, with thinking on or off."""
    conversation = await database_sync_to_async(make_conversation)(
        owner, model=model, temperature=0.3
    )
    completed, reply = await ask(owner, conversation, thinking=thinking)
    [body] = reply_requests(claude)
    assert body["model"] == model and "temperature" not in body
    assert completed["status"] == "complete" and reply.notes == []


async def test_max_output_is_capped_by_a_smaller_models_limit(claude, owner, finish_replies):
    conversation = await database_sync_to_async(make_conversation)(
        owner, model="claude-haiku-4-5", max_output_tokens=100_000
    )
    await ask(owner, conversation)
    [body] = reply_requests(claude)
    assert body["max_tokens"] == 64_000


async def test_a_cache_preference_of_five_minutes_holds_whatever_the_pace(
    claude, owner, finish_replies
):
    conversation = await database_sync_to_async(make_conversation)(owner, cache_ttl="5m")
    await ask(owner, conversation)
    await ask(owner, conversation, "And again [[tokens:5]]")
    assert [cache_ttls(body) for body in reply_requests(claude)] == [{"5m"}, {"5m"}]


# --- Export and import ----------------------------------------------------------------------


def test_settings_survive_an_export_and_import(owner):
    conversation = make_conversation(
        owner, system_prompt="Be terse.", max_output_tokens=700, temperature=0.15, cache_ttl="1h"
    )
    data = exports.export_json(conversation)
    assert data["conversation"]["temperature"] == 0.15  # an export may still carry it
    imported = logged_in(owner).post(
        "/api/conversations/import/", json.dumps(data), content_type="application/json"
    )
    assert imported.status_code == 201
    copy = Conversation.objects.get(pk=imported.json()["id"])
    # ...and an import accepts it and leaves it out: no model takes one any more.
    assert (copy.system_prompt, copy.max_output_tokens, copy.temperature, copy.cache_ttl) == (
        "Be terse.",
        700,
        None,
        "1h",
    )


def test_an_import_with_a_bad_setting_is_refused_in_plain_words(owner):
    data = exports.export_json(make_conversation(owner))
    data["conversation"]["cache_ttl"] = "2h"
    refused = logged_in(owner).post(
        "/api/conversations/import/", json.dumps(data), content_type="application/json"
    )
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("The conversation's settings: The cache TTL must be")
    assert Conversation.objects.filter(owner=owner).count() == 1


def test_the_composers_estimate_follows_the_settings(claude, owner):
    conversation = make_conversation(owner, max_output_tokens=300, cache_ttl="1h")
    estimate = logged_in(owner).post(
        "/api/estimate/",
        json.dumps({"conversation": conversation.pk, "text": "How much?", "model": None}),
        content_type="application/json",
    )
    assert estimate.status_code == 200
    assert estimate.json()["max_output_tokens"] == 300 and estimate.json()["ttl"] == "1h"
