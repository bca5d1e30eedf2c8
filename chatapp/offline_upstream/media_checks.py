"""Images and PDFs checked as the API checks them: every base64 image's size in base64, its
declared against its actual type and its sides (stricter with many images); every PDF
readable; pages and images within the model's limits.
"""

from __future__ import annotations

from typing import Any

from . import media
from .errors import invalid
from .models import ModelSpec
from .prompt import as_blocks, walk_blocks

MAX_IMAGE_SIDE = 8000
# Above MANY_IMAGES images in one request every side must stay within MANY_IMAGES_SIDE.
MANY_IMAGES, MANY_IMAGES_SIDE = 20, 2000
# Base64 text of one image, at most (the Claude API's limit; Bedrock and Google Cloud: 5 MB).
MAX_IMAGE_BASE64_BYTES = 10 * 1024 * 1024


def _media_blocks(messages: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(path, block) of every base64 image and document, nested ones included."""
    found = []
    for m_index, message in enumerate(messages):
        for b_index, block in enumerate(as_blocks(message.get("content"))):
            for inner in walk_blocks([block]):
                source = inner.get("source") or {}
                if inner.get("type") in ("image", "document") and source.get("type") == "base64":
                    found.append((f"messages.{m_index}.content.{b_index}", inner))
    return found


def _check_image(path: str, block: dict[str, Any], many: bool) -> None:
    source = block["source"]
    size = len(str(source.get("data", "")))
    if size > MAX_IMAGE_BASE64_BYTES:  # checked before decoding anything
        raise invalid(
            f"{path}.image.source.base64: image exceeds 10 MB maximum: {size} bytes > "
            f"{MAX_IMAGE_BASE64_BYTES} bytes"
        )
    declared = source.get("media_type")
    if declared not in media.IMAGE_MEDIA_TYPES.values():
        raise invalid(
            f"{path}.image.source.base64.media_type: Input should be 'image/jpeg', "
            "'image/png', 'image/gif' or 'image/webp'"
        )
    try:
        actual, width, height = media.image_info(str(source.get("data", "")))
    except media.MediaError as exc:
        raise invalid(f"{path}.image.source.base64: {exc}") from exc
    if actual != declared:
        raise invalid(
            f"{path}.image.source.base64: The image was specified using the {declared} media "
            f"type, but the image appears to be a {actual} image"
        )
    if max(width, height) > MAX_IMAGE_SIDE:
        raise invalid(
            f"{path}.image.source.base64: image dimensions exceed max allowed size: "
            f"{MAX_IMAGE_SIDE} pixels"
        )
    if many and max(width, height) > MANY_IMAGES_SIDE:
        raise invalid(
            f"{path}.image.source.base64: At least one of the image dimensions exceed max "
            f"allowed size for many-image requests: {MANY_IMAGES_SIDE} pixels"
        )


def _check_pdf(path: str, block: dict[str, Any]) -> int:
    source = block["source"]
    if source.get("media_type") != "application/pdf":
        raise invalid(
            f"{path}.document.source.base64.media_type: Input should be 'application/pdf'"
        )
    try:
        return len(media.pdf_page_texts(str(source.get("data", ""))))
    except media.MediaError as exc:
        raise invalid(f"{path}.document.source.base64.data: {exc}") from exc


def _image_count(messages: list[dict[str, Any]]) -> int:
    """Every image block, whatever its source (url and file images count as media too)."""
    return sum(
        1
        for message in messages
        for inner in walk_blocks(as_blocks(message.get("content")))
        if inner.get("type") == "image"
    )


def check_media(messages: list[dict[str, Any]], model: ModelSpec) -> None:
    found = _media_blocks(messages)
    many = sum(1 for _path, block in found if block["type"] == "image") > MANY_IMAGES
    pages = 0
    for path, block in found:
        if block["type"] == "image":
            _check_image(path, block, many)
        else:
            pages += _check_pdf(path, block)
    images = _image_count(messages)
    if pages > model.max_pdf_pages and not images:
        raise invalid(f"A maximum of {model.max_pdf_pages} PDF pages may be provided.")
    if pages + images > model.max_media:
        raise invalid(
            f"Too much media: {pages} document pages + {images} images > {model.max_media}"
        )

