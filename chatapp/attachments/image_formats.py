"""An image file recognised by its content alone (never its name): its format, whether it is
photographic, and the refusals in plain words for what is empty, too big, SVG or no image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .uploads import UploadRejected

# Our own limit, so that one upload cannot exhaust a worker's memory.
MAX_SOURCE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class SourceFormat:
    media_type: str
    pillow_format: str
    # Photographic formats are re-encoded as JPEG; lossless ones as PNG, so a screenshot's
    # text is never blurred by JPEG compression.
    photographic: bool


SOURCE_FORMATS: dict[str, SourceFormat] = {
    fmt.media_type: fmt
    for fmt in (
        SourceFormat("image/jpeg", "JPEG", photographic=True),
        SourceFormat("image/png", "PNG", photographic=False),
        SourceFormat("image/gif", "GIF", photographic=False),
        SourceFormat("image/webp", "WEBP", photographic=True),  # lossless WebP: see below
        SourceFormat("image/bmp", "BMP", photographic=False),
        SourceFormat("image/tiff", "TIFF", photographic=False),
        SourceFormat("image/heic", "HEIF", photographic=True),
        SourceFormat("image/avif", "AVIF", photographic=True),
    )
}

# The formats' magic numbers: what their files start with.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
# ISO base media files (HEIF, AVIF) name their brands in the leading `ftyp` box.
AVIF_BRANDS = frozenset({b"avif", b"avis"})
HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})

# An XML document whose root element is <svg>, after any declaration, comments and doctype
# (an HTML page with an inline drawing is not one).
SVG = "image/svg+xml"
SVG_SNIFF_BYTES = 4096
SVG_ROOT = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?"
    rb"(?:<!--.*?-->\s*|<!doctype[^\[>]*(?:\[.*?\])?\s*>\s*)*<svg[\s>/]",
    re.IGNORECASE | re.DOTALL,
)

ACCEPTED_NAMES = "JPEG, PNG, GIF, WebP, BMP, TIFF, HEIC or AVIF"


def sniff_image(raw: bytes) -> str | None:
    """The media type of an image, judged by its content alone (never its name).

    Every type but SVG is one ``prepare_image`` accepts; None for anything that is no image.
    """
    for magic, media_type in SIGNATURES:
        if raw.startswith(magic):
            return media_type
    if raw.startswith(b"RIFF") and raw[8:12] == b"WEBP":
        return "image/webp"
    if SVG_ROOT.match(raw[:SVG_SNIFF_BYTES]):
        return SVG  # recognised so that it is refused as what it is
    return _iso_media_type(raw)


def _iso_media_type(raw: bytes) -> str | None:
    if raw[4:8] != b"ftyp":
        return None
    box_size = int.from_bytes(raw[:4], "big")
    box = raw[8 : min(box_size, 256)]
    # Major brand, minor version, then compatible brands, four bytes each.
    brands = {box[i : i + 4] for i in range(0, len(box) - 3, 4)} - {box[4:8]}
    if brands & AVIF_BRANDS:
        return "image/avif"
    if brands & HEIC_BRANDS:
        return "image/heic"
    return None


def webp_is_lossless(raw: bytes) -> bool:
    """Whether the first image chunk of a WebP file is VP8L (lossless) rather than VP8."""
    offset = 12
    while offset + 8 <= len(raw):
        fourcc = raw[offset : offset + 4]
        if fourcc in (b"VP8L", b"VP8 "):
            return fourcc == b"VP8L"
        size = int.from_bytes(raw[offset + 4 : offset + 8], "little")
        offset += 8 + size + (size & 1)
    return False


def source_format(raw: bytes) -> SourceFormat:
    if not raw:
        raise UploadRejected("The file is empty.", 400)
    if len(raw) > MAX_SOURCE_BYTES:
        raise UploadRejected(
            f"The file is {len(raw) / 2**20:.0f} MB; images up to "
            f"{MAX_SOURCE_BYTES // 2**20} MB are accepted.",
            413,
        )
    media_type = sniff_image(raw)
    if media_type == SVG:
        raise UploadRejected(
            "SVG drawings are not accepted (they can carry scripts). "
            "Please export the drawing as PNG and attach that.",
            415,
        )
    if media_type is None:
        raise UploadRejected(f"This file is not an image. Accepted: {ACCEPTED_NAMES}.", 415)
    return SOURCE_FORMATS[media_type]



def photographic(raw: bytes, source: SourceFormat) -> bool:
    if source.media_type == "image/webp":
        return not webp_is_lossless(raw)
    return source.photographic

