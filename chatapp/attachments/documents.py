"""Documents for Claude to read: PDF, Word (.docx), plain text and Markdown.

Each file is judged by its content, never by its name, and refused with plain words (an
``UploadRejected``) when it cannot be sent as it is: a PDF must parse, must not be encrypted
and must stay within the model's page limit; a Word document must be a real one (a ZIP holding
``word/document.xml``) whose text python-docx can read; text must be UTF-8.

Pure, synchronous work on bytes (no ORM, no I/O): callers run it off the event loop.
"""

from __future__ import annotations

import io
import logging
import zipfile
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.errors import LimitReachedError

from .image_formats import ACCEPTED_NAMES as IMAGE_NAMES
from .uploads import UploadRejected

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TEXT = "text/plain"

# A Word document is a ZIP; these sizes keep a "zip bomb" from filling memory when unpacked.
MAX_DOCX_UNPACKED_BYTES = 100 * 1024 * 1024
# XML elements in all of a Word document's parts together, counted while streaming before
# python-docx builds its tree (about 150 bytes of memory each there, plus its own objects).
# A 500-page report has about 300,000; 95 MB of empty paragraphs has 16 million.
MAX_DOCX_ELEMENTS = 500_000
XML_READ_BYTES = 64 * 1024
# A PDF's file ends with %%EOF within its last bytes; a truncated download does not.
EOF_WINDOW = 4096
# Bytes looked at to tell text from binary data.
SNIFF_BYTES = 8192

ACCEPTED_NAMES = "PDF, Word (.docx), plain text or Markdown"
# Everything the paperclip takes, for the messages refusing a file: images too.
ATTACHABLE = f"documents ({ACCEPTED_NAMES}) or images ({IMAGE_NAMES})"

# pypdf logs every recoverable oddity of a PDF; the user gets our own words instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass(frozen=True)
class PreparedDocument:
    """What a document is sent as, and what we learnt about it on the way."""

    media_type: str  # what Claude is sent: application/pdf (the file) or text/plain (text)
    original_media_type: str
    text: str  # a text document's text as sent; a PDF's extracted text (for reference)
    pages: int | None = None


# ---------------------------------------------------------------- recognising the file


def sniff_document(raw: bytes) -> str | None:
    """The media type of a document we can read, judged by its content alone."""
    if raw.startswith(b"%PDF-"):
        return PDF
    if raw.startswith(b"PK\x03\x04"):
        return DOCX  # checked properly when read: it may be some other ZIP
    if _looks_like_text(raw):
        return TEXT
    return None


def _looks_like_text(raw: bytes) -> bool:
    """No NUL bytes and hardly any control characters: text, whatever its encoding."""
    head = raw[:SNIFF_BYTES]
    if not head or b"\x00" in head:
        return False
    controls = sum(1 for byte in head if byte < 0x20 and byte not in b"\t\n\r\f\x1b")
    return controls <= len(head) // 100


# ---------------------------------------------------------------- PDF


def _pdf_pages(raw: bytes) -> PdfReader:
    if b"%%EOF" not in raw[-EOF_WINDOW:]:
        raise UploadRejected(
            "This PDF is incomplete: its end is missing, so it may not have finished "
            "downloading. Please download it again and attach the complete file.",
            400,
        )
    # pypdf raises many exception types on malformed input (its own, KeyError, ValueError,
    # RecursionError…); to a user each one means the same thing.
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise UploadRejected(
                "This PDF is password-protected. Please remove the password (print or save "
                "it as an unprotected PDF) and attach it again.",
                400,
            )
        len(reader.pages)  # counting walks the whole page tree: a loop or a bomb fails here
    except UploadRejected:
        raise
    except LimitReachedError as exc:
        raise _too_complex() from exc
    except Exception as exc:
        raise _damaged_pdf() from exc
    return reader


def _too_complex() -> UploadRejected:
    return UploadRejected(
        "This PDF's structure is too large or too deeply nested to be read safely. "
        "Please print it to a new PDF and attach that.",
        400,
    )


def _damaged_pdf() -> UploadRejected:
    return UploadRejected(
        "This PDF is damaged and cannot be read. Please check that it opens in a PDF viewer, "
        "then attach it again.",
        400,
    )


def _page_texts(reader: PdfReader) -> list[str]:
    try:
        return [page.extract_text() or "" for page in reader.pages]
    except LimitReachedError as exc:
        raise _too_complex() from exc
    except Exception as exc:
        raise _damaged_pdf() from exc


def prepare_pdf(raw: bytes, *, max_pages: int, model_name: str) -> PreparedDocument:
    reader = _pdf_pages(raw)
    count = len(reader.pages)
    if count == 0:
        raise UploadRejected("This PDF has no pages.", 400)
    if count > max_pages:
        raise UploadRejected(
            f"This PDF has {count:,} pages; {model_name} reads at most {max_pages:,} PDF pages "
            "at a time. Please split it and attach the part you need.",
            400,
        )
    texts = _page_texts(reader)
    return PreparedDocument(PDF, PDF, "\n\n".join(texts).strip(), pages=count)


# ---------------------------------------------------------------- Word


def _check_docx_archive(raw: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UploadRejected(
            "This Word document is damaged and cannot be read. Please save it again and "
            "attach the new copy.",
            400,
        ) from exc
    names = {entry.filename for entry in entries}
    if "word/document.xml" not in names or "[Content_Types].xml" not in names:
        raise UploadRejected(
            "This file is a ZIP archive, not a Word document. Please unpack it and attach "
            f"the files inside: {ATTACHABLE}.",
            415,
        )
    if sum(entry.file_size for entry in entries) > MAX_DOCX_UNPACKED_BYTES:
        raise UploadRejected(
            f"This Word document unpacks to more than {MAX_DOCX_UNPACKED_BYTES // 2**20} MB, "
            "too much to read safely. Please save it as PDF and attach that.",
            413,
        )


class _TooManyElements(Exception):
    pass


class _ElementCounter:
    """An lxml parser target that only counts elements: nothing of the tree is kept."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.count = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.count += 1
        if self.count > self.allowed:
            raise _TooManyElements

    def close(self) -> int:
        return self.count


def _count_elements(archive: zipfile.ZipFile, name: str, allowed: int) -> int:
    from lxml import etree

    counter = _ElementCounter(allowed)
    parser = etree.XMLParser(target=counter, resolve_entities=False, no_network=True)
    with archive.open(name) as member:
        while chunk := member.read(XML_READ_BYTES):
            parser.feed(chunk)
    return parser.close()


def _check_docx_elements(raw: bytes) -> None:
    """Refuse a document whose XML has more elements than python-docx may load."""
    left = MAX_DOCX_ELEMENTS
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            for name in archive.namelist():
                if name.endswith((".xml", ".rels")):
                    left -= _count_elements(archive, name, left)
    except _TooManyElements:
        raise UploadRejected(
            f"This Word document has more than {MAX_DOCX_ELEMENTS:,} pieces of markup, too "
            "many to read safely. Please save it as PDF and attach that, or split it.",
            413,
        ) from None
    except Exception:
        return  # malformed XML: python-docx says "damaged" in its own turn


def _docx_text(raw: bytes) -> str:
    import docx  # python-docx loads lxml and its XML schema: only when a document comes

    try:
        document = docx.Document(io.BytesIO(raw))
        parts = []
        for item in document.iter_inner_content():
            if hasattr(item, "rows"):  # a table: one line per row, cells split by " | "
                parts.extend(
                    " | ".join(cell.text.strip() for cell in row.cells) for row in item.rows
                )
            else:
                parts.append(item.text)
    except Exception as exc:  # lxml, KeyError for a missing part, ValueError…
        raise UploadRejected(
            "This Word document is damaged and cannot be read. Please save it again and "
            "attach the new copy.",
            400,
        ) from exc
    return "\n".join(parts).strip()


def prepare_docx(raw: bytes) -> PreparedDocument:
    _check_docx_archive(raw)
    _check_docx_elements(raw)
    text = _docx_text(raw)
    if not text:
        raise UploadRejected(
            "This Word document has no text to read (pictures alone cannot be sent this "
            "way). Please save it as PDF and attach that.",
            400,
        )
    return PreparedDocument(TEXT, DOCX, text)


# ---------------------------------------------------------------- text


def decode_text(raw: bytes) -> str:
    """UTF-8 text (a leading byte-order mark dropped), or a rejection that says where it fails."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadRejected(
            f"This text file is not UTF-8 (the first problem is at byte {exc.start:,}). "
            "Please save it with UTF-8 encoding and attach it again.",
            400,
        ) from exc
    if not text.strip():
        raise UploadRejected("This text file has no text in it.", 400)
    return text


def prepare_text(raw: bytes, media_type: str = TEXT) -> PreparedDocument:
    return PreparedDocument(TEXT, media_type, decode_text(raw))


# ---------------------------------------------------------------- the entry point


def prepare_document(
    raw: bytes, *, max_pages: int, model_name: str, text_media_type: str = TEXT
) -> PreparedDocument:
    """The document in ``raw`` as Claude will be sent it, or ``UploadRejected``.

    ``text_media_type`` names what a text file was uploaded as (text/markdown for a ``.md``);
    it is sent as plain text either way.
    """
    if not raw:
        raise UploadRejected("The file is empty.", 400)
    kind = sniff_document(raw)
    if kind == PDF:
        return prepare_pdf(raw, max_pages=max_pages, model_name=model_name)
    if kind == DOCX:
        return prepare_docx(raw)
    if kind == TEXT:
        return prepare_text(raw, text_media_type)
    if raw.startswith(b"\xd0\xcf\x11\xe0"):  # the OLE container of .doc, .xls, .ppt
        raise UploadRejected(
            "This is an old-style Office file (.doc). Please save it as .docx or PDF and "
            "attach that.",
            415,
        )
    raise UploadRejected(f"This kind of file cannot be read. Accepted: {ATTACHABLE}.", 415)
