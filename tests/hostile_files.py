"""Small files that are expensive to prepare, made on the spot (small in memory too)."""

import io
import struct
import zipfile
import zlib

ROW_BATCH = 500


def semi_transparent_png(width: int = 7000, height: int = 7000) -> bytes:
    """Every pixel a half-transparent red: under 1 MB on disk, 196 MB of RGBA decoded."""
    row = b"\x00" + bytes((200, 30, 30, 128)) * width  # filter byte "none", then the pixels
    compressor = zlib.compressobj(1)
    data = b"".join(compressor.compress(row * ROW_BATCH) for _ in range(height // ROW_BATCH))
    data += compressor.compress(row * (height % ROW_BATCH)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    b'relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def markup_heavy_docx(xml_megabytes: float = 95) -> bytes:
    """A Word document of a few hundred KB whose text is one word, in ``xml_megabytes`` MB of
    XML: millions of empty paragraphs (under the 100 MB unpacked limit)."""
    empty = b"<w:p/>" * 10_000
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        with archive.open("word/document.xml", "w") as document:
            document.write(f'<?xml version="1.0"?><w:document xmlns:w="{W}"><w:body>'.encode())
            document.write(b"<w:p><w:r><w:t>Hello</w:t></w:r></w:p>")
            for _ in range(int(xml_megabytes * 2**20) // len(empty)):
                document.write(empty)
            document.write(b"</w:body></w:document>")
    return out.getvalue()
