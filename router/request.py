"""A provider-neutral chat request: messages of text and image parts, plus generation options.

Build one from the OpenAI message format an app already has (:meth:`Request.from_openai`) or
from a prompt and images (:meth:`Request.from_prompt`). Local images (a path, bytes, a base64
data URL) are read and measured here, once; a remote http(s) URL is kept as a reference and
measured only if the caller fetches it (``router.fetch_images``). Invalid input raises
:class:`InputError` naming the message and the part.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs

from pricing import InputError

from .images import ImageError, read_header

if TYPE_CHECKING:
    from pathlib import Path

#: The most bytes a local image file may have (the remote fetch has the same cap).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
#: Names a request may use (the command line offers the same choices).
ROLES = ("system", "user", "assistant")
DETAILS = ("auto", "low", "high")
MEDIA_RESOLUTIONS = ("low", "medium", "high")
Detail = Literal["auto", "low", "high"]


@attrs.frozen(cache_hash=True)
class TextPart:
    text: str


@attrs.frozen(cache_hash=True)
class ImagePart:
    """An image: ``source`` as given (a path, a URL, a data URL or ``"<bytes>"``).

    ``data`` holds the encoded bytes when they are known; ``width``/``height``/``mime_type``
    come from the image header, or are None for a remote URL nobody fetched.
    """

    source: str
    data: bytes | None = attrs.field(default=None, repr=False)
    width: int | None = None
    height: int | None = None
    mime_type: str | None = None
    detail: Detail = "auto"
    media_resolution: str | None = None

    @property
    def is_remote(self) -> bool:
        return self.source.startswith(("http://", "https://"))

    @property
    def size_known(self) -> bool:
        return self.width is not None and self.height is not None

    def with_data(self, data: bytes) -> ImagePart:
        """This part with its bytes (for example fetched from its URL) and their header."""
        header = read_header(data)
        return attrs.evolve(
            self, data=data, width=header.width, height=header.height, mime_type=header.mime_type
        )


Part: TypeAlias = "TextPart | ImagePart"


@attrs.frozen(cache_hash=True)
class Message:
    role: str
    parts: tuple[Part, ...]
    name: str | None = None

    @property
    def text(self) -> str:
        return "".join(part.text for part in self.parts if isinstance(part, TextPart))


def _positive(name: str, minimum: int) -> Any:
    def check(instance: object, attribute: object, value: int | None) -> None:
        if value is not None and (type(value) is not int or value < minimum):
            raise InputError(f"{name} must be a whole number >= {minimum}, got {value!r}")

    return check


@attrs.frozen(cache_hash=True)
class Request:
    """What to send: messages plus options. ``max_tokens`` None means the provider's default."""

    messages: tuple[Message, ...]
    max_tokens: int | None = attrs.field(default=None, validator=_positive("max_tokens", 1))
    n: int = attrs.field(default=1, validator=_positive("n", 1))
    json_output: bool = False
    thinking: bool = False
    stop: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    temperature: float | None = None
    top_p: float | None = None
    json_schema: Mapping[str, Any] | None = attrs.field(default=None, eq=False)
    thinking_budget: int | None = attrs.field(
        default=None, validator=_positive("thinking_budget", 1)
    )

    def __attrs_post_init__(self) -> None:
        if not self.messages:
            raise InputError("a request needs at least one message")

    @property
    def images(self) -> tuple[ImagePart, ...]:
        return tuple(p for m in self.messages for p in m.parts if isinstance(p, ImagePart))

    @classmethod
    def from_prompt(
        cls,
        prompt: str,
        images: Iterable[str | bytes | Path] = (),
        *,
        system: str | None = None,
        detail: Detail = "auto",
        media_resolution: str | None = None,
        **options: Any,
    ) -> Request:
        """One user message: ``prompt`` then each image; an optional system message first."""
        where = "message 1" if system is None else "message 2"
        parts: list[Part] = [TextPart(prompt)] if prompt else []
        for index, source in enumerate(images, start=len(parts) + 1):
            parts.append(
                image_part(source, detail, media_resolution, where=f"{where}, part {index}")
            )
        messages = [Message("user", tuple(parts))]
        if system is not None:
            messages.insert(0, Message("system", (TextPart(system),)))
        if not parts:
            raise InputError("the request is empty: give a prompt, an image, or both")
        return cls(tuple(messages), **options)

    @classmethod
    def from_openai(
        cls,
        messages: Sequence[Mapping[str, Any]],
        *,
        allow_local_files: bool = False,
        **options: Any,
    ) -> Request:
        """From OpenAI chat messages: ``content`` a string or a list of text/image_url parts.

        An ``image_url`` must be an http(s) or data URL: messages often come from users, and a
        path would read (and upload) a file of this machine. ``allow_local_files`` reads paths
        too, when the messages are the caller's own."""
        if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
            raise InputError("messages must be a list of {role, content} objects")
        parsed = (_message(m, i, allow_local_files) for i, m in enumerate(messages, start=1))
        return cls(tuple(parsed), **options)


def _message(raw: Mapping[str, Any], number: int, local_files: bool) -> Message:
    where = f"message {number}"
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}: expected an object with role and content")
    role = raw.get("role")
    if role not in ROLES:
        raise InputError(f"{where}: role must be one of {', '.join(ROLES)}, got {role!r}")
    content = raw.get("content")
    if isinstance(content, str):
        parts: tuple[Part, ...] = (TextPart(content),)
    elif isinstance(content, list):
        parts = tuple(
            _part(p, f"{where}, part {i}", local_files) for i, p in enumerate(content, start=1)
        )
    else:
        raise InputError(f"{where}: content must be a string or a list of parts")
    name = raw.get("name")
    return Message(role, parts, name if isinstance(name, str) else None)


def _part(raw: Any, where: str, local_files: bool) -> Part:
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if kind == "text" and isinstance(raw.get("text"), str):
        return TextPart(raw["text"])
    if kind == "image_url":
        image = raw.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        if not isinstance(url, str):
            raise InputError(f"{where}: image_url needs a url")
        detail = image.get("detail", "auto") if isinstance(image, Mapping) else "auto"
        return image_part(url, detail, None, where=where, local_files=local_files)
    raise InputError(
        f"{where}: unknown part type {kind!r}; expected 'text' (with text) or 'image_url'"
    )


def image_part(
    source: str | bytes | Path,
    detail: str,
    media_resolution: str | None,
    *,
    where: str,
    local_files: bool = True,
) -> ImagePart:
    """An image part from a path, bytes, a data URL or an http(s) URL, measured if local. A
    path is read only with ``local_files`` (the caller named the file itself)."""
    if detail not in DETAILS:
        raise InputError(f"{where}: detail must be one of {', '.join(DETAILS)}, got {detail!r}")
    if media_resolution is not None and media_resolution not in MEDIA_RESOLUTIONS:
        raise InputError(f"{where}: media_resolution must be one of {', '.join(MEDIA_RESOLUTIONS)}")
    options: dict[str, Any] = {"detail": detail, "media_resolution": media_resolution}
    if isinstance(source, bytes):
        label, data = "<bytes>", source
    elif isinstance(source, str) and source.startswith(("http://", "https://")):
        return ImagePart(source, **options)
    elif isinstance(source, str) and source.startswith("data:"):
        label, data = source[:40] + ("..." if len(source) > 40 else ""), _data_url(source, where)
    elif local_files:
        label, data = str(source), _read_file(str(source), where)
    else:
        raise InputError(
            f"{where}: {str(source)[:80]!r} is not an http(s) or data URL, and local files are "
            "read only when the caller allows it (Request.from_openai(..., "
            "allow_local_files=True), Request.from_prompt, or --image PATH)"
        )
    try:
        return ImagePart(label, **options).with_data(data)
    except ImageError as exc:
        raise ImageError(f"{where} ({label}): {exc}") from None


def _data_url(url: str, where: str) -> bytes:
    header, comma, payload = url.partition(",")
    if not comma or not header.endswith(";base64"):
        raise InputError(f"{where}: a data URL must be data:<mime>;base64,<payload>")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{where}: the data URL's base64 payload is invalid") from None


def _read_file(path: str, where: str) -> bytes:
    """A local image file's bytes: a regular file of at most :data:`MAX_IMAGE_BYTES`. It is
    opened without blocking and checked on the open descriptor, so a FIFO (which would hang), a
    device such as /dev/zero (which never ends) or a directory is refused, even if swapped in."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise InputError(f"{where}: {path!r} is not a regular file; give an image file")
        with open(descriptor, "rb") as handle:
            data = handle.read(MAX_IMAGE_BYTES + 1)
    except OSError as exc:
        raise InputError(
            f"{where}: cannot read image {path!r} ({exc.strerror}); give a path to an "
            "image file, an http(s) URL or a data URL"
        ) from None
    if len(data) > MAX_IMAGE_BYTES:
        raise InputError(f"{where}: {path!r} is over the {MAX_IMAGE_BYTES:,}-byte cap for an image")
    return data
