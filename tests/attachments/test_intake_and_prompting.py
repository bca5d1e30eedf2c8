"""Attachments: uploading, listing, downloading and removing them, who may do what, and what
happens when a question is sent with them (chatapp/attachments/ and its endpoints, the
socket's user_message, the prompt Claude is sent and what its cache does with it)."""

import io
import math
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pypdf import PdfReader

from chatapp.models import Attachment, Conversation, Message, Role
from chatapp.replies import registry
from config.asgi import application
from tests import files
from tests.factories import logged_in, make_conversation, make_user
from tests.sockets import frames_until, next_frame, open_socket, send

# The upload endpoint is an async view, and the socket tests are async: real transactions.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def owner():
    return make_user()


@pytest.fixture
def conversation(owner):
    return make_conversation(owner)


def url(conversation, *rest) -> str:
    return "/".join([f"/api/conversations/{conversation.pk}/attachments", *map(str, rest), ""])


def upload(client, conversation, name, raw):
    return client.post(url(conversation), {"file": SimpleUploadedFile(name, raw)})


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def offline_pdf_tokens(raw: bytes, title: str) -> int:
    """The offline upstream's documented count: each page's text at 4 chars a token plus 1,140
    for its image, the title as text, and 3 for the message around it."""
    pages = [page.extract_text() or "" for page in PdfReader(io.BytesIO(raw)).pages]
    return sum(math.ceil(len(t) / 4) + 1140 for t in pages) + math.ceil(len(title) / 4) + 3


# --- Uploading ---------------------------------------------------------------------------------


def test_a_pdf_upload_answers_its_pages_tokens_and_what_questions_will_cost(
    claude, owner, conversation, media_root
):
    raw = files.make_pdf(files.LEASE)
    response = upload(logged_in(owner), conversation, "lease.pdf", raw)
    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "document" and body["name"] == "lease.pdf"
    assert body["pages"] == 3 and body["size"] == len(raw)
    assert body["tokens"] == offline_pdf_tokens(raw, "lease.pdf")
    # Sonnet 4.6: written to the cache at $3.75/MTok once, then read at $0.30/MTok.
    assert body["first_question_usd"] == f"{body['tokens'] * 3.75 / 1e6:.8f}".rstrip("0")
    assert body["later_question_usd"] == f"{body['tokens'] * 0.30 / 1e6:.8f}".rstrip("0")
    assert body["message_id"] is None  # pending in the composer until it is sent
    # The count came from the API's count_tokens, with the document as Claude will see it.
    [counted] = [r for r in claude.requests() if r["path"] == "/v1/messages/count_tokens"]
    assert counted["body"]["messages"][0]["content"][0]["source"]["media_type"] == "application/pdf"
    # Stored under generated names: the user's file name is never a path.
    assert [p.name.endswith("-original") for p in stored_files(media_root)] == [True]
    assert "lease" not in str(stored_files(media_root)[0])


@pytest.mark.parametrize(
    ("name", "raw", "text"),
    [
        ("notes.md", b"# Notes\n\nRent is due monthly.", "# Notes\n\nRent is due monthly."),
        ("terms.docx", files.make_docx(["Rent is due monthly."]), "Rent is due monthly."),
    ],
)
def test_text_and_word_documents_are_sent_as_their_text(claude, owner, conversation, name, raw,
                                                         text):
    body = upload(logged_in(owner), conversation, name, raw).json()
    assert (body["kind"], body["pages"]) == ("document", None)
    assert Attachment.objects.get(pk=body["id"]).text == text
    # 4 characters a token for the text, the title too, and 3 for the message.
    assert body["tokens"] == math.ceil(len(text) / 4) + math.ceil(len(name) / 4) + 3


def test_an_image_upload_answers_its_size_and_tokens_for_every_image_tier(
    claude, owner, conversation
):
    body = upload(logged_in(owner), conversation, "chart.png", files.png(280, 140)).json()
    assert body["kind"] == "image"
    assert (body["width"], body["height"]) == (280, 140)
    assert body["tokens_by_tier"] == {"standard": 50, "high": 50}  # ⌈280/28⌉ × ⌈140/28⌉


def test_a_path_in_the_file_name_is_dropped(claude, owner, conversation):
    body = upload(logged_in(owner), conversation, "../../etc/passwd.txt", b"just text").json()
    assert body["name"] == "passwd.txt"


def test_an_upload_without_a_file_field_is_explained(owner, conversation):
    response = logged_in(owner).post(url(conversation), {"other": "x"})
    assert response.status_code == 400
    assert response.json() == {"error": "Send the file in a form field named “file”."}


def test_a_document_too_long_for_the_model_is_refused(claude, owner, conversation, settings):
    from chatapp.models import ClaudeModel

    ClaudeModel.objects.filter(pk=conversation.model).update(context_window=50)
    response = upload(logged_in(owner), conversation, "long.txt", b"word " * 400)
    assert response.status_code == 400
    assert "reads at most 50 at once" in response.json()["error"]
    assert not Attachment.objects.exists()


# --- The size guard, before the body is read -----------------------------------------------------


async def test_an_oversized_upload_is_refused_from_its_content_length_alone(settings):
    sent, reads = [], 0

    async def receive():
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def capture(message):
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": "/api/conversations/1/attachments/",
        "headers": [(b"content-length", str(40 * 1024 * 1024).encode()),
                    (b"content-type", b"multipart/form-data; boundary=x")],
        "query_string": b"", "scheme": "http", "server": ("127.0.0.1", 8000),
    }
    await application(scope, receive, capture)
    assert sent[0]["status"] == 413
    assert b"larger than 32 MB" in sent[1]["body"]
    assert reads == 0  # not one byte of the body was read


async def test_a_chunked_upload_is_cut_off_once_it_passes_the_limit(settings):
    settings.CHATAPP_MAX_UPLOAD_BYTES = 1024
    sent, reads = [], 0

    async def receive():
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 64 * 1024, "more_body": True}

    async def capture(message):
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": "/api/conversations/1/attachments/",
        "headers": [(b"content-type", b"multipart/form-data; boundary=x")],
        "query_string": b"", "scheme": "http", "server": ("127.0.0.1", 8000),
    }
    await application(scope, receive, capture)
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [413]
    assert reads == 2  # 64 KB is within limit + multipart room; 128 KB is not


# --- Listing, downloading, removing, and who may ------------------------------------------------


@pytest.fixture
def lease(claude, owner, conversation):
    body = upload(logged_in(owner), conversation, "lease.pdf", files.make_pdf(files.LEASE))
    return Attachment.objects.get(pk=body.json()["id"])


def test_the_owner_lists_downloads_and_removes_a_document(
    owner, conversation, lease, media_root, django_capture_on_commit_callbacks
):
    client = logged_in(owner)
    listed = client.get(url(conversation)).json()["attachments"]
    assert [(a["id"], a["name"], a["pages"]) for a in listed] == [(lease.pk, "lease.pdf", 3)]

    download = client.get(url(conversation, lease.pk, "file"))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == lease.original.open("rb").read()
    assert download["Content-Disposition"] == 'attachment; filename="lease.pdf"'
    assert download["Content-Type"] == "application/pdf"
    assert download["X-Content-Type-Options"] == "nosniff"

    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(url(conversation, lease.pk)).status_code == 204
    assert client.get(url(conversation)).json()["attachments"] == []
    assert stored_files(media_root) == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", ()), ("post", ()), ("get", ("{id}",)), ("delete", ("{id}",)),
     ("get", ("{id}", "file"))],
)
def test_a_stranger_gets_404_and_an_anonymous_visitor_401(conversation, lease, method, path):
    target = url(conversation, *(part.format(id=lease.pk) for part in path))
    stranger = logged_in(make_user())
    assert getattr(stranger, method)(target).status_code == 404
    assert getattr(Client(), method)(target).status_code == 401
    assert Attachment.objects.filter(pk=lease.pk).exists()


def test_an_attachment_is_reached_only_through_its_own_conversation(owner, lease):
    other = make_conversation(owner)
    assert logged_in(owner).get(url(other, lease.pk)).status_code == 404


def test_deleting_a_conversation_deletes_its_files(
    owner, conversation, lease, media_root, django_capture_on_commit_callbacks
):
    assert stored_files(media_root)
    with django_capture_on_commit_callbacks(execute=True):
        logged_in(owner).delete(f"/api/conversations/{conversation.pk}/")
    assert stored_files(media_root) == []


# --- Sending a question with documents -----------------------------------------------------------


async def ready_socket(user, conversation_id):
    socket, connected = await open_socket(user, conversation_id)
    assert connected
    assert (await next_frame(socket))["type"] == "ready"
    return socket


async def ask(socket, text, **fields):
    """(the question as saved, the reply's message_completed frame)."""
    await send(socket, type="user_message", text=text, **fields)
    frames = await frames_until(socket, "message_completed")
    # A title generated after the first exchange may announce itself in between.
    [created] = [frame for frame in frames if frame["type"] == "message_created"]
    return created["message"], frames[-1]


def message_requests(claude):
    """The replies' requests (streamed), leaving out the titles' (plain)."""
    return [
        r["body"] for r in claude.requests()
        if r["path"] == "/v1/messages" and r["body"].get("stream")
    ]


@database_sync_to_async
def fetch(model, pk):
    return model.objects.get(pk=pk)


async def test_a_document_is_sent_once_and_read_from_the_cache_by_the_next_question(
    claude, owner, conversation, lease, finish_replies
):
    socket = await ready_socket(owner, conversation.pk)
    question, first = await ask(socket, "When is the rent due?", attachments=[lease.pk])
    assert question["content"][0] | {"attachment_id": lease.pk} == question["content"][0]
    assert question["text"] == "When is the rent due?"
    assert (await fetch(Attachment, lease.pk)).message_id == question["id"]
    written = first["usage"]["cache_write_5m_tokens"]
    assert written >= lease.tokens  # the document went into the cache...

    _question, second = await ask(socket, "And how can it be ended?")
    assert second["usage"]["cache_read_tokens"] >= lease.tokens  # ...and came back from it
    assert second["usage"]["input_tokens"] < 100
    assert float(second["cache_saved_usd"]) > 0

    # Both requests carried the document, titled and citable, at the start of the first turn.
    for body in message_requests(claude)[:1] + message_requests(claude)[-1:]:
        document = body["messages"][0]["content"][0]
        assert document["type"] == "document" and document["title"] == "lease.pdf"
        assert document["citations"] == {"enabled": True}
    await socket.disconnect()


async def test_an_answer_cites_its_source_and_the_citation_is_stored(
    claude, owner, conversation, lease, finish_replies
):
    socket = await ready_socket(owner, conversation.pk)
    _question, done = await ask(socket, "What is the monthly rent?", attachments=[lease.pk])
    cited = [block for block in done["content"] if block.get("citations")]
    assert len(cited) == 1
    [citation] = cited[0]["citations"]
    assert citation["type"] == "page_location" and citation["start_page_number"] == 2
    assert "monthly rent of 1,200 euros" in citation["cited_text"]
    stored = await fetch(Message, done["message_id"])
    assert stored.content == done["content"]
    await socket.disconnect()


async def test_the_next_request_names_the_previous_reply_and_a_cache_miss_is_kept(
    claude, owner, conversation, lease, finish_replies
):
    socket = await ready_socket(owner, conversation.pk)
    _q, first = await ask(socket, "Summarise it.", attachments=[lease.pk])
    reply = await fetch(Message, first["message_id"])
    assert reply.upstream_id.startswith("msg_") and reply.cache_miss_reason is None

    await database_sync_to_async(
        Conversation.objects.filter(pk=conversation.pk).update
    )(system_prompt="Answer in French.")
    _q, second = await ask(socket, "And the notice period?")
    assert message_requests(claude)[-1]["diagnostics"] == {
        "previous_message_id": reply.upstream_id
    }
    missed = (await fetch(Message, second["message_id"])).cache_miss_reason
    assert missed["type"] == "system_changed"
    await socket.disconnect()


@pytest.mark.parametrize("whose", ["stranger's", "other conversation's", "already sent"])
async def test_an_attachment_that_is_not_waiting_here_is_refused_and_nothing_is_saved(
    claude, owner, conversation, lease, finish_replies, whose
):
    if whose == "stranger's":
        other = await database_sync_to_async(make_conversation)()
        target = await database_sync_to_async(make_conversation)(owner)
        await database_sync_to_async(
            Attachment.objects.filter(pk=lease.pk).update
        )(conversation=other, owner=other.owner)
    elif whose == "other conversation's":
        target = await database_sync_to_async(make_conversation)(owner)
    else:
        target = conversation
        socket = await ready_socket(owner, conversation.pk)
        await ask(socket, "First question", attachments=[lease.pk])
        await socket.disconnect()
        # The first exchange's title is written after its reply: let it land before listening.
        await registry.wait_for_all()
    socket = await ready_socket(owner, target.pk)
    before = await database_sync_to_async(Message.objects.count)()
    await send(socket, type="user_message", text="Read this", attachments=[lease.pk])
    error = await next_frame(socket)
    assert error["type"] == "error" and error["code"] == "not_found"
    assert f"Attachment {lease.pk}" in error["message"]
    assert await database_sync_to_async(Message.objects.count)() == before
    await socket.disconnect()


async def test_a_removed_document_leaves_a_note_and_the_conversation_goes_on(
    claude, owner, conversation, lease, finish_replies
):
    socket = await ready_socket(owner, conversation.pk)
    await ask(socket, "Summarise it.", attachments=[lease.pk])
    await database_sync_to_async(lease.delete)()
    _q, done = await ask(socket, "Is it still there?")
    assert done["status"] == "complete"
    first_turn = message_requests(claude)[-1]["messages"][0]["content"]
    assert [block["type"] for block in first_turn] == ["text", "text"]
    assert first_turn[0]["text"] == "[The document “lease.pdf” attached here has been removed.]"
    await socket.disconnect()


async def test_documents_over_the_models_page_limit_are_left_out_with_a_note(
    claude, owner, conversation, lease, finish_replies
):
    from chatapp.models import ClaudeModel

    await database_sync_to_async(
        ClaudeModel.objects.filter(pk=conversation.model).update
    )(max_pdf_pages=2)
    socket = await ready_socket(owner, conversation.pk)
    _q, done = await ask(socket, "Summarise it.", attachments=[lease.pk])
    assert done["status"] == "complete"
    reply = await fetch(Message, done["message_id"])
    note = "The document “lease.pdf” was left out: with it the request would carry more than 2 "
    assert reply.notes[0].startswith(note)
    first_turn = message_requests(claude)[-1]["messages"][0]["content"]
    assert first_turn[0]["text"].startswith("[" + note)
    await socket.disconnect()


async def test_several_questions_a_minute_apart_keep_reading_the_cache(
    claude, owner, conversation, lease, finish_replies
):
    socket = await ready_socket(owner, conversation.pk)
    await ask(socket, "Question one", attachments=[lease.pk])
    for number in range(2, 5):
        claude.advance_clock(60)
        _q, done = await ask(socket, f"Question {number}")
        assert done["usage"]["cache_read_tokens"] >= lease.tokens
    await socket.disconnect()


def test_question_messages_keep_references_not_file_bytes(owner, conversation, lease):
    from chatapp.attachments.prompting import reference

    ref = reference(lease)
    assert ref == {"type": "attachment", "attachment_id": lease.pk, "kind": "document",
                   "name": "lease.pdf", "media_type": "application/pdf", "size": lease.size,
                   "pages": 3}
    Message.objects.create(conversation=conversation, role=Role.USER,
                           content=[ref, {"type": "text", "text": "q"}])
    assert len(str(Message.objects.get(conversation=conversation).content)) < 300


# --- Images: sent as prepared, within the request's media limits --------------------------------


def png(size, colour=(200, 30, 30)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


@database_sync_to_async
def upload_images(owner, conversation, sizes, prefix="picture") -> list[int]:
    client = logged_in(owner)
    ids = []
    for n, size in enumerate(sizes):
        raw = png(size, (n * 9 % 256, 90, 40))  # each one different
        response = upload(client, conversation, f"{prefix}-{n}.png", raw)
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    return ids


def images_in(body) -> list[str]:
    """The base64 data of every image a request carries, in order."""
    return [block["source"]["data"] for message in body["messages"]
            if isinstance(message["content"], list)
            for block in message["content"] if block.get("type") == "image"]


@pytest.fixture
def high_tier(owner):
    return make_conversation(owner, model="claude-opus-4-8")


async def test_beyond_twenty_images_a_new_one_is_left_out_rather_than_earlier_ones_shrunk(
    claude, owner, high_tier, finish_replies
):
    # One image wider than the 2000 px a request of more than 20 images allows, 19 small ones.
    first_ids = await upload_images(owner, high_tier, [(2400, 1200)] + [(64, 64)] * 19)
    socket = await ready_socket(owner, high_tier.pk)
    _q, done = await ask(socket, "Compare them.", attachments=first_ids)
    assert done["status"] == "complete"
    sent_first = images_in(message_requests(claude)[-1])
    assert len(sent_first) == 20

    later_ids = await upload_images(owner, high_tier, [(64, 64)] * 2, prefix="later")
    _q, done = await ask(socket, "And these two?", attachments=later_ids)
    assert done["status"] == "complete"
    body = message_requests(claude)[-1]
    assert images_in(body) == sent_first  # the same 20 images, byte for byte
    reply = await fetch(Message, done["message_id"])
    assert len(reply.notes) == 2
    assert all("was left out: beyond 20 images" in note for note in reply.notes)
    last_turn = [b.get("text", "") for b in body["messages"][-1]["content"]]
    assert sum("“later-" in t and "left out" in t for t in last_turn) == 2  # in its own turn
    await socket.disconnect()


async def test_once_twenty_images_are_held_new_ones_are_prepared_small_enough_to_join(
    claude, owner, high_tier, finish_replies
):
    first_ids = await upload_images(owner, high_tier, [(64, 64)] * 20)
    socket = await ready_socket(owner, high_tier.pk)
    await ask(socket, "Look.", attachments=first_ids)
    sent_first = images_in(message_requests(claude)[-1])

    (big,) = await upload_images(owner, high_tier, [(2400, 1200)])
    assert (await fetch(Attachment, big)).width == 2000  # the 21st: made 2000 px at upload
    _q, done = await ask(socket, "And this one?", attachments=[big])
    assert done["status"] == "complete"
    sent = images_in(message_requests(claude)[-1])
    assert len(sent) == 21 and sent[:20] == sent_first
    await socket.disconnect()


async def test_images_and_pdf_pages_share_the_models_media_cap(
    claude, owner, conversation, lease, finish_replies
):
    from chatapp.models import ClaudeModel

    cap = lease.pages + 1  # room for the PDF's pages and one image
    await database_sync_to_async(
        ClaudeModel.objects.filter(pk=conversation.model).update
    )(max_pdf_pages=cap)
    image_ids = await upload_images(owner, conversation, [(64, 64)] * 2)
    socket = await ready_socket(owner, conversation.pk)
    _q, done = await ask(socket, "Read all.", attachments=[lease.pk, *image_ids])
    assert done["status"] == "complete"
    reply = await fetch(Message, done["message_id"])
    assert reply.notes == [
        f"The image “picture-1.png” was left out: with it the request would carry more than "
        f"{cap} images and PDF pages, the most Claude Sonnet 4.6 reads at once."
    ]
    assert len(images_in(message_requests(claude)[-1])) == 1
    await socket.disconnect()
