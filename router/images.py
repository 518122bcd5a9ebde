"""Reading an image's size and MIME type from its header.

Pillow parses only the header (``Image.open`` is lazy: no pixel is decoded), in 10–20 µs, so
nothing is cached: a request measures each of its images once, when it is built.
"""

from __future__ import annotations

import io

import attrs

from pricing import InputError

#: Pillow format name → MIME type, for the formats the gateway's providers accept.
MIME_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "HEIF": "image/heif",
}


@attrs.frozen
class ImageHeader:
    """What an image's header says: pixel size and MIME type."""

    width: int
    height: int
    mime_type: str


class ImageError(InputError):
    """Bytes that are not an image of a supported format, or whose header is corrupt."""


def read_header(data: bytes) -> ImageHeader:
    """The size and MIME type of an encoded image; raises :class:`ImageError` if it is not one."""
    from PIL import Image, UnidentifiedImageError  # loaded on first image: keeps import fast

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            fmt = image.format or ""
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            "the image declares more pixels than Pillow accepts as a safe image "
            f"({exc}); resize it: no model takes it at that size"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageError(
            f"not a readable image ({exc.__class__.__name__}); supported formats: "
            f"{', '.join(sorted(MIME_TYPES))}"
        ) from None
    if fmt not in MIME_TYPES:
        raise ImageError(
            f"{fmt or 'unknown'} images are not supported; use one of {', '.join(sorted(MIME_TYPES))}"
        )
    if width < 1 or height < 1:
        raise ImageError(f"the image header gives an empty size {width}x{height}")
    return ImageHeader(width, height, MIME_TYPES[fmt])
