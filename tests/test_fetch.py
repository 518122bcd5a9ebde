"""Opt-in fetching of remote images: measured when fetched, refused with a reason otherwise."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import responses

from router._fetch import ImageFetchError, fetch_image, fetch_images
from router._request import Request

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
