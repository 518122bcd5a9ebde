"""HTTP transport to the gateway: one pooled session, explicit timeouts, bounded retries.

429, 5xx and connection failures are retried with exponential backoff and jitter, honouring
``Retry-After``, within a number of attempts and a total time; other errors are not. Clock,
sleep and randomness are injectable so tests run instantly and deterministically. The API
key is sent as the raw ``Authorization`` header and appears in no repr, log line or error.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from pricing import InputError

from ..http import within
from .errors import (
    AnswerLostError,
    Attempt,
    BadResponseError,
    GatewayConnectionError,
    GatewayError,
    error_for_status,
)
from .response import Completion, parse_completion

if TYPE_CHECKING:
    import requests

DEFAULT_BASE_URL = "https://mavi-backend.memories.ai/serve/api/v2"
CHAT_PATH = "/iu/chat/completions"
log = logging.getLogger("costrouter.gateway")


@attrs.frozen
class RetryPolicy:
    """Up to ``attempts`` tries within ``total_seconds``; the n-th pause is ``base * 2**(n-1)``
    seconds, capped at ``cap``, half of it random (jitter). A Retry-After header wins."""

    attempts: int = attrs.field(default=4, validator=lambda i, a, v: _at_least_one(a.name, v))
    base: float = attrs.field(default=1.0, validator=lambda i, a, v: _seconds(a.name, v, zero=True))
    cap: float = attrs.field(default=20.0, validator=lambda i, a, v: _seconds(a.name, v, zero=True))
    total_seconds: float = attrs.field(default=60.0, validator=lambda i, a, v: _seconds(a.name, v))

    def delay(self, attempt: int, retry_after: float | None, rand: Callable[[], float]) -> float:
        if retry_after is not None:
            return retry_after
        step: float = min(self.cap, self.base * 2.0 ** (attempt - 1))
        return step / 2 + rand() * step / 2


def _at_least_one(name: str, value: object) -> None:
    if type(value) is not int or value < 1:
        raise InputError(f"{name} must be a whole number >= 1, got {value!r}")


def _seconds(name: str, value: object, *, zero: bool = False) -> None:
    """A duration in seconds: a finite number > 0 (>= 0 with ``zero``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not zero):  # type: ignore[operator]  # a number
        bound = ">= 0" if zero else "> 0"
        raise InputError(f"{name} must be a number of seconds {bound}, got {value!r}")


def _check_key(key: str) -> None:
    """Refuse a key an HTTP header cannot carry as it is, before anything is sent (a trailing
    newline from a pasted key would otherwise fail every attempt as a connection error)."""
    if not key:
        raise InputError("no API key: set MEMORIES_API_KEY or pass api_key")
    if key != key.strip() or not key.isprintable():
        raise InputError(
            "the API key has white space or control characters around or in it: set "
            "MEMORIES_API_KEY to the key alone (check for a trailing newline)"
        )
    try:
        key.encode("latin-1")
    except UnicodeEncodeError:
        raise InputError(
            "the API key has characters an HTTP header cannot carry: set MEMORIES_API_KEY to "
            "the key as the gateway gave it"
        ) from None


def _retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


class Transport(Protocol):
    """What the Router needs of a gateway client: this module's GatewayClient, or a double
    such as router.testing.FakeClient.
    ``seconds`` is what is left of the call's deadline for this model's tries."""

    def complete(
        self, body: Mapping[str, Any], attempts: list[Attempt], *, seconds: float | None = None
    ) -> Completion: ...

    def stream(
        self, body: Mapping[str, Any], attempts: list[Attempt], *, seconds: float | None = None
    ) -> Iterator[Mapping[str, Any]]: ...


class GatewayClient:
    """Posts chat completions to the gateway and returns parsed completions."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.05, 60.0),
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        _check_key(api_key)
        import requests

        self._api_key = api_key
        self.url = base_url.rstrip("/") + CHAT_PATH
        self.session = session if session is not None else requests.Session()
        if not isinstance(timeout, tuple) or len(timeout) != 2:
            raise InputError(f"timeout is (connect seconds, read seconds), got {timeout!r}")
        for name, value in zip(("connect timeout", "read timeout"), timeout, strict=True):
            _seconds(name, value)
        self.timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy()
        self._clock, self._sleep, self._rand = clock, sleep, rand

    def __repr__(self) -> str:
        return f"GatewayClient(url={self.url!r}, api_key=<hidden>)"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": self._api_key, "Content-Type": "application/json"}

    def complete(
        self, body: Mapping[str, Any], attempts: list[Attempt], *, seconds: float | None = None
    ) -> Completion:
        """Send ``body``; retry what is worth retrying; append every try to ``attempts``.
        ``seconds`` caps the time all the tries may take (the caller's deadline), below the
        retry policy's own total."""
        model = str(body.get("model"))
        started = self._clock()
        window = (
            self.retry.total_seconds if seconds is None else min(seconds, self.retry.total_seconds)
        )
        for number in range(1, self.retry.attempts + 1):
            try:
                left = None if seconds is None else started + window - self._clock()
                return self._once(body, model, attempts, left)
            except GatewayError as exc:
                exc.attempts = tuple(attempts)
                elapsed = self._clock() - started
                pause = self.retry.delay(number, exc.retry_after, self._rand)
                last = number == self.retry.attempts
                if not exc.retryable or last or elapsed + pause > window:
                    raise
                log.info("retrying %s in %.2fs after %s", model, pause, exc.__class__.__name__)
                self._sleep(pause)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _post(
        self,
        body: Mapping[str, Any],
        model: str,
        attempts: list[Attempt],
        *,
        stream: bool,
        left: float | None,
    ) -> tuple[requests.Response, float]:
        """POST ``body``; return a 200 response and the seconds it took, else record the
        attempt and raise the error for what happened (no answer, or the HTTP status). With
        ``left``, no socket read waits longer than what is left of the call's deadline."""
        import requests

        connect, read = self.timeout
        timeout = (connect, read if left is None else max(0.001, min(read, left)))
        start = self._clock()
        try:
            response = self.session.post(
                self.url, json=body, headers=self._headers(), timeout=timeout, stream=stream
            )
        except requests.RequestException as exc:
            attempts.append(Attempt(model, None, exc.__class__.__name__, self._clock() - start))
            if _never_sent(exc):
                raise GatewayConnectionError(
                    f"no connection ({exc.__class__.__name__})", model=model
                ) from None
            raise AnswerLostError(
                f"sent, and no answer came back ({exc.__class__.__name__})", model=model
            ) from None
        seconds = self._clock() - start
        status = response.status_code
        if status != 200:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            message, code = _error_message(response)
            response.close()
            attempts.append(Attempt(model, status, message, seconds, retry_after))
            error = error_for_status(status)
            raise error(message, status=status, code=code, model=model, retry_after=retry_after)
        return response, seconds

    def _once(
        self, body: Mapping[str, Any], model: str, attempts: list[Attempt], left: float | None
    ) -> Completion:
        """One try. With ``left``, the answer's body must arrive within that many seconds (a
        body trickling in a byte at a time cannot outlast the call's deadline)."""
        import requests

        response, seconds = self._post(body, model, attempts, stream=left is not None, left=left)
        try:
            if left is not None and within(left, _body(response), lambda: response) is None:
                raise AnswerLostError(  # recorded as an attempt by the handler below
                    "the answer was still arriving at the call's deadline", model=model
                )
            completion = parse_completion(response.json(), model)  # the body, read above
        except ValueError:  # not JSON (requests' JSON error is a ValueError too)
            attempts.append(Attempt(model, 200, "not JSON", seconds))
            raise BadResponseError("the answer is not JSON", status=200, model=model) from None
        except requests.RequestException as exc:  # the body was cut or mangled
            attempts.append(Attempt(model, 200, exc.__class__.__name__, seconds))
            raise AnswerLostError(
                f"the answer was cut ({exc.__class__.__name__})", model=model
            ) from None
        except GatewayError as exc:
            attempts.append(Attempt(model, 200, exc.message, seconds))
            raise
        attempts.append(Attempt(model, 200, None, seconds))
        return completion

    def stream(
        self, body: Mapping[str, Any], attempts: list[Attempt], *, seconds: float | None = None
    ) -> Iterator[Mapping[str, Any]]:
        """Send ``body`` with ``stream: true``; yield each server-sent event's JSON object. A
        stream cut after it began raises :class:`AnswerLostError` (the call may be charged).
        ``seconds`` bounds each wait for the next bytes, not the stream's whole length."""
        import requests

        model = str(body.get("model"))
        response, took = self._post(
            dict(body, stream=True), model, attempts, stream=True, left=seconds
        )
        attempts.append(Attempt(model, 200, None, took))
        with response:
            try:
                for line in response.iter_lines(decode_unicode=True):
                    if not line or not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        event = json.loads(data)
                    except ValueError:
                        raise BadResponseError(
                            "a streamed event is not JSON", model=model
                        ) from None
                    if isinstance(event, Mapping):
                        yield event
            except requests.RequestException as exc:  # the stream was cut
                raise AnswerLostError(
                    f"the stream was cut ({exc.__class__.__name__})", model=model
                ) from None


def _body(response: requests.Response) -> Callable[[], bytes]:
    """Reading the response's body (requests keeps it on the response, for .json())."""
    return lambda: response.content


def _never_sent(exc: BaseException) -> bool:
    """True when no connection was ever made (refused, unresolvable, a connect timeout), so
    the request cannot have reached the gateway; anything later may have been processed."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(exc, requests.ConnectTimeout):
        return True
    pending, seen = [exc], set()
    while pending:  # requests wraps urllib3's error in args, MaxRetryError in .reason
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, (NewConnectionError, ConnectTimeoutError)):
            return True
        links = (*error.args, getattr(error, "reason", None), error.__cause__, error.__context__)
        pending.extend(link for link in links if isinstance(link, BaseException))
    return False


def _error_message(response: requests.Response) -> tuple[str, int | None]:
    """The gateway's ``msg`` and ``code`` from an error envelope, else the HTTP reason."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or "error", None
    if isinstance(body, Mapping):
        message = body.get("msg") or body.get("message")
        error = body.get("error")
        if message is None and isinstance(error, Mapping):
            message = error.get("message")
        code = body.get("code")
        return str(message or response.reason or "error"), code if isinstance(code, int) else None
    return response.reason or "error", None
