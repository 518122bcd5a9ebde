"""Money on the failure paths: one case per way a gateway misbehaves, on every ledger backend.

Each case sends one routed call through the real client to the loopback gateway with one fault
queued, and checks what the gateway received, which rows were written, that every request the
gateway processed (and so may have charged) is recorded at no less than its real price, that
no hold is left behind, and what the caller got back. The rule: an attempt the gateway may
have charged is recorded once, never free; one it provably did not process costs nothing.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import attrs
import pytest

from pricing import Catalog, Usage, price
from router import (
    AnswerLostError,
    BadResponseError,
    GatewayClient,
    GatewayError,
    Ledger,
    Request,
    RetryPolicy,
    Router,
)

from .conftest import RunCli
from .gateway_server import API_KEY, FakeGateway, Fault

CATALOG = Catalog.bundled()
REQUEST = Request.from_prompt("Describe the sea in one line.", max_tokens=100)


@attrs.frozen
class Case:
    """A fault, and what must follow: requests the gateway receives, the statuses of the rows
    (in attempt order), and the error the call raises (None: it answers)."""

    fault: Fault | None
    requests: int
    rows: tuple[str, ...]
    error: type[GatewayError] | None = None
    model: str | None = None  # pin a model (no fallback)
    note: str = ""  # words the first billed row's note holds


CASES = {
    "answered": Case(None, 1, ("ok",)),
    "read timeout after sending": Case(Fault("slow", seconds=1.0), 2, ("unmetered", "ok")),
    "reset after reading the request": Case(Fault("reset"), 2, ("unmetered", "ok")),
    "truncated body": Case(Fault("truncated"), 2, ("unmetered", "ok")),
    "short body": Case(Fault("short"), 2, ("unmetered", "ok")),
    "wrong shape": Case(Fault("wrong_shape"), 2, ("unmetered", "ok")),
    "not JSON": Case(Fault("non_json"), 2, ("unmetered", "ok")),
    "errored 200": Case(Fault("errored"), 2, ("unmetered", "ok")),
    "400 invalid parameters": Case(Fault("400"), 1, ("error",), GatewayError),
    "401": Case(Fault("401"), 1, ("error",), GatewayError),
    "402": Case(Fault("402"), 1, ("error",), GatewayError),
    "429 short Retry-After": Case(Fault("429", retry_after="1"), 2, ("ok",)),
    "429 long Retry-After": Case(Fault("429", retry_after="3600"), 1, ("error",), GatewayError),
    "500": Case(Fault("500"), 2, ("ok",)),
    "502": Case(Fault("502"), 2, ("ok",)),
    "no usage": Case(Fault("no_usage"), 1, ("unmetered",)),
    "over-reported usage": Case(
        Fault("usage", usage=(40, 3_000)), 1, ("ok",), note="above the reservation"
    ),
    "absurd usage": Case(
        Fault("usage", usage=(10**15, 10)), 1, ("unmetered",), note="cannot be read or be real"
    ),
    "usage past the last tier": Case(
        Fault("usage", usage=(257_000, 10)),
        1,
        ("ok",),
        model="qwen:qwen3-vl-plus",
        note="past the last tier",
    ),
    "a dearer snapshot served": Case(
        Fault("served", served="gpt-4o-2024-05-13"), 1, ("ok",), model="gpt:gpt-4o"
    ),
}


def make_router(gateway: FakeGateway, ledger: Ledger) -> Router:
    client = GatewayClient(
        API_KEY,
        gateway.base_url,
        timeout=(1.0, 0.3),
        retry=RetryPolicy(attempts=2, base=0.01),
        sleep=lambda seconds: None,
    )
    return Router(client=client, ledger=ledger)


def charge(gateway: FakeGateway, case: Case, index: int) -> Decimal | None:
    """What the gateway may have charged for the index-th request it received: None if it
    refused it with an error envelope (nothing processed), else at least its real usage (or
    the usage the fault reports) priced at the model asked (0 when that usage is not real)."""
    body = gateway.received[index].body
    fault = case.fault if index == 0 else None
    if fault is not None and fault.kind.isdigit():
        return None
    tokens = fault.usage if fault is not None and fault.kind == "usage" else None
    tokens_in, tokens_out = tokens or gateway.usage_for(body)
    if tokens_in > 10**9:
        return Decimal(0)  # not a usage any call could have: what it cost is unknown
    return price(CATALOG.get(body["model"]), Usage(tokens_in, tokens_out), past_last=True).total


@pytest.mark.parametrize("name", CASES)
def test_every_fault_is_billed_by_the_one_rule(name: str, ledger: Ledger) -> None:
    """See the module docstring; the table names each case."""
    case = CASES[name]
    with FakeGateway() as gateway:
        if case.fault is not None:
            gateway.queue(case.fault)
        router = make_router(gateway, ledger)
        if case.error is None:
            result = router.call(REQUEST, model=case.model)
            assert result.attempts[-1].cost == result.cost
        else:
            with pytest.raises(case.error) as info:
                router.call(REQUEST, model=case.model)
            assert info.value.attempts
        received = len(gateway.received)
        charges = [charge(gateway, case, i) for i in range(received)]
    assert received == case.requests
    rows = sorted(ledger.rows(), key=lambda r: r.attempt)
    assert tuple(r.status for r in rows) == case.rows
    billed = [r for r in rows if r.status != "error"]
    charged = [least for least in charges if least is not None]
    assert len(billed) == len(charged)  # one row per request the gateway may have charged
    for row, least in zip(billed, charged, strict=True):
        assert row.cost >= least, (row, least)
    assert all(r.cost == 0 for r in rows if r.status == "error")
    if case.note:
        assert case.note in billed[0].note
    assert all(status.reserved == 0 for status in ledger.status(time.time()))
    assert all(status.reserved == 0 for status in ledger.status(time.time() + 400))


def test_a_cut_stream_and_an_abandoned_one_are_billed_at_once(ledger: Ledger) -> None:
    """A stream cut after it began raises AnswerLostError with its text so far billed at the
    worst case; a stream closed by its reader before the end is billed the same way."""
    with FakeGateway() as gateway:
        router = make_router(gateway, ledger)
        gateway.queue(Fault("cut_stream"))
        stream = router.stream(REQUEST, model="qwen:qwen-vl-plus")
        pieces: list[str] = []
        with pytest.raises(AnswerLostError, match="cut"):
            pieces.extend(stream)
        assert pieces == ["Hello", " from"]
        assert stream.result is not None
        assert "cut" in stream.result.note
        with router.stream(REQUEST, model="qwen:qwen-vl-plus") as abandoned:
            next(iter(abandoned))
        assert abandoned.result is not None
        assert "closed before its end" in abandoned.result.note
    rows = ledger.rows()
    assert [r.status for r in rows] == ["unmetered", "unmetered"]
    assert all(r.cost == r.estimate_high > 0 for r in rows)
    assert all(status.reserved == 0 for status in ledger.status(time.time()))


def test_a_settlement_that_fails_keeps_the_answer_and_bills_the_hold(ledger: Ledger) -> None:
    """When recording fails after the gateway answered, the caller gets the answer with
    UnrecordedCallError, and the hold, marked sent, is billed at its worst case later."""
    from router import LedgerError, UnrecordedCallError

    class Failing:
        def __init__(self, inner: Ledger) -> None:
            self.inner = inner

        def settle(self, row: Any, now: float) -> bool:
            raise LedgerError("disk full")

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    with FakeGateway() as gateway:
        router = make_router(gateway, ledger)
        router.ledger = Failing(ledger)  # type: ignore[assignment]  # a ledger whose settle fails
        with pytest.raises(UnrecordedCallError) as info:
            router.call(REQUEST, model="qwen:qwen-vl-plus")
    result = info.value.result
    assert result.text.startswith("answer 0 from")
    assert ledger.rows() == []  # not recorded: the hold, marked sent, waits its time
    ledger.reserve("next", Decimal(0), {}, time.time() + 400)
    (orphan,) = ledger.rows()
    assert (orphan.status, orphan.cost) == ("orphaned", result.estimate.cost.high)


def test_a_locked_ledger_file_keeps_the_answer_and_bills_the_hold(tmp_path: Any) -> None:
    """A real lock: another connection holds the SQLite file's exclusive lock while the answered
    call is settled (busy timeout 0.1 s). The caller gets the answer with UnrecordedCallError;
    once the lock is gone the hold, marked sent, is billed at its worst case, never free."""
    import sqlite3

    from router import SQLiteLedger, UnrecordedCallError

    path = tmp_path / "ledger.db"
    ledger = SQLiteLedger(str(path))
    real_settle = ledger.settle
    blocker = sqlite3.connect(path, isolation_level=None)

    def settle_while_locked(row: Any, now: float) -> bool:
        ledger._connection()[0].execute("PRAGMA busy_timeout = 100")
        blocker.execute("BEGIN EXCLUSIVE")  # the ledger's writer now finds the file locked
        return real_settle(row, now)

    ledger.settle = settle_while_locked  # type: ignore[method-assign]  # times the lock
    with FakeGateway() as gateway:
        router = make_router(gateway, ledger)
        with pytest.raises(UnrecordedCallError, match="locked") as info:
            router.call(REQUEST, model="qwen:qwen-vl-plus")
        served = len(gateway.received)
    blocker.execute("ROLLBACK")
    blocker.close()
    result = info.value.result
    assert served == 1
    assert result.text.startswith("answer 0 from")
    assert ledger.rows() == []
    ledger.reserve("next", Decimal(0), {}, time.time() + 400)  # after the hold's time
    (orphan,) = ledger.rows()
    assert (orphan.status, orphan.cost) == ("orphaned", result.estimate.cost.high)
    ledger.close()


def test_bad_response_errors_are_charged_and_connection_errors_are_not() -> None:
    """The classes say which failures may have been charged (the Router bills by it)."""
    from router import GatewayConnectionError, ServerError

    assert AnswerLostError.charged
    assert BadResponseError.charged
    assert not GatewayConnectionError.charged
    assert not ServerError.charged


@pytest.mark.parametrize("name", [n for n in CASES if CASES[n].model is None])
def test_the_command_line_answers_every_fault_with_its_exit_code_and_one_error_line(
    name: str, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`costrouter call` against each fault: exit 0 with the answer, or 5 with one line per
    failed attempt and one error line; never a traceback; the rows as in the library."""
    case = CASES[name]
    with FakeGateway() as gateway:
        monkeypatch.setenv("MEMORIES_API_KEY", API_KEY)
        monkeypatch.setenv("MEMORIES_BASE_URL", gateway.base_url)
        if case.fault is not None:
            gateway.queue(case.fault)
        result = run_cli(
            "call", "--prompt", "Describe the sea in one line.", "--max-tokens", "100",
            "--timeout", "0.3", "--retries", "2",
        )  # fmt: skip
        received = len(gateway.received)
    assert "Traceback" not in result.err
    lines = [line for line in result.err.splitlines() if line]
    if case.error is None:
        assert result.code == 0, result.err
        assert lines[-1].startswith("-- ")
    else:
        assert result.code == 5
        assert lines[-1].startswith("costrouter: error: ")
    assert all(line.startswith(("costrouter: ", "-- ")) for line in lines)
    assert received == case.requests
    assert run_cli("report", "--json").json()["total"]["calls"] == len(case.rows)


def test_a_trickling_answer_cannot_outlast_the_calls_deadline(ledger: Ledger) -> None:
    """An answer sent a byte every 0.05 s (each read well inside the 0.3 s read timeout, the
    whole body many seconds long) ends at the call's 1 s deadline: AnswerLostError, billed at
    the worst case, and the caller waited about the deadline, not the body's length."""
    with FakeGateway() as gateway:
        client = GatewayClient(
            API_KEY, gateway.base_url, timeout=(1.0, 0.3), retry=RetryPolicy(attempts=1)
        )
        router = Router(client=client, ledger=ledger, deadline=1.0)
        gateway.queue(Fault("trickle", seconds=0.05))
        started = time.monotonic()
        with pytest.raises(AnswerLostError, match="deadline"):
            router.call(REQUEST, model="qwen:qwen-vl-plus")
        waited = time.monotonic() - started
    assert waited < 2.5
    lost, failed = sorted(ledger.rows(), key=lambda r: r.attempt)
    assert (lost.status, lost.cost) == ("unmetered", lost.estimate_high)
    assert "deadline" in lost.note
    assert (failed.status, failed.cost) == ("error", 0)


def test_a_connection_never_made_is_retried_and_costs_nothing(ledger: Ledger) -> None:
    """A gateway that refuses connections (nothing listening): nothing was sent, so the tries
    are retried and fall back, and the call's only row is its error, at no cost."""
    from router import GatewayConnectionError

    client = GatewayClient(
        API_KEY,
        "http://127.0.0.1:9",
        retry=RetryPolicy(attempts=2, base=0.01),
        sleep=lambda s: None,
    )
    router = Router(client=client, ledger=ledger)
    with pytest.raises(GatewayConnectionError) as info:
        router.call(REQUEST)
    assert len(info.value.attempts) == 6  # 3 models x 2 tries
    assert all(a.cost == 0 for a in info.value.attempts)
    (row,) = ledger.rows()
    assert (row.status, row.cost) == ("error", 0)
    assert all(status.reserved == 0 for status in ledger.status(time.time()))


def test_an_interrupt_after_sending_leaves_the_call_billed(ledger: Ledger) -> None:
    """Ctrl-C while the request is out: the interrupt propagates, the hold stays marked sent,
    and the next write after its time bills the call at its worst case."""
    from router.testing import FakeClient

    class Interrupted(FakeClient):
        def complete(self, body: Any, attempts: Any, *, seconds: float | None = None) -> Any:
            self.sent.append(body)
            raise KeyboardInterrupt

    client = Interrupted()
    router = Router(client=client, ledger=ledger)
    with pytest.raises(KeyboardInterrupt):
        router.call(REQUEST, model="qwen:qwen-vl-plus")
    assert ledger.rows() == []
    ledger.reserve("next", Decimal(0), {}, time.time() + 400)
    (orphan,) = ledger.rows()
    assert orphan.status == "orphaned"
    assert orphan.cost > 0


def test_no_read_waits_past_the_calls_deadline(ledger: Ledger) -> None:
    """A gateway slower to answer than the call's 0.5 s deadline, with a 10 s read timeout: the
    wait for the answer's headers is cut at the deadline too (AnswerLostError, billed)."""
    with FakeGateway() as gateway:
        client = GatewayClient(
            API_KEY, gateway.base_url, timeout=(1.0, 10.0), retry=RetryPolicy(attempts=1)
        )
        router = Router(client=client, ledger=ledger, deadline=0.5)
        gateway.queue(Fault("slow", seconds=3.0))
        started = time.monotonic()
        with pytest.raises(AnswerLostError):
            router.call(REQUEST, model="qwen:qwen-vl-plus")
        assert time.monotonic() - started < 2.0
    assert [r.status for r in sorted(ledger.rows(), key=lambda r: r.attempt)] == [
        "unmetered",
        "error",
    ]
