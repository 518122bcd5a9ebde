"""A loopback HTTP server that answers like the memories.ai gateway, faults included.

It checks what the seeds document about requests (raw-key Authorization, the path, each
provider's part shapes, where JSON output and thinking options go) and answers 400 with the
gateway's error envelope when a body is wrong. Answers follow each provider's response shape:
GPT the OpenAI shape with a dated snapshot in ``model``, Qwen the gateway shape with the bare
name, Gemini the gateway shape with the prefixed name. Faults are queued per request.
"""

from __future__ import annotations

import collections
import contextlib
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

API_KEY = "sk-mavi-test-key-0123456789"
BASE_PATH = "/serve/api/v2"
#: What GPT aliases come back as (the seeds show gpt:gpt-4o answered by gpt-4o-2024-08-06).
SERVED = {"gpt:gpt-4o": "gpt-4o-2024-08-06", "gpt:gpt-4o-mini": "gpt-4o-mini-2024-07-18"}
PART_KEYS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "qwen": lambda p: set(p) in ({"text"}, {"image"}),
    "gpt": lambda p: (
        (p.get("type") == "text" and isinstance(p.get("text"), str))
        or (p.get("type") == "image_url" and isinstance(p.get("image_url", {}).get("url"), str))
    ),
    "gemini": lambda p: (
        (p.get("type") == "text" and isinstance(p.get("text"), str))
        or (p.get("type") == "input_file" and {"file_uri", "mime_type"} <= set(p))
    ),
}
ROLES = {
    "qwen": {"system", "user"},
    "gpt": {"system", "user", "assistant"},
    "gemini": {"system", "user", "assistant"},
}


class _Server(ThreadingHTTPServer):
    request_queue_size = 512  # many workers connect at once in the concurrency tests
    daemon_threads = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        #: Exceptions raised in request handlers, for example writing to a client that gave up
        #: waiting. socketserver prints them to stderr, where they would land in the output a
        #: CLI test asserts on; here they are kept for a test to look at instead.
        self.handler_errors: list[BaseException] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.handler_errors.append(sys.exc_info()[1] or RuntimeError("unknown handler error"))


@attrs.define
class Fault:
    """What to do to one request: ``kind`` is an HTTP error (400, 401, 402, 403, 429, 500,
    502), slow (answer after ``seconds``), reset (read the request, close without answering),
    truncated (promise a longer body than sent), short (a body cut mid-JSON), no_usage,
    non_json, wrong_shape, errored, cut_stream (two events, then close), usage (report
    ``usage`` = (input, output) tokens instead of the real ones) or served (answer as
    ``served`` instead of the model asked). ``model`` limits it to that model; ``times`` to
    that many uses."""

    kind: str
    model: str | None = None
    times: int = 1
    retry_after: str | None = None
    seconds: float = 0.0
    usage: tuple[int, int] | None = None
    served: str | None = None


@attrs.define
class Received:
    path: str
    headers: dict[str, str]
    body: Any


class FakeGateway:
    """Start with ``with FakeGateway() as gw:``; ``gw.base_url`` is the API base."""

    def __init__(self, *, stream_usage: bool = False, over_report: int = 0) -> None:
        #: When set, every answer reports this many times the request's max_tokens as output
        #: (a gateway billing more than it was asked for).
        self.over_report = over_report
        self.received: list[Received] = []
        self.faults: collections.deque[Fault] = collections.deque()
        self.dead: set[str] = set()  # models that always answer 500
        self.stream_usage = stream_usage
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}{BASE_PATH}"

    def __enter__(self) -> FakeGateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def queue(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def take_fault(self, model: str) -> Fault | None:
        with self._lock:
            if model in self.dead:
                return Fault("500", model)
            for fault in self.faults:
                if fault.model is None or fault.model == model:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def usage_for(self, body: dict[str, Any]) -> tuple[int, int]:
        """Deterministic token counts the test can recompute: input from the body's size."""
        n = body.get("n", 1)
        output = self.over_report * body.get("max_tokens", 1000) * n if self.over_report else 7 * n
        return 20 + len(json.dumps(body["messages"])) // 4, output


def validate(body: Any) -> str | None:
    """What is wrong with a request body, in the gateway's words, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return "model is required"
    provider, _, name = body["model"].partition(":")
    if provider not in PART_KEYS or not name:
        return f"model must carry a provider prefix, got {body['model']!r}"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty array"
    for message in messages:
        if message.get("role") not in ROLES[provider]:
            return f"role {message.get('role')!r} is not allowed for {provider}"
        content = message.get("content")
        parts = [content] if isinstance(content, str) else content
        if not isinstance(parts, list):
            return "content must be a string or an array"
        for part in parts:
            if not isinstance(part, str) and not PART_KEYS[provider](part):
                return f"part {part!r} is not a {provider} part"
    extra = body.get("extra_body", {})
    if provider == "gpt" and extra:
        return "gpt takes no extra_body"
    if provider != "gpt" and "response_format" in body:
        return f"{provider} takes response_format inside extra_body"
    if provider == "gemini" and "enable_thinking" in extra:
        return "gemini thinking goes in extra_body.thinking_config"
    if provider == "qwen" and "thinking_config" in extra:
        return "qwen thinking goes in extra_body.enable_thinking"
    return None


def answer(gateway: FakeGateway, body: dict[str, Any]) -> dict[str, Any]:
    model = body["model"]
    provider, _, name = model.partition(":")
    tokens_in, tokens_out = gateway.usage_for(body)
    texts = [f"answer {i} from {model}" for i in range(body.get("n", 1))]
    if provider == "gpt":
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 1767092232,
            "model": SERVED.get(model, name),
            "choices": [
                {
                    "index": i,
                    "message": {
                        "role": "assistant",
                        "content": t,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
                for i, t in enumerate(texts)
            ],
            "usage": {
                "prompt_tokens": tokens_in,
                "completion_tokens": tokens_out,
                "total_tokens": tokens_in + tokens_out,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_test",
        }
    return {
        "id": "6612267a-test",
        "object": "completion",
        "model": name if provider == "qwen" else model,
        "created_at": 1767094289,
        "status": "completed",
        "choices": [{"text": t, "index": i} for i, t in enumerate(texts)],
        "usage": {
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        },
        "meta": {"provider": provider, "provider_model": name},
    }


def _handler_for(gateway: FakeGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``gateway.received`` instead."""

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _envelope(self, code: int, msg: str, headers: dict[str, str] | None = None) -> None:
            self._send(code, {"code": code, "msg": msg, "data": None}, headers)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            gateway.received.append(Received(self.path, dict(self.headers), body))
            if self.path != BASE_PATH + "/iu/chat/completions":
                return self._envelope(404, "not found")
            if self.headers.get("Authorization") != API_KEY:
                return self._envelope(401, "invalid or expired api key")
            problem = validate(body)
            if problem is not None:
                return self._envelope(400, f"invalid parameters: {problem}")
            fault = gateway.take_fault(body["model"])
            if fault is not None and self._fault(fault, body):
                return None
            if body.get("stream"):
                return self._stream(body)
            return self._send(200, answer(gateway, body))

        def _fault(self, fault: Fault, body: dict[str, Any]) -> bool:
            """Apply ``fault``; True when it answered the request itself."""
            if fault.kind == "slow":
                time.sleep(fault.seconds)
                return False
            if fault.kind.isdigit():
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
                self._envelope(int(fault.kind), f"fault {fault.kind}", headers)
                return True
            handler = FAULTS.get(fault.kind)
            if handler is None:
                raise AssertionError(f"unknown fault {fault.kind}")
            handler(self, fault, body, answer(gateway, body))
            return True

        def reset(self, fault: Fault, body: dict[str, Any], payload: dict[str, Any]) -> None:
            """The request was read (and processed) but the connection closes, unanswered."""
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

        def cut_stream(self, fault: Fault, body: dict[str, Any], payload: dict[str, Any]) -> None:
            self._stream(body, cut=True)

        def usage(self, fault: Fault, body: dict[str, Any], payload: dict[str, Any]) -> None:
            assert fault.usage is not None
            self._send(200, dict(payload, usage=_usage(body, *fault.usage)))

        def served(self, fault: Fault, body: dict[str, Any], payload: dict[str, Any]) -> None:
            self._send(200, dict(payload, model=fault.served))

        def trickle(self, fault: Fault, body: dict[str, Any], payload: dict[str, Any]) -> None:
            """Every byte inside the read timeout, the whole body far beyond it."""
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client shuts its socket at its deadline
                for byte in data:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(fault.seconds)

        def truncated(self, fault: Fault, body: dict[str, Any], payload: dict[str, Any]) -> None:
            """Half the promised body, then the connection closes."""
            data = json.dumps(payload).encode()
            self._raw(data, promised=2 * len(data))

        def short(self, fault: Fault, body: dict[str, Any], payload: dict[str, Any]) -> None:
            """A body of the promised length whose JSON stops halfway (padded with spaces)."""
            data = json.dumps(payload).encode()
            half = len(data) // 2
            self._raw(data[:half] + b" " * (len(data) - half), promised=len(data))

        def _raw(self, data: bytes, *, promised: int) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(promised))
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True

        def no_usage(self, fault: Fault, body: dict[str, Any], payload: dict[str, Any]) -> None:
            payload.pop("usage")
            self._send(200, payload)

        def non_json(self, fault: Fault, body: dict[str, Any], payload: dict[str, Any]) -> None:
            self._send(200, b"<html>502 Bad Gateway</html>")

        def wrong_shape(self, fault: Fault, body: dict[str, Any], payload: dict[str, Any]) -> None:
            self._send(200, {"result": "ok", "data": [1, 2, 3]})

        def errored(self, fault: Fault, body: dict[str, Any], payload: dict[str, Any]) -> None:
            self._send(200, dict(payload, status="errored", error={"message": "model crashed"}))

        def _stream(self, body: dict[str, Any], *, cut: bool = False) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for number, chunk in enumerate(_chunks(gateway, body)):
                if cut and number == 2:  # mid-stream: the connection drops, no last chunk
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._chunk(f"data: {json.dumps(chunk)}\n\n".encode())
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    #: Fault kind → the handler method that answers it (besides slow and HTTP statuses).
    FAULTS: dict[str, Callable[..., None]] = {
        kind: getattr(Handler, kind)
        for kind in (
            "reset", "cut_stream", "usage", "served", "trickle", "truncated", "short",
            "no_usage", "non_json", "wrong_shape", "errored",
        )
    }  # fmt: skip
    return Handler


def _usage(body: dict[str, Any], tokens_in: int, tokens_out: int) -> dict[str, Any]:
    """A usage object of the provider's shape with these counts."""
    if body["model"].startswith("gpt:"):
        return {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        }
    return {
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "total_tokens": tokens_in + tokens_out,
    }


def _chunks(gateway: FakeGateway, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    full = answer(gateway, body)
    provider = body["model"].partition(":")[0]
    for word in ["Hello", " from", " the", " stream"]:
        if provider == "gpt":
            yield {"model": full["model"], "choices": [{"index": 0, "delta": {"content": word}}]}
        else:
            yield {"model": full["model"], "choices": [{"index": 0, "text": word}]}
    if gateway.stream_usage:
        yield {"choices": [], "usage": full["usage"]}
