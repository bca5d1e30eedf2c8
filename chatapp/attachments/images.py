"""Images for Claude's vision: recognised by content, decoded safely, turned upright, stripped
of every piece of metadata and sized to the model's image tier.

Pure, synchronous work on bytes (no ORM, no I/O): callers run it off the event loop. Every
failure a user can cause is an ``UploadRejected`` with plain words; see docs/images.md.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pillow_heif
from PIL import ExifTags, Image, ImageCms

from .uploads import UploadRejected

# HEIC (phones) through libheif; AVIF is built into Pillow itself.
pillow_heif.register_heif_opener()

# Pillow warns between its two bomb thresholds; MAX_DECODED_PIXELS below is stricter than the
# warning for everything we decode in full, so the warning would only be noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


@dataclass(frozen=True)
class TierLimits:
    """What a model keeps of an image: anything larger is downscaled by the API."""

    name: str
    long_edge: int
    max_pixels: int
    max_tokens: int


IMAGE_TIERS: dict[str, TierLimits] = {
    tier.name: tier
    for tier in (
        TierLimits("standard", long_edge=1568, max_pixels=1_150_000, max_tokens=1568),
        TierLimits("high", long_edge=2576, max_pixels=3_750_000, max_tokens=4784),
    )
}

PATCH_PX = 28  # one token per started 28 × 28 px patch

# Limits of the Messages API for one image.
MAX_IMAGE_SIDE = 8000
MANY_IMAGES = 20  # above this many images in one request…
MANY_IMAGES_MAX_SIDE = 2000  # …every side must stay within this
# Per image, in base64: 10 MB on the Claude API, 5 MB on Amazon Bedrock and Google Cloud.
# The default of the setting ANTHROPIC_MAX_IMAGE_BASE64_BYTES, which callers pass in.
MAX_BASE64_BYTES = 10_000_000

# Our own limits, so that one upload cannot exhaust a worker's memory.
MAX_SOURCE_BYTES = 50 * 1024 * 1024
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

JPEG_QUALITY = 90
# A lossless image over the base64 limit is sent as JPEG at these qualities, still with every
# pixel the tier keeps; only if none fits is it made smaller, at the last quality.
FALLBACK_JPEG_QUALITIES = (90, 80)
SHRINK_STEP = 0.8  # when the encoded image is over the byte limit


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
# EXIF orientation → the turn that shows the picture upright (as ImageOps.exif_transpose,
# which cannot be used: it rewrites the EXIF we discard anyway, and fails on broken EXIF).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
QUARTER_TURNS = frozenset(UPRIGHT[orientation] for orientation in (5, 6, 7, 8))
WHITE = {"L": 255, "RGB": (255, 255, 255)}
RESIZABLE_MODES = frozenset({"L", "LA", "RGB", "RGBA", "CMYK"})
SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})
MODE_CONVERSIONS = {"1": "L", "F": "L", "La": "LA", "P": "RGB", "PA": "RGBA", "RGBa": "RGBA"}
# A `transparency` entry (PNG tRNS, GIF) becomes a real alpha channel.
WITH_ALPHA = {"1": "LA", "L": "LA", "P": "RGBA", "RGB": "RGBA"}
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


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


# ---------------------------------------------------------------- sizes and token estimates


def patch_tokens(width: int, height: int) -> int:
    """⌈w/28⌉ × ⌈h/28⌉: the API's estimate for an image it does not downscale."""
    return math.ceil(width / PATCH_PX) * math.ceil(height / PATCH_PX)


def fit_size(
    width: int, height: int, image_tier: str, max_side: int | None = None
) -> tuple[int, int]:
    """The largest size, same aspect, that the tier keeps whole (and within ``max_side``)."""
    tier = IMAGE_TIERS[image_tier]
    long_edge = min(tier.long_edge, max_side or tier.long_edge)
    scale = min(1.0, long_edge / max(width, height), math.sqrt(tier.max_pixels / (width * height)))
    while True:
        size = max(1, int(width * scale)), max(1, int(height * scale))
        # Rounding up to whole patches can overshoot the token cap by a few tokens.
        if patch_tokens(*size) <= tier.max_tokens:
            return size
        scale *= 0.99


def image_tokens(width: int, height: int, image_tier: str) -> int:
    """Input tokens a model of this tier counts for an image of this size."""
    return patch_tokens(*fit_size(width, height, image_tier))


def tokens_by_tier(width: int, height: int) -> dict[str, int]:
    """The estimate for every tier, so a page can follow a change of model without asking."""
    return {name: image_tokens(width, height, name) for name in IMAGE_TIERS}


def base64_size(byte_count: int) -> int:
    return 4 * math.ceil(byte_count / 3)


def request_max_side(image_count: int) -> int:
    """The longest side the API accepts for each image of a request with this many images."""
    return MANY_IMAGES_MAX_SIDE if image_count > MANY_IMAGES else MAX_IMAGE_SIDE


# ---------------------------------------------------------------- recognising the file


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


def _webp_is_lossless(raw: bytes) -> bool:
    """Whether the first image chunk of a WebP file is VP8L (lossless) rather than VP8."""
    offset = 12
    while offset + 8 <= len(raw):
        fourcc = raw[offset : offset + 4]
        if fourcc in (b"VP8L", b"VP8 "):
            return fourcc == b"VP8L"
        size = int.from_bytes(raw[offset + 4 : offset + 8], "little")
        offset += 8 + size + (size & 1)
    return False


def _source_format(raw: bytes) -> SourceFormat:
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


# ---------------------------------------------------------------- pixels


def _resizable(image: Image.Image) -> Image.Image:
    """The image in a mode Pillow resizes faithfully: L, LA, RGB, RGBA or CMYK."""
    if image.mode in SIXTEEN_BIT_MODES:
        # Pillow's own 16-bit → L conversion clips everything above 255 to white.
        return image.convert("I").point(lambda value: value / 256).convert("L")
    if "transparency" in image.info and image.mode in WITH_ALPHA:
        return image.convert(WITH_ALPHA[image.mode])
    if image.mode in RESIZABLE_MODES:
        return image
    return image.convert(MODE_CONVERSIONS.get(image.mode, "RGB"))  # YCbCr, LAB, HSV: RGB


def _flatten(image: Image.Image) -> Image.Image:
    """Transparent areas become white, as they look on a page (cheaper than sending alpha)."""
    if image.mode not in ("LA", "RGBA"):
        return image
    base = image.mode[:-1]
    alpha = image.getchannel("A")
    if alpha.getextrema() == (255, 255):
        return image.convert(base)
    flat = Image.new(base, image.size, WHITE[base])
    flat.paste(image.convert(base), mask=alpha)
    return flat


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """RGB in sRGB (or plain L): the colours a viewer without colour management would show."""
    if image.mode not in ("RGB", "CMYK") or (image.mode == "RGB" and not icc_profile):
        return image
    if icc_profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            return ImageCms.profileToProfile(image, source, SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a broken profile: fall back to the plain conversion
    return image.convert("RGB")


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:  # unreadable EXIF: the pixels are still good, shown as stored
        return 1


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image from the pixels alone: no EXIF, GPS, XMP, ICC, comments or text chunks."""
    return Image.frombytes(image.mode, image.size, image.tobytes())


def _jpeg(image: Image.Image, quality: int = JPEG_QUALITY) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue(), "image/jpeg"


def _png(image: Image.Image, optimize: bool = False) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=optimize)
    return buffer.getvalue(), "image/png"


def _encodings(image: Image.Image, photographic: bool) -> Iterator[tuple[bytes, str]]:
    """Ways to encode ``image`` at its full size, best first; made only when asked for."""
    if photographic:
        yield _jpeg(image)
    else:
        yield _png(image)
        yield _png(image, optimize=True)  # slower, a few per cent smaller
    # Transparency is already flattened, so JPEG loses nothing but fine detail.
    for quality in FALLBACK_JPEG_QUALITIES:
        if photographic and quality == JPEG_QUALITY:
            continue  # tried above
        yield _jpeg(image, quality)


def _encode_within_limit(
    image: Image.Image, photographic: bool, max_base64_bytes: int
) -> tuple[Image.Image, bytes, str]:
    """Encoded within the base64 limit: the usual format, a smaller PNG, JPEG, then smaller.

    Done once, when the file is prepared: the stored bytes are what every request sends."""
    for data, media_type in _encodings(image, photographic):
        if base64_size(len(data)) <= max_base64_bytes:
            return image, data, media_type
    quality = FALLBACK_JPEG_QUALITIES[-1]
    while True:
        size = max(1, int(image.width * SHRINK_STEP)), max(1, int(image.height * SHRINK_STEP))
        image = image.resize(size, Image.Resampling.LANCZOS)
        data, media_type = _jpeg(image, quality)
        if base64_size(len(data)) <= max_base64_bytes:
            return image, data, media_type


def _photographic(raw: bytes, source: SourceFormat) -> bool:
    if source.media_type == "image/webp":
        return not _webp_is_lossless(raw)
    return source.photographic


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
    source = _source_format(raw)
    with _open(raw, source) as image:
        stored_size = image.size
        target = fit_size(*stored_size, image_tier, max_side)
        _decode(image, target)
        icc_profile = image.info.get("icc_profile")
        turn = UPRIGHT.get(_orientation(image))
        # Flattening first gives the same pixels as resizing with alpha (both are linear) and
        # resizes one channel fewer, without Pillow's premultiplied copy of the whole image.
        prepared = _flatten(_resizable(image))
        if prepared.size != target:
            prepared = prepared.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        # The last step copies the pixels into a new image, before `image` is closed.
        prepared = _pixels_only(_to_srgb(prepared, icc_profile))
    if turn is not None:  # turned after downscaling: fewer pixels to move
        prepared = prepared.transpose(turn)
    original_size = stored_size[::-1] if turn in QUARTER_TURNS else stored_size
    prepared, data, media_type = _encode_within_limit(
        prepared, _photographic(raw, source), max_base64_bytes
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
