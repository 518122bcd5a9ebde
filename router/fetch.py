"""Opt-in download of remote images so their size, and so their tokens, are known.

Nothing is fetched unless the caller asks: an unfetched URL is estimated as a range. A fetch is
bounded every way a server could stretch it: connect and read timeouts on each socket operation,
one overall ``deadline`` for the whole download (a server trickling a byte at a time cannot hold
the caller past it), ``max_bytes``, and at most a few redirects. Hosts that resolve to loopback,
link-local, private or otherwise non-public addresses are refused unless ``allow_private``: an
app that fetches URLs its users send must not be steered at its own network.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import attrs

from pricing import InputError

from .http import within
from .request import MAX_IMAGE_BYTES, ImagePart, Message, Part, Request

if TYPE_CHECKING:
    import requests

DEFAULT_MAX_BYTES = MAX_IMAGE_BYTES
DEFAULT_TIMEOUT = (3.05, 10.0)
DEFAULT_DEADLINE = 30.0
MAX_REDIRECTS = 5
#: host, port → the addresses it resolves to (passed in so tests need no DNS).
Resolver = Callable[[str, int], Sequence[str]]


class ImageFetchError(InputError):
    """A remote image could not be fetched (network, HTTP status, too large, too slow, or an
    address that is not public)."""


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver)."""
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port)})
    except OSError as exc:
        raise ImageFetchError(f"cannot resolve {host!r}: {exc.strerror or exc}") from None


def _check_public(url: str, resolver: Resolver) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImageFetchError(f"{url}: only http(s) URLs with a host are fetched")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for address in resolver(parts.hostname, port):
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise ImageFetchError(
                f"{url}: {parts.hostname} resolves to {address}, which is not a public address "
                "(loopback, link-local or private); pass allow_private=True to fetch it"
            )


def fetch_image(
    url: str,
    *,
    session: requests.Session | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    deadline: float = DEFAULT_DEADLINE,
    allow_private: bool = False,
    resolver: Resolver = resolve,
) -> bytes:
    """The bytes at ``url``, at most ``max_bytes`` of them, within ``deadline`` seconds in all,
    or :class:`ImageFetchError`."""
    import requests

    with _opened(session) as active:
        download = _Download(active, max_bytes, timeout, allow_private, resolver)
        try:  # the caller waits at most `deadline`, however slowly the server answers
            data = within(deadline, lambda: download.fetch(url), lambda: download.response)
        except requests.RequestException as exc:
            raise ImageFetchError(f"cannot fetch {url}: {exc.__class__.__name__}") from exc
    if data is None:
        raise ImageFetchError(f"fetching {url} took over the {deadline:g} s deadline")
    return data


@contextlib.contextmanager
def _opened(session: requests.Session | None) -> Iterator[requests.Session]:
    """The caller's session, or one of our own, closed when done."""
    if session is not None:
        yield session
        return
    import requests

    with requests.Session() as own:
        yield own


class _Download:
    """One fetch: follows redirects (each checked) and reads within the byte cap."""

    def __init__(
        self,
        session: requests.Session,
        max_bytes: int,
        timeout: tuple[float, float],
        allow_private: bool,
        resolver: Resolver,
    ) -> None:
        self.session, self.max_bytes, self.timeout = session, max_bytes, timeout
        self.allow_private, self.resolver = allow_private, resolver
        self.response: Any = None

    def fetch(self, url: str) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            if not self.allow_private:
                _check_public(url, self.resolver)
            self.response = self.session.get(
                url, stream=True, timeout=self.timeout, allow_redirects=False
            )
            with self.response as response:
                location = response.headers.get("Location")
                if response.is_redirect and location:
                    url = urljoin(url, location)
                    continue
                if response.status_code != 200:
                    raise ImageFetchError(f"fetching {url} answered HTTP {response.status_code}")
                return self._read(url, response)
        raise ImageFetchError(f"fetching {url}: more than {MAX_REDIRECTS} redirects")

    def _read(self, url: str, response: requests.Response) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise ImageFetchError(
                f"{url} is {int(declared):,} bytes, over the {self.max_bytes:,} cap"
            )
        chunks, size = [], 0
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > self.max_bytes:
                raise ImageFetchError(f"{url} is over the {self.max_bytes:,}-byte cap")
            chunks.append(chunk)
        return b"".join(chunks)


def fetch_images(
    request: Request,
    *,
    session: requests.Session | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    deadline: float = DEFAULT_DEADLINE,
    allow_private: bool = False,
    resolver: Resolver = resolve,
) -> Request:
    """The request with every remote image downloaded and measured (the URL stays the source),
    each under :func:`fetch_image`'s bounds. Without a ``session``, one is opened for all the
    request's images and closed after."""
    options: dict[str, Any] = {
        "max_bytes": max_bytes,
        "timeout": timeout,
        "deadline": deadline,
        "allow_private": allow_private,
        "resolver": resolver,
    }
    if not any(p.is_remote and p.data is None for p in request.images):
        return request
    with _opened(session) as active:
        return attrs.evolve(request, messages=tuple(_fetched(request, active, options)))


def _fetched(
    request: Request, session: requests.Session, options: dict[str, Any]
) -> Iterator[Message]:
    """The request's messages, each remote image fetched and measured."""
    for number, message in enumerate(request.messages, start=1):
        parts: list[Part] = []
        for index, part in enumerate(message.parts, start=1):
            if isinstance(part, ImagePart) and part.is_remote and part.data is None:
                data = fetch_image(part.source, session=session, **options)
                try:
                    measured = part.with_data(data)
                except InputError as exc:
                    raise ImageFetchError(
                        f"message {number}, part {index} ({part.source}): {exc}"
                    ) from None
                parts.append(measured)
            else:
                parts.append(part)
        yield Message(message.role, tuple(parts), message.name)
