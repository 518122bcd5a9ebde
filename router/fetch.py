"""Opt-in download of remote images so their size, and so their tokens, are known.

Nothing is fetched unless the caller asks: an unfetched URL is estimated as a range. The
download streams with connect and read timeouts and stops at ``max_bytes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from pricing import InputError

from .request import ImagePart, Message, Part, Request

if TYPE_CHECKING:
    import requests

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_TIMEOUT = (3.05, 10.0)


class ImageFetchError(InputError):
    """A remote image could not be fetched (network, HTTP status, too large)."""


def fetch_image(
    url: str,
    *,
    session: requests.Session | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
) -> bytes:
    """The bytes at ``url``, at most ``max_bytes`` of them, or :class:`ImageFetchError`."""
    import requests

    if session is None:  # one of our own, closed when done
        with requests.Session() as own:
            return fetch_image(url, session=own, max_bytes=max_bytes, timeout=timeout)
    try:
        with session.get(url, stream=True, timeout=timeout) as response:
            if response.status_code != 200:
                raise ImageFetchError(f"fetching {url} answered HTTP {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise ImageFetchError(
                    f"{url} is {int(declared):,} bytes, over the {max_bytes:,} cap"
                )
            chunks, size = [], 0
            for chunk in response.iter_content(chunk_size=65536):
                size += len(chunk)
                if size > max_bytes:
                    raise ImageFetchError(f"{url} is over the {max_bytes:,}-byte cap")
                chunks.append(chunk)
            return b"".join(chunks)
    except requests.RequestException as exc:
        raise ImageFetchError(f"cannot fetch {url}: {exc.__class__.__name__}") from exc


def fetch_images(
    request: Request,
    *,
    session: requests.Session | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
) -> Request:
    """The request with every remote image downloaded and measured (the URL stays the source).
    Without a ``session``, one is opened for all the request's images and closed after."""
    if session is None and any(p.is_remote and p.data is None for p in request.images):
        import requests

        with requests.Session() as own:
            return fetch_images(request, session=own, max_bytes=max_bytes, timeout=timeout)
    messages = []
    for number, message in enumerate(request.messages, start=1):
        parts: list[Part] = []
        for index, part in enumerate(message.parts, start=1):
            if isinstance(part, ImagePart) and part.is_remote and part.data is None:
                data = fetch_image(
                    part.source, session=session, max_bytes=max_bytes, timeout=timeout
                )
                try:
                    measured = part.with_data(data)
                except InputError as exc:
                    raise ImageFetchError(
                        f"message {number}, part {index} ({part.source}): {exc}"
                    ) from None
                parts.append(measured)
            else:
                parts.append(part)
        messages.append(Message(message.role, tuple(parts), message.name))
    return attrs.evolve(request, messages=tuple(messages))
