"""The transport: retries, backoff, Retry-After, no retry where it cannot help, key hygiene."""

from __future__ import annotations

import logging

import pytest
import requests
import responses

from router import (
    Attempt,
    AuthenticationError,
    BadRequestError,
    BadResponseError,
    GatewayClient,
    GatewayConnectionError,
    InsufficientBalanceError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from router.gateway.client import _retry_after

BASE = "https://gateway.test/serve/api/v2"
URL = BASE + "/iu/chat/completions"
KEY = "sk-mavi-SECRET-123"
BODY = {"model": "qwen:qwen3-vl-plus", "messages": [{"role": "user", "content": "hi"}]}
OK = {
    "object": "completion",
    "model": "qwen3-vl-plus",
    "status": "completed",
    "choices": [{"text": "hello", "index": 0}],
    "usage": {"input_tokens": 9, "output_tokens": 2, "total_tokens": 11},
}


class FakeTime:
    """A clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client(fake: FakeTime, retry: RetryPolicy | None = None) -> GatewayClient:
    return GatewayClient(
        KEY, BASE, retry=retry, clock=fake.clock, sleep=fake.sleep, rand=lambda: 0.5
    )


@responses.activate
def test_success_sends_raw_key_and_timeouts() -> None:
    """One POST with the raw key (no Bearer), JSON body and explicit connect/read timeouts."""
    responses.post(URL, json=OK)
    attempts: list[Attempt] = []
    completion = client(FakeTime()).complete(BODY, attempts)
    assert completion.text == "hello"
    sent = responses.calls[0].request
    assert sent.headers["Authorization"] == KEY
    assert [a.status for a in attempts] == [200]


@responses.activate
def test_429_with_retry_after_then_success() -> None:
    """Two 429s (one with Retry-After: 3) then 200: three attempts, the header's pause honoured."""
    responses.post(
        URL, status=429, json={"code": 429, "msg": "slow down"}, headers={"Retry-After": "3"}
    )
    responses.post(URL, status=429, json={"code": 429, "msg": "slow down"})
    responses.post(URL, json=OK)
    fake = FakeTime()
    attempts: list[Attempt] = []
    client(fake).complete(BODY, attempts)
    assert [a.status for a in attempts] == [429, 429, 200]
    assert attempts[0].retry_after == 3.0
    assert fake.sleeps == [3.0, 1.5]  # Retry-After, then 2 s step with half jitter (rand=0.5)


@responses.activate
def test_500_then_success_and_backoff_doubles() -> None:
    """5xx is retried with exponential backoff (1 s, 2 s, 4 s base steps, half jittered)."""
    for _ in range(3):
        responses.post(URL, status=503, json={"code": 500, "msg": "busy"})
    responses.post(URL, json=OK)
    fake = FakeTime()
    attempts: list[Attempt] = []
    client(fake).complete(BODY, attempts)
    assert fake.sleeps == [0.75, 1.5, 3.0]
    assert len(attempts) == 4


@responses.activate
@pytest.mark.parametrize(
    ("status", "error"),
    [(400, BadRequestError), (401, AuthenticationError), (402, InsufficientBalanceError)],
)
def test_client_errors_are_not_retried(status: int, error: type[Exception]) -> None:
    """400, 401 and 402 fail at once with the gateway's message and code."""
    responses.post(URL, status=status, json={"code": status, "msg": "nope", "data": None})
    fake = FakeTime()
    attempts: list[Attempt] = []
    with pytest.raises(error) as info:
        client(fake).complete(BODY, attempts)
    assert len(responses.calls) == 1
    assert fake.sleeps == []
    assert info.value.status == status  # type: ignore[attr-defined]  # GatewayError subclasses
    assert "nope" in str(info.value)


@responses.activate
def test_retries_are_bounded_in_attempts_and_time() -> None:
    """A model that keeps failing stops after the attempt limit, or sooner on the time budget."""
    responses.post(URL, status=500, json={"code": 500, "msg": "down"})
    fake = FakeTime()
    with pytest.raises(ServerError):
        client(fake, RetryPolicy(attempts=3)).complete(BODY, [])
    assert len(responses.calls) == 3
    responses.calls.reset()
    responses.replace(responses.POST, URL, status=429, json={}, headers={"Retry-After": "100"})
    with pytest.raises(RateLimitError):
        client(FakeTime(), RetryPolicy(total_seconds=30)).complete(BODY, [])
    assert len(responses.calls) == 1  # waiting 100 s would exceed the 30 s budget


@responses.activate
def test_unsent_failures_are_retried_and_lost_answers_are_not() -> None:
    """A connection never made (refused, connect timeout) sent nothing, so it is retried and
    ends as GatewayConnectionError; a read timeout or a reset after sending is AnswerLostError
    at once: the gateway may have charged it (billed, not retried on one reservation)."""
    from urllib3.exceptions import NewConnectionError

    from router import AnswerLostError

    refused = requests.ConnectionError(NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]  # the connection object is not needed
    responses.post(URL, body=refused)
    responses.post(URL, json=OK)
    attempts: list[Attempt] = []
    client(FakeTime()).complete(BODY, attempts)
    assert [a.error for a in attempts] == ["ConnectionError", None]
    responses.replace(responses.POST, URL, body=requests.ConnectTimeout("x"))
    with pytest.raises(GatewayConnectionError, match="ConnectTimeout") as unsent:
        client(FakeTime(), RetryPolicy(attempts=2)).complete(BODY, [])
    assert not unsent.value.charged
    for lost in (requests.ReadTimeout("slow"), requests.ConnectionError("reset by peer")):
        responses.replace(responses.POST, URL, body=lost)
        attempts = []
        with pytest.raises(AnswerLostError) as info:
            client(FakeTime()).complete(BODY, attempts)
        assert info.value.charged
        assert len(attempts) == 1


@responses.activate
def test_non_json_body_is_a_bad_response() -> None:
    """HTTP 200 that is not JSON is BadResponseError (not retried: the call may be billed)."""
    responses.post(URL, body=b"<html>oops</html>", status=200)
    with pytest.raises(BadResponseError, match="not JSON"):
        client(FakeTime()).complete(BODY, [])
    assert len(responses.calls) == 1


@responses.activate
def test_api_key_never_in_repr_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    """The key appears in no repr, no error message and no log record."""
    responses.post(URL, status=500, json={"code": 500, "msg": "down"})
    responses.post(URL, status=401, json={"code": 401, "msg": "expired"})
    gateway = client(FakeTime())
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationError) as info:
        gateway.complete(BODY, [])
    for text in (repr(gateway), str(info.value), repr(info.value), caplog.text):
        assert KEY not in text
    assert "MEMORIES_API_KEY" in str(info.value)


def test_retry_after_forms() -> None:
    """Retry-After as seconds or an HTTP date; garbage is ignored."""
    assert _retry_after("7") == 7.0
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10.0
    assert _retry_after("soon") is None
    assert _retry_after(None) is None


def test_missing_key_is_refused() -> None:
    """No key, no client: the error says which variable to set."""
    with pytest.raises(Exception, match="MEMORIES_API_KEY"):
        GatewayClient("", BASE)
