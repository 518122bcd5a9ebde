"""Opt-in fetching of remote images: measured when fetched, refused with a reason otherwise."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import responses

from router import ImageFetchError, Request, fetch_image, fetch_images

from .images import encoded

URL = "https://images.example.com/cat.jpg"


@responses.activate
def test_fetched_image_is_measured() -> None:
    """A fetched URL gets its real size and MIME type; the URL stays its source."""
    responses.get(URL, body=encoded(800, 600, "JPEG"), content_type="image/jpeg")
    request = fetch_images(Request.from_prompt("what?", [URL]))
    image = request.images[0]
    assert (image.source, image.width, image.height, image.mime_type) == (
        URL,
        800,
        600,
        "image/jpeg",
    )


@responses.activate
def test_size_cap_and_http_errors() -> None:
    """Over the byte cap, a non-200 answer, a network error or a non-image: ImageFetchError."""
    responses.get(URL, body=b"x" * 5000)
    with pytest.raises(ImageFetchError, match="cap"):
        fetch_image(URL, max_bytes=1000)
    responses.replace(responses.GET, URL, status=404)
    with pytest.raises(ImageFetchError, match="HTTP 404"):
        fetch_image(URL)
    responses.replace(responses.GET, URL, body=requests.ConnectTimeout("slow"))
    with pytest.raises(ImageFetchError, match="ConnectTimeout"):
        fetch_image(URL)
    responses.replace(responses.GET, URL, body=b"<html>not an image</html>")
    with pytest.raises(ImageFetchError, match=r"message 1, part 2 \(https://images"):
        fetch_images(Request.from_prompt("x", [URL]))


@responses.activate
def test_every_request_has_a_timeout() -> None:
    """The download passes explicit connect and read timeouts."""
    responses.get(URL, body=encoded(8, 8, "JPEG"))
    seen: list[object] = []

    class Recording(requests.Session):
        def get(self, url: str | bytes, **kwargs: Any) -> requests.Response:
            seen.append(kwargs.get("timeout"))
            return super().get(url, **kwargs)

    fetch_image(URL, session=Recording(), timeout=(1.0, 2.0))
    assert seen == [(1.0, 2.0)]


@responses.activate
def test_without_a_session_one_is_opened_per_request_and_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two remote images of one request share one session of ours, closed afterwards."""
    responses.get(URL, body=encoded(8, 8, "JPEG"))
    responses.get(URL + "?2", body=encoded(8, 8, "JPEG"))
    opened: list[Tracked] = []

    class Tracked(requests.Session):
        def __init__(self) -> None:
            super().__init__()
            self.gets, self.closed = 0, False
            opened.append(self)

        def get(self, url: str | bytes, **kwargs: Any) -> requests.Response:
            self.gets += 1
            return super().get(url, **kwargs)

        def close(self) -> None:
            self.closed = True
            super().close()

    monkeypatch.setattr(requests, "Session", Tracked)
    request = fetch_images(Request.from_prompt("x", [URL, URL + "?2"]))
    assert [p.width for p in request.images] == [8, 8]
    assert [(s.gets, s.closed) for s in opened] == [(2, True)]
