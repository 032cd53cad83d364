"""PDF labels embed UPS's PNG rows unchanged; anything that is not a usable PNG fails typed."""

from __future__ import annotations

import contextlib
import re
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ups_cases import png

from shipsync.carriers.ups import png_to_pdf
from shipsync.errors import CarrierResponseError


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(colour: int, *, palette: bytes = b"", interlace: int = 0, depth: int = 8) -> bytes:
    header = struct.pack(">IIBBBBB", 2, 2, depth, colour, 0, 0, interlace)
    rows = zlib.compress(b"\x00\x00\x00" * 2)
    parts = [_chunk(b"IHDR", header)]
    if palette:
        parts.append(_chunk(b"PLTE", palette))
    parts += [_chunk(b"IDAT", rows), _chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(parts)


def test_the_pdf_holds_the_png_data_byte_for_byte() -> None:
    """The image stream is the PNG's IDAT data, with PNG predictors declared, 4 inches wide."""
    image = png(8, 12)
    pdf = png_to_pdf(image)
    assert pdf.startswith(b"%PDF-1.4")
    assert pdf.rstrip().endswith(b"%%EOF")
    idat = image[image.index(b"IDAT") + 4 : image.index(b"IEND") - 8]
    assert idat in pdf
    assert b"/Predictor 15" in pdf
    assert b"/MediaBox [0 0 288 432.0]" in pdf
    offset = int(re.search(rb"startxref\n(\d+)", pdf).group(1))  # type: ignore[union-attr]
    assert pdf[offset:].startswith(b"xref")


def test_palette_pngs_use_an_indexed_colour_space() -> None:
    """A palette PNG carries its palette into the PDF."""
    pdf = png_to_pdf(_png(3, palette=b"\x00\x00\x00\xff\xff\xff"))
    assert b"/Indexed /DeviceRGB 1 <000000ffffff>" in pdf


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"GIF89a....", id="not-png"),
        pytest.param(png()[:40], id="truncated"),
        pytest.param(_png(2, interlace=1), id="interlaced"),
        pytest.param(_png(6), id="alpha"),
        pytest.param(_png(3), id="palette-missing"),
        pytest.param(png().replace(b"IDAT", b"IDAX"), id="bad-crc"),
    ],
)
def test_unusable_labels_are_typed_errors(data: bytes) -> None:
    """Not a PNG, cut short, interlaced, with alpha, without palette or corrupt: typed error."""
    with pytest.raises(CarrierResponseError):
        png_to_pdf(data)


@given(st.binary(max_size=200))
def test_any_bytes_give_a_pdf_or_a_typed_error(data: bytes) -> None:
    """Whatever UPS sends as a label, the wrapper never crashes."""
    with contextlib.suppress(CarrierResponseError):
        png_to_pdf(b"\x89PNG\r\n\x1a\n" + data)
