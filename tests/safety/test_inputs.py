"""Broken input at the edges is refused in plain words: JSON 4xx from the API, `bad_frame`
on the socket, never a 500 page, an `internal` error or a broken character sent to Claude.

A lone UTF-16 surrogate ("\\ud800" in JSON) is valid JSON but not text: it cannot be stored in
PostgreSQL, encoded as UTF-8 for the API, or shown. Ids beyond 64 bits cannot be looked up.
"""

import json

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from chatapp.models import Conversation, Message, PromptPreset
from tests.factories import make_conversation, make_exchange, make_user
from tests.sockets import next_frame, open_socket, send

pytestmark = pytest.mark.django_db(transaction=True)

BROKEN = "hi \ud800 there"  # a lone surrogate, as JSON's "\ud800" escape gives it
HUGE_ID = 10**30  # a 30-digit id


@pytest.fixture
def owner():
    return make_user()


@pytest.fixture
def client(owner):
    client = Client()
    client.force_login(owner)
    return client


def call(client, method: str, url: str, body) -> tuple[int, dict]:
    """A JSON request; the answer must be JSON whatever happened."""
    raw = json.dumps(body)  # ensure_ascii: the surrogate travels as the escape "\ud800"
    response = getattr(client, method)(url, raw, content_type="application/json")
    assert response["Content-Type"] == "application/json", response.content[:300]
    return response.status_code, response.json()


def assert_refused_in_plain_words(status: int, answer: dict, *words: str) -> None:
    assert 400 <= status < 500, (status, answer)
    for word in words:
        assert word in answer["error"], answer


# --- Lone surrogates -------------------------------------------------------------------------


def test_a_broken_character_in_a_title_is_refused(client, owner):
    status, answer = call(client, "post", "/api/conversations/", {"title": BROKEN})
    assert_refused_in_plain_words(status, answer, "title", "broken character")
    conversation = make_conversation(owner)
    status, answer = call(client, "patch", f"/api/conversations/{conversation.pk}/",
                          {"title": BROKEN})
    assert_refused_in_plain_words(status, answer, "title", "broken character")
    assert Conversation.objects.get(pk=conversation.pk).title == conversation.title


@pytest.mark.parametrize("field", ["model", "system_prompt", "cache_ttl"])
def test_a_broken_character_in_a_setting_is_refused(client, owner, field):
    conversation = make_conversation(owner)
    status, answer = call(client, "patch", f"/api/conversations/{conversation.pk}/",
                          {field: BROKEN})
    assert_refused_in_plain_words(status, answer, field, "broken character")


@pytest.mark.parametrize("field", ["name", "system_prompt", "model"])
def test_a_broken_character_in_a_preset_is_refused(client, field):
    body = {"name": "Brief", field: BROKEN}
    status, answer = call(client, "post", "/api/presets/", body)
    assert_refused_in_plain_words(status, answer, field, "broken character")
    assert not PromptPreset.objects.exists()


def test_a_broken_character_in_an_import_is_refused_and_nothing_saved(client, owner):
    conversation = make_conversation(owner, title="Trip")
    make_exchange(conversation, "question", "answer")
    exported = client.get(f"/api/conversations/{conversation.pk}/export/?format=json").content
    data = json.loads(exported)
    data["messages"][0]["text"] = BROKEN
    data["messages"][0]["content"][0]["text"] = BROKEN
    status, answer = call(client, "post", "/api/conversations/import/", data)
    assert_refused_in_plain_words(status, answer, "broken character")
    assert Conversation.objects.count() == 1


def test_a_broken_character_in_an_estimate_is_refused(client):
    status, answer = call(client, "post", "/api/estimate/",
                          {"conversation": None, "text": BROKEN, "model": None})
    assert_refused_in_plain_words(status, answer, "text", "broken character")


def test_a_broken_character_in_a_batch_job_is_refused(client):
    body = {"document_ids": [1], "prompt": BROKEN, "model": "claude-haiku-4-5"}
    for url in ("/api/batch-jobs/", "/api/batch-jobs/estimate/"):
        status, answer = call(client, "post", url, body)
        assert_refused_in_plain_words(status, answer, "prompt", "broken character")


# --- Ids beyond any row, nesting, names ------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/batch-jobs/", "/api/batch-jobs/estimate/"])
def test_a_30_digit_document_id_in_a_batch_job_is_refused(client, url):
    body = {"document_ids": [HUGE_ID], "prompt": "Summarise", "model": "claude-haiku-4-5"}
    status, answer = call(client, "post", url, body)
    assert_refused_in_plain_words(status, answer, "document")


def test_30_digit_ids_elsewhere_are_refused_or_not_found(client, owner):
    conversation = make_conversation(owner)
    status, answer = call(client, "patch", f"/api/conversations/{conversation.pk}/",
                          {"preset": HUGE_ID})
    assert status == 404 and answer["error"]
    status, answer = call(client, "post", "/api/estimate/",
                          {"conversation": HUGE_ID, "text": "hi", "model": None})
    assert status in (400, 404) and answer["error"]
    status, answer = call(client, "post", "/api/estimate/", {
        "conversation": conversation.pk, "text": "hi", "model": None, "attachments": [HUGE_ID]})
    assert status in (400, 404) and answer["error"]
    response = client.get(f"/api/conversations/{HUGE_ID}/")
    assert response.status_code == 404 and response.json()["error"]
    status, answer = call(client, "post", f"/api/conversations/{conversation.pk}/branch/",
                          {"message_id": HUGE_ID})
    assert status in (400, 404) and answer["error"]


def test_deeply_nested_json_is_refused_in_plain_words(client):
    nested = b"[" * 100_000 + b"]" * 100_000
    for url in ("/api/conversations/import/", "/api/conversations/"):
        response = client.post(url, nested, content_type="application/json")
        assert response.status_code == 400, response.content[:200]
        assert "nested" in response.json()["error"]


def _multipart_with_name(name: str, content: bytes) -> tuple[bytes, str]:
    """A form as a browser sends it (Django's test client would shorten the name to 255)."""
    boundary = "----chatappBoundary7MA4YWxkTrZu0gW"
    body = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("url", ["/api/conversations/{conversation}/attachments/",
                                 "/api/batch-documents/"])
def test_a_file_name_over_1_kb_gets_a_json_answer_in_plain_words(client, owner, url):
    conversation = make_conversation(owner)
    body, content_type = _multipart_with_name("a" * 1500 + ".txt", b"Plain notes.\n" * 400)
    response = client.post(url.format(conversation=conversation.pk), body,
                           content_type=content_type)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json", response.content[:300]
    assert "file name is longer than 1,000 characters" in response.json()["error"]


# --- The socket ------------------------------------------------------------------------------


async def _refused_frame(owner, **frame) -> dict:
    conversation = await database_sync_to_async(make_conversation)(owner)
    socket, _ = await open_socket(owner, conversation.pk)
    assert (await next_frame(socket))["type"] == "ready"
    await send(socket, **frame)
    answer = await next_frame(socket)
    await socket.disconnect()
    return answer


@pytest.mark.parametrize("frame", [
    {"type": "user_message", "text": BROKEN},
    {"type": "user_message", "text": "hi", "model": "claude\ud800"},
    {"type": "edit_message", "message_id": 1, "text": BROKEN},
    {"type": "regenerate", "message_id": HUGE_ID},
    {"type": "continue", "message_id": HUGE_ID},
    {"type": "stop", "message_id": HUGE_ID},
    {"type": "user_message", "text": "hi", "attachments": [HUGE_ID]},
], ids=["text", "model", "edit", "regenerate", "continue", "stop", "attachment"])
async def test_broken_frames_get_bad_frame_not_internal(claude, frame):
    owner = await database_sync_to_async(make_user)()
    answer = await _refused_frame(owner, **frame)
    assert answer["type"] == "error" and answer["code"] == "bad_frame", answer
    assert not await database_sync_to_async(Message.objects.exists)()
