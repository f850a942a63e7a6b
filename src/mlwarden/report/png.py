"""Encode small images as PNG data URIs with the standard library (zlib + struct).

The HTML report shows adversarial examples, reversed triggers and reconstructions inline,
so they travel inside the one HTML file; no imaging library is needed for 8-bit grey or RGB.
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from collections.abc import Sequence

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_GREY, _RGB = 0, 2


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _byte(value: float) -> int:
    """A value in [0, 1] as 0..255; NaN is black, out-of-range values are clipped."""
    if not math.isfinite(value):
        return 0
    return round(min(max(value, 0.0), 1.0) * 255)


def encode_png(pixels: Sequence[Sequence[Sequence[float]]], channels: int) -> bytes:
    """PNG bytes for rows of pixels, each pixel a sequence of ``channels`` values in [0, 1].

    Args:
        pixels: ``height`` rows of ``width`` pixels of 1 (grey) or 3 (RGB) floats.
        channels: 1 or 3.

    Raises:
        ValueError: for another channel count, ragged rows or an empty image.
    """
    if channels not in (1, 3):
        raise ValueError(f"PNG images need 1 or 3 channels, got {channels}")
    height = len(pixels)
    width = len(pixels[0]) if height else 0
    if not width or any(len(row) != width for row in pixels):
        raise ValueError("an image needs equal-length, non-empty rows")
    raw = bytearray()
    for row in pixels:
        raw.append(0)  # filter type "None" for every scanline
        raw.extend(_byte(v) for px in row for v in px[:channels])
    colour = _GREY if channels == 1 else _RGB
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return b"".join(
        (
            _SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(bytes(raw), 9)),
            _chunk(b"IEND", b""),
        )
    )


def png_data_uri(pixels: Sequence[Sequence[Sequence[float]]], channels: int) -> str:
    """The image as a ``data:image/png;base64,...`` URI (see :func:`encode_png`)."""
    return "data:image/png;base64," + base64.b64encode(encode_png(pixels, channels)).decode()
