"""Calls through a real HTTP server on loopback that answers as the gateway's seeds document."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pricing import Catalog, Usage, price
from router import (
    AuthenticationError,
    BadResponseError,
    GatewayClient,
    InsufficientBalanceError,
    Policy,
    Request,
    RetryPolicy,
    Router,
)

from .conftest import ROOT, RunCli
from .gateway_server import API_KEY, FakeGateway, Fault

IMAGE = ROOT / "examples" / "chart.png"
CATALOG = Catalog.bundled()


def make_router(
    gateway: FakeGateway, *, key: str = API_KEY, timeout: float = 5.0, attempts: int = 4
) -> Router:
    client = GatewayClient(
        key,
        gateway.base_url,
        timeout=(1.0, timeout),
        retry=RetryPolicy(attempts=attempts, base=0.01),
        sleep=lambda s: None,
    )
    return Router(catalog=CATALOG, client=client)


@pytest.mark.parametrize(
    ("model", "served"),
    [
        ("gpt:gpt-4o", "gpt:gpt-4o-2024-08-06"),
        ("qwen:qwen3-vl-plus", "qwen:qwen3-vl-plus"),
        ("gemini:gemini-2.5-flash", "gemini:gemini-2.5-flash"),
    ],
)
def test_one_call_per_provider_is_metered_at_the_served_snapshot(
    gateway: FakeGateway, model: str, served: str
) -> None:
    """The body passes the provider's checks; cost = catalog price of the returned usage at the
    snapshot the gateway named."""
    request = Request.from_prompt("What is in the picture?", [IMAGE], max_tokens=200)
    result = make_router(gateway).call(request, model=model)
    sent = gateway.received[-1].body
    assert sent["model"] == model
    assert result.served_model == served
    tokens_in, tokens_out = gateway.usage_for(sent)
    assert result.usage == Usage(tokens_in, tokens_out)
    assert result.cost == price(CATALOG.get(served), Usage(tokens_in, tokens_out)).total
    assert result.metered
    assert result.text == f"answer 0 from {model}"


def test_two_429s_then_success_is_one_metered_call(gateway: FakeGateway) -> None:
    """Retries are visible as attempts; the call is metered once."""
    gateway.queue(Fault("429", retry_after="0"), Fault("429"))
    result = make_router(gateway).call(Request.from_prompt("hi"), model="gpt:gpt-4o")
    assert [a.status for a in result.attempts] == [429, 429, 200]
    assert result.metered
    assert len(gateway.received) == 3


def test_dead_model_falls_back_to_the_next_candidate(gateway: FakeGateway) -> None:
    """When the cheapest model keeps failing, the next ranked candidate answers."""
    router = make_router(gateway, attempts=2)
    request = Request.from_prompt("hi", max_tokens=50)
    decision = router.plan(request, Policy(providers=["gpt"]))
    first, second = decision.candidates[0].model, decision.candidates[1].model
    gateway.dead.add(first)
    result = router.call(request, Policy(providers=["gpt"]))
    assert result.model == second
    assert [(a.model, a.status) for a in result.attempts] == [
        (first, 500),
        (first, 500),
        (second, 200),
    ]


def test_401_is_not_retried_nor_fallen_back(gateway: FakeGateway) -> None:
    """A bad key fails at once: one request, AuthenticationError, no other model tried."""
    with pytest.raises(AuthenticationError):
        make_router(gateway, key="sk-wrong").call(Request.from_prompt("hi"))
    assert len(gateway.received) == 1


def test_402_is_not_fallen_back(gateway: FakeGateway) -> None:
    """Insufficient balance would fail on every model: it is raised, not fallen back."""
    gateway.queue(Fault("402"))
    with pytest.raises(InsufficientBalanceError):
        make_router(gateway).call(Request.from_prompt("hi"))
    assert len(gateway.received) == 1


def test_an_answer_slower_than_the_read_timeout_is_billed_and_falls_back(
    gateway: FakeGateway,
) -> None:
    """A read timeout after sending may have been charged: that attempt is recorded at its
    worst case, and the call falls back to the next model under a new reservation."""
    from router import MemoryLedger

    ledger = MemoryLedger()
    router = make_router(gateway, timeout=0.3)
    router.ledger = ledger
    gateway.queue(Fault("slow", seconds=1.5))
    result = router.call(Request.from_prompt("hi"))
    lost, answered = result.attempts
    assert (lost.error, lost.cost) == ("ReadTimeout", ledger.rows()[0].cost)
    assert answered.error is None
    assert lost.model != answered.model == result.model
    rows = sorted(ledger.rows(), key=lambda r: r.attempt)
    assert [(r.attempt, r.status) for r in rows] == [(1, "unmetered"), (2, "ok")]
    assert rows[0].cost == rows[0].estimate_high > 0
    assert "no usable answer" in rows[0].note


def test_missing_usage_is_billed_at_the_worst_case(gateway: FakeGateway) -> None:
    """No usage in the answer: cost = the estimate's high, marked unmetered, never free."""
    gateway.queue(Fault("no_usage"))
    result = make_router(gateway).call(Request.from_prompt("hi"), model="qwen:qwen-vl-plus")
    assert not result.metered
    assert result.status == "unmetered"
    assert result.cost == result.estimate.cost.high
    assert result.cost > 0


@pytest.mark.parametrize("kind", ["non_json", "wrong_shape", "errored"])
def test_unusable_answers_fall_back(gateway: FakeGateway, kind: str) -> None:
    """A 200 that is not JSON, the wrong shape or errored is an error; the next model answers."""
    router = make_router(gateway)
    request = Request.from_prompt("hi")
    first = router.plan(request).model
    gateway.queue(Fault(kind, model=first))
    result = router.call(request)
    assert result.model != first
    assert result.attempts[0].status == 200
    assert result.attempts[0].error is not None
    only = Policy(models=[first])
    gateway.queue(Fault(kind, model=first))
    with pytest.raises(BadResponseError):
        router.call(request, only)


def test_stream_yields_text_and_meters_at_the_end(gateway: FakeGateway) -> None:
    """Streamed text arrives in pieces; without a usage event the call is billed worst-case."""
    router = make_router(gateway)
    stream = router.stream(Request.from_prompt("hi"), model="gpt:gpt-4o")
    assert list(stream) == ["Hello", " from", " the", " stream"]
    assert stream.result is not None
    assert not stream.result.metered
    assert stream.result.cost == stream.result.estimate.cost.high
    assert stream.result.text == "Hello from the stream"


def test_stream_with_a_usage_event_is_metered() -> None:
    """When the stream ends with usage, the call is priced from it."""
    with FakeGateway(stream_usage=True) as gateway:
        stream = make_router(gateway).stream(Request.from_prompt("hi"), model="qwen:qwen3-vl-flash")
        assert "".join(stream) == "Hello from the stream"
        assert stream.result is not None
        assert stream.result.metered
        usage = stream.result.usage
        assert usage is not None
        assert stream.result.cost == price(CATALOG.get("qwen:qwen3-vl-flash"), usage).total


@pytest.fixture
def cli_env(gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch) -> FakeGateway:
    monkeypatch.setenv("MEMORIES_API_KEY", API_KEY)
    monkeypatch.setenv("MEMORIES_BASE_URL", gateway.base_url)
    return gateway


@pytest.mark.parametrize(
    ("model", "served", "part"),
    [
        ("gpt:gpt-4o", "gpt:gpt-4o-2024-08-06", "image_url"),
        ("qwen:qwen3-vl-plus", "qwen:qwen3-vl-plus", "image"),
        ("gemini:gemini-2.5-flash", "gemini:gemini-2.5-flash", "input_file"),
    ],
)
def test_cli_call_per_provider(
    run_cli: RunCli, cli_env: FakeGateway, model: str, served: str, part: str
) -> None:
    """`costrouter call --model M --json` sends that provider's shape and prints the metered cost."""
    result = run_cli(
        "call",
        "--model",
        model,
        "--prompt",
        "Describe.",
        "--image",
        str(IMAGE),
        "--user",
        "alice",
        "--tag",
        "team=vision",
        "--json",
    )
    assert result.code == 0, result.err
    doc = result.json()
    sent = cli_env.received[-1].body
    image = sent["messages"][0]["content"][1]
    assert part in (image.get("type"), *image)
    usage = Usage(*cli_env.usage_for(sent))
    assert doc["served_model"] == served
    assert Decimal(doc["cost"]) == price(CATALOG.get(served), usage).total
    assert doc["usage"]["input_tokens"] == usage.input_tokens
    assert doc["tags"] == {"team": "vision", "user": "alice"}
    assert doc["status"] == "ok"


def test_cli_retries_and_fallback(run_cli: RunCli, cli_env: FakeGateway) -> None:
    """Through the CLI: two 429s then success show three attempts; a dead model falls back."""
    cli_env.queue(Fault("429", retry_after="0"), Fault("429", retry_after="0"))
    doc = run_cli("call", "--model", "gpt:gpt-4o", "--prompt", "hi", "--json").json()
    assert [a["status"] for a in doc["attempts"]] == [429, 429, 200]
    first = run_cli("route", "--prompt", "hi", "--json").json()["model"]
    cli_env.dead.add(first)
    doc = run_cli("call", "--prompt", "hi", "--retries", "1", "--json").json()
    assert doc["model"] != first
    assert doc["attempts"][0] == {**doc["attempts"][0], "model": first, "status": 500}


def test_cli_401_exits_5_with_one_line(
    run_cli: RunCli, cli_env: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rejected key exits 5 with one error line after the one line of its failed attempt, no
    traceback, no retry; the key is not echoed; --json prints no attempt lines."""
    monkeypatch.setenv("MEMORIES_API_KEY", "sk-mavi-wrong-key")
    result = run_cli("call", "--prompt", "hi")
    assert result.code == 5
    attempt, error = result.err.splitlines()
    assert attempt.startswith("costrouter: gemini:")
    assert "HTTP 401" in attempt
    assert error.startswith("costrouter: error: ")
    assert "401" in error
    assert run_cli("call", "--prompt", "hi", "--json").err.count("\n") == 1
    assert "sk-mavi-wrong-key" not in result.err
    assert len(cli_env.received) == 2  # one call each: 401 is neither retried nor fallen back


def test_cli_call_without_key_exits_2(run_cli: RunCli) -> None:
    """No MEMORIES_API_KEY: exit 2 saying what to set, nothing sent."""
    result = run_cli("call", "--prompt", "hi")
    assert result.code == 2
    assert "MEMORIES_API_KEY" in result.err


def test_stream_falls_back_before_the_first_byte(gateway: FakeGateway) -> None:
    """A stream whose first model answers 500 records the attempt and streams from the next."""
    router = make_router(gateway)
    request = Request.from_prompt("hi")
    first = router.plan(request).model
    gateway.dead.add(first)
    stream = router.stream(request)
    assert "".join(stream) == "Hello from the stream"
    assert stream.result is not None
    assert stream.result.model != first
    failed = stream.result.attempts[0]
    assert (failed.model, failed.status) == (first, 500)
