"""Hostile uploads: any bytes under any name give an accepted file or a plain-words refusal,
never an exception that kills a worker; and what the user called a file never becomes a path.

The pipeline is ``chatapp.attachments.prepare_upload`` (content sniffing, then the image and
document preparers); the endpoint is ``POST /api/conversations/<id>/attachments/``.
"""

from pathlib import Path

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatapp.attachments import ModelLimits, PreparedUpload, display_name, prepare_upload
from chatapp.models import Attachment
from chatapp.uploads import UploadRejected
from tests.factories import make_conversation, make_user

LIMITS = ModelLimits("claude-sonnet-4-6", "Claude Sonnet 4.6", 1_000_000, "standard", 600)

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
        prepared = prepare_upload(raw, name, LIMITS)
    except UploadRejected as refused:
        assert refused.message.strip() and refused.status in {400, 413, 415}
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
