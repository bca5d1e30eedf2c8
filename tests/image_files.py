"""Image files made on the spot for the image tests: real encoders, plus a few hand-built PNGs
for what Pillow will not write (16-bit colour, absurd sizes, cut-off data)."""

import functools
import io
import struct
import zlib

from PIL import Image

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
ORIENTATION, MAKE, MODEL, GPS_IFD = 0x0112, 0x010F, 0x0110, 0x8825


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def halves(size: tuple[int, int], top=RED, bottom=BLUE, mode: str = "RGB") -> Image.Image:
    """An image whose top half is one colour and bottom half another: shows which way is up."""
    image = Image.new(mode, size, bottom)
    image.paste(top, (0, 0, size[0], size[1] // 2))
    return image


def detailed(size: tuple[int, int]) -> Image.Image:
    """A busy picture (a fractal) that compresses like a photograph, not like a flat colour."""
    width, height = size
    small = (max(1, width // 4), max(1, height // 4))
    fractal = Image.effect_mandelbrot(small, (-2.0, -1.2, 1.0, 1.2), 60)
    return fractal.resize(size, Image.Resampling.BICUBIC).convert("RGB")


def camera_photo(orientation: int = 1, gps: bool = True) -> bytes:
    """A JPEG as a phone writes it: camera make and model, GPS position, orientation tag.

    The upright picture is 40 × 60 px, red above blue; stored turned as the tag says.
    """
    upright = halves((40, 60))
    # Orientation 6 means "turn 90° clockwise to display": store it turned the other way.
    stored = upright.transpose(Image.Transpose.ROTATE_90) if orientation == 6 else upright
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "AcmeCam"
    exif[MODEL] = "Spyglass 3000"
    if gps:
        exif.get_ifd(GPS_IFD).update(
            {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}
        )
    return encode(stored, "JPEG", exif=exif, quality=95, comment=b"shot at home")


def camera_photo_with_broken_exif() -> bytes:
    """A turned camera photo whose GPS block says "E" where a version number belongs.

    (Pillow's own ImageOps.exif_transpose fails on it with a TypeError.)
    """
    photo = camera_photo(orientation=6)
    longitude_ref = b"\x00\x03\x00\x02\x00\x00\x00\x02E\x00"  # tag 3, ASCII, "E"
    assert photo.count(longitude_ref) == 1
    return photo.replace(longitude_ref, b"\x00\x00" + longitude_ref[2:])  # tag 0: version


def png_file(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes) -> bytes:
    """A PNG built chunk by chunk; ``rows`` is the filtered image data before compression."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 1))
        + chunk(b"IEND", b"")
    )


def sixteen_bit_rgb_png(width: int = 8, height: int = 8) -> bytes:
    """Every pixel orange in 16 bits per channel (0xFFFF, 0x8000, 0x0000)."""
    row = b"\x00" + struct.pack(">HHH", 0xFFFF, 0x8000, 0x0000) * width
    return png_file(width, height, 16, 2, row * height)


@functools.cache
def bilevel_png(width: int, height: int) -> bytes:
    """A legitimate but enormous black 1-bit PNG: tiny on disk, huge in memory."""
    row = b"\x00" + bytes((width + 7) // 8)
    return png_file(width, height, 1, 0, row * height)


def decompression_bomb() -> bytes:
    """A few hundred bytes that claim 100,000 × 100,000 pixels (10 gigapixels)."""
    return png_file(100_000, 100_000, 8, 2, bytes(4096))


def truncated_png() -> bytes:
    whole = encode(detailed((200, 150)), "PNG")
    return whole[: len(whole) // 2]


HTML = b"<!doctype html><html><body><script>alert('hi')</script></body></html>"
SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<script>alert(1)</script><rect width="10" height="10"/></svg>'
)
