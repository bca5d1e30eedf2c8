"""Per-user rate limits: counted in the cache, answered with a clear message, nothing lost."""

import json
from dataclasses import replace

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from chatapp.models import Attachment, Message
from chatapp.policies.safety import rate_limits
from chatapp.safety.ratelimits import RateLimited, spend_sync
from tests.factories import make_conversation, make_user
from tests.sockets import frames_until, next_frame, open_socket, send


@pytest.fixture
def two_per_window():
    return replace(rate_limits(), message=2, upload=2, window_seconds=60)


def test_the_limit_allows_n_per_window_then_says_how_long_to_wait(two_per_window):
    spend_sync(1, "message", two_per_window)
    spend_sync(1, "message", two_per_window)
    with pytest.raises(RateLimited) as refused:
        spend_sync(1, "message", two_per_window)
    assert refused.value.code == "rate_limited"
    assert 1 <= refused.value.retry_after <= 60
    assert "too many messages" in refused.value.message
    assert f"Wait {refused.value.retry_after} s" in refused.value.message


def test_each_user_and_each_action_has_its_own_count(two_per_window):
    for _ in range(2):
        spend_sync(1, "message", two_per_window)
    spend_sync(2, "message", two_per_window)  # someone else
    spend_sync(1, "upload", two_per_window)  # another action
    spend_sync(1, "upload", two_per_window)
    with pytest.raises(RateLimited, match="too many files"):
        spend_sync(1, "upload", two_per_window)


def test_zero_turns_a_limit_off():
    unlimited = replace(rate_limits(), message=0)
    for _ in range(100):
        spend_sync(1, "message", unlimited)


# --- On the socket -------------------------------------------------------------------------


async def next_reply_frame(socket) -> dict:
    """The next frame that is not the first exchange's title, which arrives when it is ready."""
    while (frame := await next_frame(socket))["type"] == "conversation_updated":
        pass
    return frame


@pytest.mark.django_db(transaction=True)
async def test_a_message_over_the_limit_is_refused_and_nothing_is_saved(
    claude, settings, finish_replies
):
    settings.CHATAPP_MESSAGE_RATE_LIMIT = 1
    owner = await database_sync_to_async(make_user)()
    conversation = await database_sync_to_async(make_conversation)(owner)
    socket, _ = await open_socket(owner, conversation.pk)
    assert (await next_frame(socket))["type"] == "ready"

    await send(socket, type="user_message", text="first")
    completed = (await frames_until(socket, "message_completed"))[-1]
    await send(socket, type="user_message", text="second, too soon")
    refused = await next_frame(socket)
    assert refused["type"] == "error" and refused["code"] == "rate_limited"
    assert "Wait" in refused["message"] and "message_id" not in refused
    # A retry (regenerate) starts a reply too, so it counts against the same limit.
    await send(socket, type="regenerate", message_id=completed["message_id"])
    assert (await next_reply_frame(socket))["code"] == "rate_limited"

    texts = [m.text async for m in Message.objects.filter(conversation=conversation, role="user")]
    assert texts == ["first"]
    # The socket is still open and serves the next window's messages.
    settings.CHATAPP_MESSAGE_RATE_LIMIT = 0
    await send(socket, type="user_message", text="later")
    assert (await frames_until(socket, "message_completed"))[-1]["status"] == "complete"
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
def test_an_upload_over_the_limit_gets_429_and_stores_nothing(claude, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CHATAPP_UPLOAD_RATE_LIMIT = 1
    owner = make_user()
    conversation = make_conversation(owner)
    client = Client()
    client.force_login(owner)
    url = f"/api/conversations/{conversation.pk}/attachments/"

    def upload(name):
        return client.post(url, {"file": SimpleUploadedFile(name, b"some notes")})

    assert upload("first.txt").status_code == 201
    refused = upload("second.txt")
    assert refused.status_code == 429
    assert "too many files" in refused.json()["error"]
    assert list(Attachment.objects.values_list("name", flat=True)) == ["first.txt"]


# --- Cost estimates: each one is a count_tokens call upstream ------------------------------


@pytest.mark.django_db(transaction=True)
def test_estimates_over_the_limit_get_429_and_ask_nothing_upstream(claude, settings):
    settings.CHATAPP_ESTIMATE_RATE_LIMIT = 3
    owner = make_user()
    client = Client()
    client.force_login(owner)
    body = json.dumps({"conversation": None, "text": "How far is Porto?",
                       "model": "claude-haiku-4-5"})

    def estimate():
        return client.post("/api/estimate/", body, content_type="application/json")

    assert [estimate().status_code for _ in range(3)] == [200, 200, 200]
    counted = len([r for r in claude.requests() if r["path"].endswith("/count_tokens")])
    refused = estimate()
    assert refused.status_code == 429
    assert "too many cost estimates" in refused.json()["error"]
    assert 1 <= int(refused["Retry-After"]) <= settings.CHATAPP_RATE_LIMIT_WINDOW_SECONDS
    assert len([r for r in claude.requests() if r["path"].endswith("/count_tokens")]) == counted
    # Someone else is not held back by this user's count.
    other = Client()
    other.force_login(make_user())
    assert other.post("/api/estimate/", body, content_type="application/json").status_code == 200


# --- Password reset: off unless mail is configured ------------------------------------------


@pytest.fixture
def account_pages(settings):
    """Rebuild the URL configuration after changing whether mail is configured."""
    import importlib

    from django.urls import clear_url_caches

    import config.urls

    def build(with_mail: bool):
        settings.CHATAPP_PASSWORD_RESET = with_mail
        importlib.reload(config.urls)
        clear_url_caches()

    yield build
    build(False)


@pytest.mark.django_db
def test_password_reset_pages_do_not_exist_without_mail(account_pages):
    account_pages(False)
    client = Client()
    for url in ("/accounts/password_reset/", "/accounts/password_reset/done/",
                "/accounts/reset/MQ/set-password/"):
        assert client.get(url).status_code == 404, url
    assert client.post("/accounts/password_reset/", {"email": "a@example.com"}).status_code == 404
    assert client.get("/accounts/login/").status_code == 200  # logging in is untouched


@pytest.mark.django_db
def test_with_mail_password_resets_are_sent_a_few_per_address(account_pages, settings, mailoutbox):
    account_pages(True)
    settings.CHATAPP_PASSWORD_RESET_RATE_LIMIT = 2
    make_user("member", email="member@example.com")
    assert Client().get("/accounts/password_reset/").status_code == 200
    asks = [Client().post("/accounts/password_reset/", {"email": "member@example.com"})
            for _ in range(3)]
    assert [ask.status_code for ask in asks] == [302, 302, 429]
    assert "too many password reset requests" in asks[-1].content.decode()
    assert len(mailoutbox) == 2
    # Another address is not held back.
    other = Client(REMOTE_ADDR="192.0.2.44")
    assert other.post("/accounts/password_reset/", {"email": "x@example.com"}).status_code == 302
