"""A PNG label as a one-page PDF, without decoding the image.

UPS prints labels as GIF, PNG, ZPL, EPL or SPL, never PDF. PDF's ``FlateDecode`` filter with PNG
predictors (``/Predictor 15``) reads a PNG's ``IDAT`` data as it is, so the PDF embeds UPS's
bytes unchanged: no imaging library, no recompression, no quality loss. Grey, RGB and palette
PNGs are supported; interlaced PNGs and PNGs with an alpha channel are refused (UPS sends
neither), as is anything that is not a well-formed PNG.
"""

from __future__ import annotations

import struct
import zlib

from shipsync.errors import CarrierResponseError

__all__ = ["png_to_pdf"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOURS = {0: (1, "/DeviceGray"), 2: (3, "/DeviceRGB"), 3: (1, "")}
#: Page width in points: 4 inches, the label stock UPS prints on.
PAGE_WIDTH = 288


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(_SIGNATURE):
        raise CarrierResponseError("the label is not a PNG image", code="bad_label")
    chunks = []
    offset = len(_SIGNATURE)
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        crc = data[offset + 8 + length : offset + 12 + length]
        if (
            len(body) != length
            or len(crc) != 4
            or zlib.crc32(kind + body) != int.from_bytes(crc, "big")
        ):
            raise CarrierResponseError("the PNG label is truncated or corrupt", code="bad_label")
        chunks.append((kind, body))
        offset += 12 + length
        if kind == b"IEND":
            return chunks
    raise CarrierResponseError("the PNG label has no end", code="bad_label")


def png_to_pdf(png: bytes) -> bytes:
    """A one-page PDF showing ``png`` 4 inches wide (a ``CarrierResponseError`` if unusable)."""
    chunks = _chunks(png)
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise CarrierResponseError("the PNG label has no header", code="bad_label")
    width, height, depth, colour, _compression, _filter, interlace = struct.unpack(
        ">IIBBBBB", chunks[0][1]
    )
    if colour not in _COLOURS or interlace != 0 or depth not in (1, 2, 4, 8, 16):
        raise CarrierResponseError(
            "the PNG label is interlaced or has an alpha channel", code="bad_label"
        )
    if not 0 < width <= 20_000 or not 0 < height <= 20_000:
        raise CarrierResponseError("the PNG label has impossible dimensions", code="bad_label")
    components, space = _COLOURS[colour]
    if colour == 3:
        palette = b"".join(body for kind, body in chunks if kind == b"PLTE")
        if not palette or len(palette) % 3:
            raise CarrierResponseError("the PNG label has no palette", code="bad_label")
        space = f"[/Indexed /DeviceRGB {len(palette) // 3 - 1} <{palette.hex()}>]"
    image = b"".join(body for kind, body in chunks if kind == b"IDAT")
    page_height = round(PAGE_WIDTH * height / width, 2)
    content = f"q {PAGE_WIDTH} 0 0 {page_height} 0 0 cm /Im0 Do Q".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {page_height}] "
            "/Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>"
        ).encode(),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        (
            f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} "
            f"/ColorSpace {space} /BitsPerComponent {depth} /Filter /FlateDecode "
            f"/DecodeParms << /Predictor 15 /Colors {components} /BitsPerComponent {depth} "
            f"/Columns {width} >> /Length {len(image)} >>\nstream\n"
        ).encode()
        + image
        + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
