"""An image's pixels made ready to send: a mode Pillow resizes faithfully, transparency
flattened on white, colours in sRGB, the EXIF orientation, nothing but the pixels (no
metadata), and the encoding that fits the per-image base64 limit.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from PIL import ExifTags, Image, ImageCms

from .image_sizes import base64_size

JPEG_QUALITY = 90
# A lossless image over the base64 limit is sent as JPEG at these qualities, still with every
# pixel the tier keeps; only if none fits is it made smaller, at the last quality.
FALLBACK_JPEG_QUALITIES = (90, 80)
SHRINK_STEP = 0.8  # when the encoded image is over the byte limit
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


def resizable(image: Image.Image) -> Image.Image:
    """The image in a mode Pillow resizes faithfully: L, LA, RGB, RGBA or CMYK."""
    if image.mode in SIXTEEN_BIT_MODES:
        # Pillow's own 16-bit → L conversion clips everything above 255 to white.
        return image.convert("I").point(lambda value: value / 256).convert("L")
    if "transparency" in image.info and image.mode in WITH_ALPHA:
        return image.convert(WITH_ALPHA[image.mode])
    if image.mode in RESIZABLE_MODES:
        return image
    return image.convert(MODE_CONVERSIONS.get(image.mode, "RGB"))  # YCbCr, LAB, HSV: RGB


def flatten(image: Image.Image) -> Image.Image:
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


def to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
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


def orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:  # unreadable EXIF: the pixels are still good, shown as stored
        return 1


def pixels_only(image: Image.Image) -> Image.Image:
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


def encode_within_limit(
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

