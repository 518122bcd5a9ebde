"""What the two HTTP users (the gateway client and the image fetch) share: reading a body
within a deadline that a server sending slowly cannot stretch.

A socket timeout bounds each read, not the whole body: a server that trickles a byte before
every timeout keeps a plain read going for as long as it likes. Here the body is read in a
helper thread while the caller waits at most the time left; past it, the socket is shut, which
ends the read (closing the response instead would wait for the read, which holds its buffer).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

Read = TypeVar("Read")


def within(seconds: float, read: Callable[[], Read], response: Callable[[], Any]) -> Read | None:
    """What ``read()`` returns, run with at most ``seconds`` to finish, or None when its time
    ran out (``response()`` gives the response whose socket is then shut; None while there is
    none yet). Raises what ``read`` raised."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = read()
        except BaseException as exc:  # handed to the caller's thread, raised there
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(max(0.0, seconds))
    if worker.is_alive():
        shut(response())
        return None
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]  # what read() returned


def shut(response: Any) -> None:
    """Shut the socket under a ``requests`` response, if it has one."""
    raw = getattr(response, "raw", None)
    connection = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
