"""A minimal PNG writer (8-bit RGB, no filtering), so the demo needs no imaging library."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

__all__ = ["write_png"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(path: str | Path, rgb: bytes, width: int, height: int) -> None:
    """Write ``rgb`` (``height`` rows of ``width`` RGB byte triples, top row first) as a PNG."""
    row = width * 3
    if len(rgb) != row * height or width < 1 or height < 1:
        raise ValueError(f"expected {row * height} bytes for {width}x{height} RGB, got {len(rgb)}")
    # each scanline starts with its filter type, 0 (none)
    raw = b"".join(b"\x00" + rgb[y * row:(y + 1) * row] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit, truecolour
    data = SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b"")
    Path(path).write_bytes(data)
