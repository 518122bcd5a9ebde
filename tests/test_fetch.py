"""Opt-in fetching of remote images: measured when fetched, refused with a reason otherwise."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import responses

from router import ImageFetchError, Request, fetch_image, fetch_images

from .conftest import RunCli
from .images import encoded

URL = "https://images.example.com/cat.jpg"


def PUBLIC(host: str, port: int) -> list[str]:
    """A resolver that answers a public address for any host (these tests use no DNS)."""
    return ["93.184.216.34"]


@responses.activate
def test_fetched_image_is_measured() -> None:
    """A fetched URL gets its real size and MIME type; the URL stays its source."""
    responses.get(URL, body=encoded(800, 600, "JPEG"), content_type="image/jpeg")
    request = fetch_images(Request.from_prompt("what?", [URL]), resolver=PUBLIC)
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
        fetch_image(URL, max_bytes=1000, resolver=PUBLIC)
    responses.replace(responses.GET, URL, status=404)
    with pytest.raises(ImageFetchError, match="HTTP 404"):
        fetch_image(URL, resolver=PUBLIC)
    responses.replace(responses.GET, URL, body=requests.ConnectTimeout("slow"))
    with pytest.raises(ImageFetchError, match="ConnectTimeout"):
        fetch_image(URL, resolver=PUBLIC)
    responses.replace(responses.GET, URL, body=b"<html>not an image</html>")
    with pytest.raises(ImageFetchError, match=r"message 1, part 2 \(https://images"):
        fetch_images(Request.from_prompt("x", [URL]), resolver=PUBLIC)


@responses.activate
def test_every_request_has_a_timeout() -> None:
    """The download passes explicit connect and read timeouts."""
    responses.get(URL, body=encoded(8, 8, "JPEG"))
    seen: list[object] = []

    class Recording(requests.Session):
        def get(self, url: str | bytes, **kwargs: Any) -> requests.Response:
            seen.append(kwargs.get("timeout"))
            return super().get(url, **kwargs)

    fetch_image(URL, session=Recording(), timeout=(1.0, 2.0), resolver=PUBLIC)
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
    request = fetch_images(Request.from_prompt("x", [URL, URL + "?2"]), resolver=PUBLIC)
    assert [p.width for p in request.images] == [8, 8]
    assert [(s.gets, s.closed) for s in opened] == [(2, True)]


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "192.168.1.1", "169.254.169.254", "::1", "fd00::1"]
)
@responses.activate
def test_hosts_that_resolve_to_non_public_addresses_are_refused(address: str) -> None:
    """A host resolving to loopback, private or link-local space is refused before any request
    is made, unless allow_private; then it is fetched."""
    responses.get(URL, body=encoded(8, 8, "JPEG"))
    with pytest.raises(ImageFetchError, match="not a public address"):
        fetch_image(URL, resolver=lambda host, port: [address])
    assert len(responses.calls) == 0
    assert fetch_image(URL, resolver=lambda host, port: [address], allow_private=True)
    assert len(responses.calls) == 1


@responses.activate
def test_a_redirect_is_checked_like_the_first_url() -> None:
    """A public URL redirecting to the cloud metadata address is refused at the redirect."""
    responses.get(URL, status=302, headers={"Location": "http://169.254.169.254/latest"})

    def resolver(host: str, port: int) -> list[str]:
        return ["169.254.169.254"] if host == "169.254.169.254" else ["93.184.216.34"]

    with pytest.raises(ImageFetchError, match=r"169\.254\.169\.254, which is not a public"):
        fetch_image(URL, resolver=resolver)
    assert [c.request.url for c in responses.calls] == [URL]


def test_a_trickling_server_cannot_hold_the_caller_past_the_deadline() -> None:
    """A server sending one byte every 0.1 s keeps every read within its timeout, yet the fetch
    gives up at its overall deadline."""
    import socket
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(4096)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            for _ in range(100):
                if stop.wait(0.1):
                    return
                try:
                    connection.sendall(b"x")
                except OSError:  # the client shut its socket
                    return

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/slow.png"
    started = time.monotonic()
    try:
        with pytest.raises(ImageFetchError, match="deadline"):
            fetch_image(url, allow_private=True, timeout=(1.0, 1.0), deadline=0.5)
        assert time.monotonic() - started < 2.0
        server.join(timeout=2)  # the abandoned download's socket was shut: the server sees it
        assert not server.is_alive()
    finally:
        stop.set()
        server.join(timeout=5)
        listener.close()


def test_local_images_are_read_only_from_regular_files_within_the_cap(tmp_path: Any) -> None:
    """A FIFO (which would block), a device (which never ends), a directory and a file over
    the cap are refused with InputError at once; a real image file is read."""
    import os

    from router import InputError
    from router.request import MAX_IMAGE_BYTES

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.png"
    with huge.open("wb") as handle:
        handle.write(encoded(8, 8))
        handle.truncate(MAX_IMAGE_BYTES + 1)
    for source, message in (
        (fifo, "not a regular file"),
        ("/dev/zero", "not a regular file"),
        (tmp_path, "not a regular file"),
        (huge, "cap"),
    ):
        with pytest.raises(InputError, match=message):
            Request.from_prompt("x", [source])
    good = tmp_path / "good.png"
    good.write_bytes(encoded(30, 20))
    assert Request.from_prompt("x", [good]).images[0].width == 30


def test_openai_messages_read_local_paths_only_when_allowed(tmp_path: Any) -> None:
    """from_openai refuses an image_url that is a path (messages often come from users); the
    caller may allow it for messages of its own."""
    from router import InputError

    good = tmp_path / "good.png"
    good.write_bytes(encoded(30, 20))
    for url in (str(good), "/etc/passwd", "/dev/zero", "file:///etc/passwd"):
        messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]
        with pytest.raises(InputError, match="local files are read only when"):
            Request.from_openai(messages)
    messages = [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": str(good)}}]}
    ]
    assert Request.from_openai(messages, allow_local_files=True).images[0].height == 20


def test_the_cli_fetches_private_hosts_only_when_asked(run_cli: RunCli) -> None:
    """`--fetch-images` refuses a loopback URL (exit 2, one line); `--fetch-private` fetches it
    and the estimate has the image's real size."""
    import http.server
    import threading

    data = encoded(320, 200, "PNG")

    class Image(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = http.server.HTTPServer(("127.0.0.1", 0), Image)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/chart.png"
    try:
        args = ["estimate", "--model", "gpt:gpt-4o", "--image", url, "--fetch-images", "--json"]
        refused = run_cli(*args)
        assert refused.code == 2
        assert "not a public address" in refused.err
        assert refused.err.count("\n") == 1
        fetched = run_cli(*args, "--fetch-private").json()
        assert (fetched["images"][0]["width"], fetched["images"][0]["height"]) == (320, 200)
    finally:
        server.shutdown()
        server.server_close()
