"""Documents a user attaches: what is read from them, and every odd or hostile file refused in
plain words with nothing stored (chatapp/attachments/documents.py, through the upload endpoint)."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from chatapp.attachments.documents import DOCX, PDF, TEXT, prepare_document
from chatapp.attachments.uploads import UploadRejected
from chatapp.models import Attachment
from tests import files
from tests.factories import make_conversation, make_user

SONNET = {"max_pages": 100, "model_name": "Claude Sonnet 4.6"}


def prepare(raw: bytes, **options):
    return prepare_document(raw, **{**SONNET, **options})


# --- What is read ----------------------------------------------------------------------------


def test_a_pdf_is_sent_as_it_is_with_its_pages_and_text():
    document = prepare(files.make_pdf(files.LEASE))
    assert (document.media_type, document.pages) == (PDF, 3)
    assert "monthly rent of 1,200 euros" in document.text


def test_a_word_document_becomes_its_text_tables_included():
    raw = files.make_docx(["Terms of the lease.", "Rent is due monthly."],
                          table=[["Item", "Amount"], ["Rent", "1,200"]])
    document = prepare(raw)
    assert (document.media_type, document.original_media_type) == (TEXT, DOCX)
    assert document.text == "Terms of the lease.\nRent is due monthly.\nItem | Amount\nRent | 1,200"
    assert document.pages is None


def test_text_and_markdown_are_read_as_utf8_without_a_byte_order_mark():
    document = prepare("\ufeff# Notes\n\nCafé terms.".encode(), text_media_type="text/markdown")
    assert document.text == "# Notes\n\nCafé terms."
    assert (document.media_type, document.original_media_type) == (TEXT, "text/markdown")


def test_a_pdf_over_the_models_page_limit_says_how_many_pages_are_allowed():
    with pytest.raises(UploadRejected) as refused:
        prepare(files.make_pdf(["page"] * 5), max_pages=4)
    assert refused.value.http_status == 400
    assert "5 pages; Claude Sonnet 4.6 reads at most 4 PDF pages" in refused.value.message


def test_an_old_word_file_is_told_to_be_saved_as_docx():
    with pytest.raises(UploadRejected) as refused:
        prepare(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    assert refused.value.http_status == 415
    assert "save it as .docx or PDF" in refused.value.message


def test_a_word_document_without_text_is_refused():
    with pytest.raises(UploadRejected, match="has no text to read"):
        prepare(files.make_docx([]))


def test_a_zip_bomb_dressed_as_a_word_document_is_refused_before_it_is_unpacked():
    bomb = files.zip_of({
        "[Content_Types].xml": b"<Types/>",
        "word/document.xml": b"<w:document/>" + b" " * (101 * 1024 * 1024),
    })
    with pytest.raises(UploadRejected) as refused:
        prepare(bomb)
    assert refused.value.http_status == 413
    assert len(bomb) < 1024 * 1024  # it was small on the wire


# --- Hostile and odd files, through the endpoint -----------------------------------------------

FORTY_MB = b"%PDF-1.7\n" + b"0" * (40 * 1024 * 1024)

HOSTILE = [
    pytest.param("empty.pdf", b"", 400, "The file is empty.", id="zero bytes"),
    pytest.param("scan.pdf", files.png(), 415,
                 "“scan.pdf” is named like a PDF but contains an image", id="png renamed pdf"),
    pytest.param("locked.pdf", files.encrypted_pdf(), 400, "This PDF is password-protected",
                 id="encrypted pdf"),
    pytest.param("cut.pdf", files.truncated_pdf(), 400, "This PDF is incomplete",
                 id="truncated pdf"),
    pytest.param("deep.pdf", files.deep_pdf(), 400, "too large or too deeply nested",
                 id="pdf bomb: deep page tree"),
    pytest.param("loop.pdf", files.cyclic_pdf(), 400, "This PDF is damaged",
                 id="pdf bomb: cyclic page tree"),
    pytest.param("report.docx", files.zip_of({"photo.jpg": b"\xff\xd8\xff", "a.txt": b"hi"}),
                 415, "This file is a ZIP archive, not a Word document",
                 id="docx that is another zip"),
    # The refusal names everything that can be attached, pictures too.
    pytest.param("photos.zip", files.zip_of({"photo.jpg": b"\xff\xd8\xff"}), 415,
                 "attach the files inside: documents (PDF, Word (.docx), plain text or "
                 "Markdown) or images (JPEG, PNG,", id="a zip of pictures"),
    pytest.param("big.pdf", FORTY_MB, 413, "larger than 32 MB", id="40 MB file"),
    pytest.param("notes.txt", "Café au lait".encode("latin-1"), 400,
                 "This text file is not UTF-8 (the first problem is at byte 3)",
                 id="invalid utf-8"),
    pytest.param("data.bin", bytes(range(256)) * 4, 415,
                 "This kind of file cannot be read. Accepted: documents (PDF, Word (.docx), "
                 "plain text or Markdown) or images (JPEG, PNG,", id="binary junk"),
]


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


@pytest.mark.django_db(transaction=True)  # the upload endpoint is an async view
@pytest.mark.parametrize(("name", "raw", "status", "words"), HOSTILE)
def test_hostile_files_get_a_clear_error_and_nothing_is_stored(
    client, media_root, name, raw, status, words
):
    owner = make_user()
    conversation = make_conversation(owner)
    client.force_login(owner)
    response = client.post(
        f"/api/conversations/{conversation.pk}/attachments/",
        {"file": SimpleUploadedFile(name, raw)},
    )
    assert response.status_code == status
    assert words in response.json()["error"]
    assert not Attachment.objects.exists()
    assert stored_files(media_root) == []
