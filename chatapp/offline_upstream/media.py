"""Reading the base64 images and PDFs a request carries (sizes and page texts only).

Results are memoised by a digest of the base64 text: a conversation resends the same attachments
on every turn, and decoding a PDF each time would make the offline upstream slow for no reason.
(Keying by digest rather than by the text keeps the memo from holding megabytes of base64.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PyPdfError

# Pillow's format name → the media type the API expects for it.
IMAGE_MEDIA_TYPES: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}

# pypdf logs every recoverable oddity of a PDF; those are not the upstream's problem.
logging.getLogger("pypdf").setLevel(logging.ERROR)


MEMO_SIZE = 256
T = TypeVar("T")


class MediaError(ValueError):
    """The data is not a readable image or PDF."""


def _memo_by_digest(read: Callable[[str], T]) -> Callable[[str], T]:
    memo: OrderedDict[bytes, T] = OrderedDict()

    def cached(data: str) -> T:
        key = hashlib.sha256(data.encode()).digest()
        if key not in memo:
            memo[key] = read(data)  # a MediaError propagates and is not memoised
            if len(memo) > MEMO_SIZE:
                memo.popitem(last=False)
        memo.move_to_end(key)
        return memo[key]

    return cached


def _decode(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaError("invalid base64 data") from exc


@_memo_by_digest
def image_info(data: str) -> tuple[str, int, int]:
    """(media type, width, height) of a base64 image; reads the header only."""
    try:
        with Image.open(io.BytesIO(_decode(data))) as image:
            media_type = IMAGE_MEDIA_TYPES.get(image.format or "")
            width, height = image.size
    except (UnidentifiedImageError, OSError) as exc:
        raise MediaError("Could not process image") from exc
    if media_type is None:
        raise MediaError("Could not process image")
    return media_type, width, height


@_memo_by_digest
def pdf_page_texts(data: str) -> tuple[str, ...]:
    """The extracted text of every page of a base64 PDF."""
    try:
        reader = PdfReader(io.BytesIO(_decode(data)))
        return tuple(page.extract_text() or "" for page in reader.pages)
    except (PyPdfError, OSError, ValueError, KeyError, TypeError) as exc:
        raise MediaError("The PDF specified was not valid.") from exc
