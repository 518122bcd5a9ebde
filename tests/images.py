"""Real encoded images for tests, made in memory with Pillow."""

from __future__ import annotations

import io

from PIL import Image


def encoded(width: int, height: int, fmt: str = "PNG") -> bytes:
    """A ``width`` x ``height`` RGB image encoded as ``fmt`` (PNG, JPEG, ICO...)."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buffer, fmt)
    return buffer.getvalue()


def png(width: int = 64, height: int = 32) -> bytes:
    return encoded(width, height)
