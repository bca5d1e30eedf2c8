"""Images for Claude's vision, the pipeline: an upload recognised by content
(``image_formats``), decoded safely within a memory budget judged from the header (here),
turned upright and stripped of every piece of metadata (``image_pixels``), sized to the
model's image tier and fitted to the per-image base64 limit (``image_sizes``).

Pure, synchronous work on bytes (no ORM, no I/O): callers run it off the event loop. Every
failure a user can cause is an ``UploadRejected`` with plain words; see docs/images.md.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import Image

from .image_formats import SourceFormat, photographic, source_format
from .image_pixels import (
    QUARTER_TURNS,
    UPRIGHT,
    encode_within_limit,
    flatten,
    orientation,
    pixels_only,
    resizable,
    to_srgb,
)
from .image_sizes import MAX_BASE64_BYTES, fit_size, image_tokens
from .uploads import UploadRejected

# HEIC (phones) through libheif; AVIF is built into Pillow itself.
pillow_heif.register_heif_opener()

# Pillow warns between its two bomb thresholds; MAX_DECODED_PIXELS below is stricter than the
# warning for everything we decode in full, so the warning would only be noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


# Our own limits, so that one upload cannot exhaust a worker's memory (and MAX_SOURCE_BYTES in
# image_formats.py).
# The decompression-bomb limit: pixels a file may declare. Only JPEG gets near it, because its
# draft mode decodes at 1/2, 1/4 or 1/8 scale; every other format decodes in full.
MAX_SOURCE_PIXELS = 150_000_000
# Pixels actually decoded into memory (≤ 200 MB for RGBA).
MAX_DECODED_PIXELS = 50_000_000
# Memory one image's preparation may take: pixels × bytes per pixel × PEAK_COPIES, judged from
# the header before any pixel is decoded. A 7000 × 7000 PNG with transparency would take about
# 590 MB (decoded, made opaque on white, and the intermediate copies of that).
MAX_PREPARATION_BYTES = 384 * 1024 * 1024
PEAK_COPIES = 3
# Bytes per pixel of the copies made while preparing, by decoded mode: grey stays one byte;
# everything else (palette, 16-bit, colour, with alpha) is worked on in Pillow's 4-byte modes.
BYTES_PER_PIXEL = {"1": 1, "L": 1}
WIDE_PIXEL_BYTES = 4

@dataclass(frozen=True)
class PreparedImage:
    """The version of an image that is sent to Claude, and what the original was."""

    data: bytes
    media_type: str
    width: int
    height: int
    tokens: int
    original_media_type: str
    original_width: int
    original_height: int
    original_bytes: int

    @property
    def byte_size(self) -> int:
        return len(self.data)


# ---------------------------------------------------------------- decoding safely


def _too_many_pixels(width: int | None = None, height: int | None = None) -> UploadRejected:
    size = f" ({width} × {height} pixels)" if width and height else ""
    return UploadRejected(
        f"This image is too large to prepare{size}. Please scale it down to at most "
        f"{MAX_DECODED_PIXELS // 1_000_000} megapixels and try again.",
        413,
    )


def _pixel_bytes(image: Image.Image) -> int:
    if "transparency" in image.info:  # grey with a transparent colour becomes LA
        return WIDE_PIXEL_BYTES
    return BYTES_PER_PIXEL.get(image.mode, WIDE_PIXEL_BYTES)


def preparation_bytes(image: Image.Image) -> int:
    """The memory preparing this (opened, not yet decoded) image takes at most."""
    return image.width * image.height * _pixel_bytes(image) * PEAK_COPIES


def _too_much_memory(image: Image.Image, needed: int) -> UploadRejected:
    fitting = MAX_PREPARATION_BYTES // (PEAK_COPIES * _pixel_bytes(image))
    return UploadRejected(
        f"This image ({image.width:,} × {image.height:,} pixels) would need about "
        f"{needed / 10**6:,.0f} MB of memory to prepare, more than the "
        f"{MAX_PREPARATION_BYTES // 2**20} MB one image may take. Please scale it down to "
        f"at most {fitting / 10**6:.0f} megapixels (or save it as JPEG) and try again.",
        413,
    )


def _damaged() -> UploadRejected:
    return UploadRejected(
        "This image is damaged or incomplete and cannot be read. Please attach it again.", 400
    )


def _open(raw: bytes, source: SourceFormat) -> Image.Image:
    """The image, verified and opened with only its own format's decoder (headers only)."""
    formats = [source.pillow_format]
    # Pillow's decoders raise a wide variety of exception types on malformed data (OSError,
    # SyntaxError, ValueError, EOFError, struct.error…); each means the same to a user.
    try:
        with Image.open(io.BytesIO(raw), formats=formats) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(raw), formats=formats)
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels() from exc
    except Exception as exc:
        raise _damaged() from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise _damaged()
    if width * height > MAX_SOURCE_PIXELS:
        raise _too_many_pixels(width, height)
    return image


def _decode(image: Image.Image, target: tuple[int, int]) -> None:
    """Load the pixels, at a reduced JPEG scale where that still covers ``target``."""
    image.draft(image.mode, target)  # JPEG: decoded at 1/2, 1/4 or 1/8 scale if that covers it
    if image.width * image.height > MAX_DECODED_PIXELS:
        raise _too_many_pixels(image.width, image.height)
    # Judged from the header (Image.open reads no pixels): refused before any is decoded.
    needed = preparation_bytes(image)
    if needed > MAX_PREPARATION_BYTES:
        raise _too_much_memory(image, needed)
    try:
        image.load()  # a truncated file raises here: we never use half an image
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(image.width, image.height) from exc
    except Exception as exc:
        raise _damaged() from exc


# ---------------------------------------------------------------- the pipeline


def prepare_image(
    raw: bytes,
    image_tier: str,
    *,
    max_side: int | None = None,
    max_base64_bytes: int = MAX_BASE64_BYTES,
) -> PreparedImage:
    """The version of an uploaded image to send to a model of ``image_tier``.

    Raises ``UploadRejected`` for anything that is not a readable image. ``max_side`` lowers
    the long edge further (the API's rule for requests with many images);
    ``max_base64_bytes`` is the platform's limit for one image.
    """
    source = source_format(raw)
    with _open(raw, source) as image:
        stored_size = image.size
        target = fit_size(*stored_size, image_tier, max_side)
        _decode(image, target)
        icc_profile = image.info.get("icc_profile")
        turn = UPRIGHT.get(orientation(image))
        # Flattening first gives the same pixels as resizing with alpha (both are linear) and
        # resizes one channel fewer, without Pillow's premultiplied copy of the whole image.
        prepared = flatten(resizable(image))
        if prepared.size != target:
            prepared = prepared.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        # The last step copies the pixels into a new image, before `image` is closed.
        prepared = pixels_only(to_srgb(prepared, icc_profile))
    if turn is not None:  # turned after downscaling: fewer pixels to move
        prepared = prepared.transpose(turn)
    original_size = stored_size[::-1] if turn in QUARTER_TURNS else stored_size
    prepared, data, media_type = encode_within_limit(
        prepared, photographic(raw, source), max_base64_bytes
    )
    return PreparedImage(
        data=data,
        media_type=media_type,
        width=prepared.width,
        height=prepared.height,
        tokens=image_tokens(prepared.width, prepared.height, image_tier),
        original_media_type=source.media_type,
        original_width=original_size[0],
        original_height=original_size[1],
        original_bytes=len(raw),
    )
