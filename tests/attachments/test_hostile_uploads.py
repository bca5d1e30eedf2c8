"""Hostile uploads: any bytes under any name give an accepted file or a plain-words refusal,
never an exception that kills a worker; and what the user called a file never becomes a path.

The pipeline is ``chatapp.attachments.intake.prepare_upload`` (content sniffing, then the image and
document preparers); the endpoint is ``POST /api/conversations/<id>/attachments/``.
"""

import asyncio
import time
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatapp.attachments import isolation
from chatapp.attachments.image_sizes import fit_size
from chatapp.attachments.intake import ModelLimits, PreparedUpload, display_name, prepare_upload
from chatapp.attachments.policy import UploadPolicy
from chatapp.attachments.uploads import UploadRejected
from chatapp.models import Attachment
from chatapp.safety.content_checks import build_policy
from chatapp.safety.policy import ContentPolicy
from tests.factories import make_conversation, make_user
from tests.hostile_files import markup_heavy_docx, semi_transparent_png

LIMITS = ModelLimits("claude-sonnet-4-6", "Claude Sonnet 4.6", 1_000_000, "standard", 600)
UPLOADS = UploadPolicy(
    max_upload_bytes=32 * 2**20, max_upload_mb=32, max_image_base64_bytes=10_000_000,
    content=ContentPolicy(actions=build_policy({}), keep_originals=False, phone_region="US"),
    default_model="claude-sonnet-4-6",
)

# The first bytes of every format the pipeline recognises, so that random tails reach the
# parsers behind the sniffing (pypdf, python-docx's zip reader, Pillow) and not only the sniffer.
MAGIC = [
    b"", b"%PDF-1.7\n", b"PK\x03\x04", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"\xff\xd8\xff\xe0",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"BM", b"II*\x00", b"\x00\x00\x00\x18ftypheic",
    b"<svg xmlns='http://www.w3.org/2000/svg'>", b"\xef\xbb\xbf", b"\xff\xfe",
]
NAMES = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["notes.txt", "scan.pdf", "photo.jpg", "report.docx", "a.md", "x.png"]),
)


def assert_accepted_or_explained(raw: bytes, name: str) -> None:
    try:
        prepared = prepare_upload(raw, name, LIMITS, UPLOADS)
    except UploadRejected as refused:
        assert refused.message.strip() and refused.http_status in {400, 413, 415}
    else:
        assert isinstance(prepared, PreparedUpload) and prepared.sha256


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(magic=st.sampled_from(MAGIC), tail=st.binary(max_size=2048), name=NAMES)
def test_any_bytes_under_any_name_are_accepted_or_refused_in_plain_words(magic, tail, name):
    assert_accepted_or_explained(magic + tail, display_name(name))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=600)))
def test_a_display_name_is_never_a_path_and_never_empty(raw_name):
    name = display_name(raw_name)
    assert name and len(name) <= 255
    assert "/" not in name and "\\" not in name
    assert not any(ord(char) < 32 or ord(char) == 127 for char in name)


# --- Through the endpoint --------------------------------------------------------------------

HOSTILE_NAMES = [
    "../../etc/passwd", "..\\..\\boot.ini", "/root/.ssh/authorized_keys", "~/.bashrc",
    "x" * 400 + ".txt", "con.txt", "notes.txt\r\nX-Injected: 1", "a;b|c`d$(e).txt",
]
# Names with nothing left once the path is dropped: Django's form parser drops the file part.
NAMELESS = ["..", ".", ""]


def multipart(filename: str, content: bytes) -> tuple[bytes, str]:
    """A form with one file, its name sent exactly as given (no client-side cleaning)."""
    boundary = "hostile-boundary-7d1f"
    body = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def post_file(claude, settings, tmp_path):
    """POST one small text file under the given name; (response, owner)."""
    settings.MEDIA_ROOT = tmp_path
    owner = make_user()
    conversation = make_conversation(owner)
    client = Client()
    client.force_login(owner)

    def post(name: str):
        body, content_type = multipart(name, b"plain words, nothing more")
        url = f"/api/conversations/{conversation.pk}/attachments/"
        return client.post(url, body, content_type=content_type), owner

    return post


@pytest.mark.django_db(transaction=True)  # the upload view is async
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_file_name_never_becomes_a_path(name, post_file, tmp_path):
    response, owner = post_file(name)
    assert response.status_code == 201, response.content
    attachment = Attachment.objects.get()
    stored = Path(attachment.original.path).resolve()
    assert stored.is_relative_to(tmp_path.resolve() / "attachments" / str(owner.pk))
    assert stored.name.endswith("original")  # generated; nothing of the user's name in it
    assert "/" not in attachment.name and "\\" not in attachment.name


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", NAMELESS)
def test_a_file_whose_name_is_only_a_path_is_refused_and_nothing_is_stored(
    name, post_file, tmp_path
):
    response, _ = post_file(name)
    assert response.status_code == 400
    assert response.json() == {"error": "Send the file in a form field named “file”."}
    assert not Attachment.objects.exists() and not any(tmp_path.iterdir())


# --- Small files, huge work (issue 24 item 3) ------------------------------------------------
# Preparation is bounded: memory per image judged from its header, markup counted while
# streaming a Word document, a time limit, and a few preparations at a time (uploads/isolation.py).
# tests/attachments/test_upload_memory.py measures a real server's memory around the same files.


def test_a_small_png_that_decodes_to_hundreds_of_mb_is_refused_from_its_header():
    raw = semi_transparent_png(7000, 7000)  # under 1 MB on disk, 196 MB of pixels
    assert len(raw) < 1_000_000
    with pytest.raises(UploadRejected) as refused:
        prepare_upload(raw, "poster.png", LIMITS, UPLOADS)
    assert refused.value.http_status == 413
    assert "7,000 × 7,000 pixels" in refused.value.message
    assert "MB of memory" in refused.value.message and "megapixels" in refused.value.message


def test_an_image_within_the_memory_budget_is_still_prepared():
    raw = semi_transparent_png(4000, 3000)  # 12 megapixels with transparency: 144 MB at most
    prepared = prepare_upload(raw, "poster.png", LIMITS, UPLOADS)
    assert prepared.kind == "image"
    assert (prepared.width, prepared.height) == fit_size(4000, 3000, LIMITS.image_tier)


def test_a_small_docx_with_95_mb_of_markup_is_refused_in_seconds():
    raw = markup_heavy_docx(95)  # a few hundred KB; python-docx took minutes and 1.6 GB
    assert len(raw) < 1_000_000
    start = time.monotonic()
    with pytest.raises(UploadRejected) as refused:
        prepare_upload(raw, "report.docx", LIMITS, UPLOADS)
    assert time.monotonic() - start < 10
    assert refused.value.http_status == 413
    assert "500,000 pieces of markup" in refused.value.message
    assert "save it as PDF" in refused.value.message


def test_a_word_document_with_ordinary_markup_is_still_read():
    raw = markup_heavy_docx(0.2)  # 35,000 empty paragraphs and one word: under the count
    assert prepare_upload(raw, "report.docx", LIMITS, UPLOADS).text == "Hello"


def test_a_preparation_over_its_time_limit_is_given_up_with_a_422(monkeypatch):
    # No image is prepared in a millisecond (a process must even start): the limit is hit.
    monkeypatch.setattr(isolation, "TIME_LIMIT_SECONDS", 0.001)
    with pytest.raises(UploadRejected) as refused:
        prepare_upload(semi_transparent_png(400, 300), "poster.png", LIMITS, UPLOADS)
    assert refused.value.http_status == 422
    assert "longer than 0.001 seconds to prepare" in refused.value.message


async def test_when_every_preparation_slot_is_taken_an_upload_hears_the_server_is_busy(
    monkeypatch,
):
    monkeypatch.setattr(isolation, "QUEUE_WAIT_SECONDS", 0.2)
    async with AsyncExitStack() as held:
        for _ in range(isolation.MAX_CONCURRENT):
            await held.enter_async_context(isolation.preparation_slot())
        with pytest.raises(UploadRejected) as refused:
            async with isolation.preparation_slot():
                pass
    assert refused.value.http_status == 503
    assert "busy preparing other files" in refused.value.message
    async with isolation.preparation_slot():  # the slots came back
        pass


async def test_an_upload_waits_for_a_slot_that_frees_up(monkeypatch):
    async with AsyncExitStack() as held:
        for _ in range(isolation.MAX_CONCURRENT):
            await held.enter_async_context(isolation.preparation_slot())
        waiting = asyncio.create_task(_take_a_slot())
        await asyncio.sleep(0)
        assert not waiting.done()
    assert await waiting == "prepared"


async def _take_a_slot() -> str:
    async with isolation.preparation_slot():
        return "prepared"
