"""Budgets in tokens and requests: what a call holds and counts in each unit, on every backend,
beside a USD budget of the same scope and period; and a per-minute request limit shared by 8
processes."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router import Budget, BudgetExceededError, InputError, LeasedLedger, Ledger, ledger_from_url
from router.ledger.budgets import BudgetStatus
from router.ledger.calendar import window_key
from router.report.insights import burn

from .conftest import RunCli
from .gateway_server import API_KEY, FakeGateway
from .test_budget_router import REQUEST, make_router
from .test_ledger_contract import ALICE, NOW, row

MINUTE = NOW - NOW % 60  # 15:00:00 UTC, a minute window's first instant


def status_of(ledger: Ledger, unit: str, now: float = NOW) -> tuple[Decimal, Decimal]:
    (found,) = [s for s in ledger.status(now) if s.budget.unit == unit]
    return found.spent, found.reserved


def test_a_unit_is_checked_and_a_count_is_whole() -> None:
    """A budget's unit is usd, tokens or requests; a count limit is a whole number; the stored
    period key keeps the units of one scope and period apart."""
    requests = Budget.parse("global", "600", period="minute", unit="requests")
    assert requests.key == ("global", "minute/requests")
    assert Budget.parse("global", "5", period="minute").key == ("global", "minute")
    assert requests.show(Decimal(1200)) == "1,200 requests"
    assert requests.show(Decimal(1)) == "1 request"
    assert Budget.parse("global", "0.25").show(Decimal("0.25")) == "$0.25"
    with pytest.raises(InputError, match="whole number"):
        Budget.parse("global", "1.5", unit="requests")
    with pytest.raises(InputError, match="usd, tokens, requests"):
        Budget.parse("global", "1", unit="calls")
    with pytest.raises(InputError, match="amount of tokens"):
        Budget.parse("global", "lots", unit="tokens")


def test_a_request_limit_admits_that_many_calls_a_minute(ledger: Ledger) -> None:
    """Three requests a minute: the fourth reservation in the minute is refused (saying it is a
    request limit), holding nothing; settled calls keep counting; the next minute admits again."""
    ledger.set_budget(Budget.parse("global", "3", period="minute", unit="requests"))
    for index in range(3):
        ledger.reserve(f"c{index}", Decimal("0.01"), ALICE, MINUTE + index, sent=True)
    ledger.settle(row("c0", "0.002", ts=MINUTE), MINUTE + 5)
    with pytest.raises(BudgetExceededError, match=r"minute, requests.*limit 3 requests"):
        ledger.reserve("c3", Decimal("0.01"), ALICE, MINUTE + 30, sent=True)
    assert status_of(ledger, "requests", MINUTE + 30) == (1, 2)
    ledger.reserve("c4", Decimal("0.01"), ALICE, MINUTE + 60, sent=True)  # the next minute
    assert status_of(ledger, "requests", MINUTE + 60) == (0, 1)
    assert status_of(ledger, "requests", MINUTE + 59) == (1, 2)  # the first minute as it was


def test_each_unit_counts_its_own_amount_on_one_scope_and_period(ledger: Ledger) -> None:
    """USD, tokens and requests a minute on one scope: a reservation holds the worst case in
    each unit; a settlement counts the cost, the reported tokens and one request, and frees the
    rest; the USD limit alone is what ``allowance`` reports."""
    for limit, unit in (("1", "usd"), ("10000", "tokens"), ("100", "requests")):
        ledger.set_budget(Budget.parse("user=alice", limit, period="minute", unit=unit))
    reservation = ledger.reserve("a", Decimal("0.05"), ALICE, NOW, sent=True, tokens=4000)
    assert sorted((h.period, h.amount) for h in reservation.holds) == [
        ("minute", Decimal("0.05")),
        ("minute/requests", Decimal(1)),
        ("minute/tokens", Decimal(4000)),
    ]
    assert (status_of(ledger, "tokens"), status_of(ledger, "requests")) == ((0, 4000), (0, 1))
    with pytest.raises(BudgetExceededError, match="tokens"):
        ledger.reserve("b", Decimal("0.05"), ALICE, NOW, sent=True, tokens=6001)
    assert ledger.allowance(ALICE, NOW) == Decimal("0.95")
    ledger.settle(row("a", "0.003"), NOW)  # 1,200 input + 300 output tokens reported
    assert status_of(ledger, "usd") == (Decimal("0.003"), 0)
    assert status_of(ledger, "tokens") == (1500, 0)
    assert status_of(ledger, "requests") == (1, 0)
    assert [b.unit for b in ledger.budgets()] == ["usd", "requests", "tokens"]


def test_calls_without_usage_count_their_worst_case_tokens_and_errors_count_nothing(
    ledger: Ledger,
) -> None:
    """An answer without usage counts the tokens it held (as money is billed at the worst
    case); a call the gateway did not charge (an error row) counts no tokens and no request;
    a call sent and never settled is billed by the sweep at what it held in each unit."""
    ledger.set_budget(Budget.parse("global", "100000", period="day", unit="tokens"))
    ledger.set_budget(Budget.parse("global", "100", period="day", unit="requests"))
    ledger.reserve("lost", Decimal("0.05"), ALICE, NOW, sent=True, tokens=5000)
    ledger.settle(row("lost", "0.05", status="unmetered"), NOW)
    ledger.reserve("failed", Decimal("0.05"), ALICE, NOW, sent=True, tokens=7000)
    ledger.release("failed", NOW, row("failed", "0", status="error"))
    assert status_of(ledger, "tokens") == (5000, 0)
    assert status_of(ledger, "requests") == (1, 0)
    ledger.reserve("dead", Decimal("0.05"), ALICE, NOW, 10.0, sent=True, tokens=3000)
    ledger.reserve("later", Decimal("0.05"), ALICE, NOW + 20, sent=True, tokens=10)  # sweeps
    assert status_of(ledger, "tokens", NOW + 20) == (8000, 10)
    assert status_of(ledger, "requests", NOW + 20) == (2, 1)
    assert [r.status for r in ledger.rows() if r.call_id == "dead"] == ["orphaned"]


def test_budgets_are_deleted_by_unit(ledger: Ledger) -> None:
    """delete_budget takes a unit as it takes a period (None: every one)."""
    for unit in ("usd", "tokens", "requests"):
        ledger.set_budget(Budget.parse("global", "100", period="minute", unit=unit))
    assert ledger.delete_budget("global", "minute", "tokens") == 1
    assert [b.unit for b in ledger.budgets()] == ["usd", "requests"]
    assert ledger.delete_budget("global", unit="usd") == 1
    assert ledger.delete_budget("global") == 1
    assert ledger.budgets() == []


def test_request_alerts_fire_in_requests(ledger: Ledger) -> None:
    """An alert on a request budget is a share of its count; it fires once per window."""
    ledger.set_budget(Budget.parse("global", "4", period="minute", unit="requests", alerts="50"))
    for index in range(2):
        ledger.reserve(f"c{index}", Decimal("0.01"), ALICE, MINUTE, sent=True)
        ledger.settle(row(f"c{index}", "0.001", ts=MINUTE), MINUTE)
    (alert,) = ledger.claim_alerts(MINUTE + 1)
    assert (alert.alert, alert.spent, alert.document()["unit"]) == ("50", 2, "requests")
    assert ledger.claim_alerts(MINUTE + 2) == []


def test_a_leased_ledger_sends_request_budgets_down_the_plain_path(shared_url: str) -> None:
    """Under leases (rate 0: every budget set leases) a call a request budget applies to is
    reserved in the ledger itself, so the count is exact at once; a USD-only call is leased."""
    leased = LeasedLedger(ledger_from_url(shared_url), rate=0)
    now = time.time()  # a lease step is dated by the clock: the calls are dated alike
    try:
        leased.set_budget(Budget.parse("user=alice", "2", period="minute", unit="requests"))
        leased.set_budget(Budget.parse("global", "10"))
        bob = {**ALICE, "user": "bob"}
        leased.reserve("a", Decimal("0.01"), ALICE, now, sent=True)
        leased.reserve("b", Decimal("0.01"), bob, now, sent=True)
        held = {s.budget.unit: s.reserved for s in leased.inner.status(now)}
        assert held["requests"] == 1
        assert held["usd"] >= Decimal("0.02")  # a's hold, and b's lease (a slice, or more)
        leased.reserve("c", Decimal("0.01"), ALICE, now, sent=True)
        with pytest.raises(BudgetExceededError, match="requests"):
            leased.reserve("d", Decimal("0.01"), ALICE, now, sent=True)
    finally:
        leased.close()


# -- a per-minute request limit shared by 8 processes --------------------------------------

LIMIT = 40
#: Simulated seconds per real second: a minute window passes in 1.5 s of the test.
SPEED = 40.0


def _admit(url: str, start: float, until: float, worker: int, out: Any) -> None:
    """Reserve and settle as fast as the ledger allows, dated by a clock running SPEED times
    fast from MINUTE at ``start``; report what was admitted."""
    ledger = ledger_from_url(url)
    admitted = refused = 0
    time.sleep(max(start - time.time(), 0))
    try:
        while time.time() < until:
            now = MINUTE + (time.time() - start) * SPEED
            call = f"w{worker}-{admitted + refused}"
            try:
                ledger.reserve(call, Decimal("0.001"), ALICE, now, sent=True)
            except BudgetExceededError:
                refused += 1
                continue
            admitted += 1
            ledger.settle(row(call, "0.0004", ts=now), now)
    finally:
        ledger.close()
    out.put((admitted, refused))


def test_a_request_limit_shared_by_8_processes_admits_at_most_the_limit_a_minute(
    shared_url: str,
) -> None:
    """8 processes, 40 requests a minute on one budget, a clock 40 times fast over four minute
    windows and a bit of a fifth: every UTC clock minute (a call counts in the minute its
    reservation is dated in) records at most 40 calls, and each minute the processes ran
    through whole records exactly 40 (so the limit binds, not the ledger's speed); every call
    admitted has its row, and the window's count in the ledger is its rows."""
    setup = ledger_from_url(shared_url)
    setup.set_budget(Budget.parse("global", str(LIMIT), period="minute", unit="requests"))
    setup.close()
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start = time.time() + 0.5  # every worker starts on the same clock
    until = start + 6.4
    workers = [
        context.Process(target=_admit, args=(shared_url, start, until, index, out))
        for index in range(8)
    ]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    ledger = ledger_from_url(shared_url)
    try:
        rows = ledger.rows()
        per_minute = Counter(window_key("minute", "UTC", r.ts) for r in rows)
        (second,) = ledger.status(MINUTE + 60)
    finally:
        ledger.close()
    assert sum(a for a, _ in results) == len(rows)
    assert sum(r for _, r in results) > 0  # the limit refused calls
    assert max(per_minute.values()) <= LIMIT
    ordered = sorted(per_minute)
    assert ordered[0] == window_key("minute", "UTC", MINUTE)
    assert len(ordered) in (4, 5)  # a fifth window when a call made it in before the end
    assert [per_minute[w] for w in ordered[:4]] == [LIMIT] * 4  # the fifth is cut by the end
    assert (second.window, second.spent, second.reserved) == (ordered[1], LIMIT, 0)


# -- the Router and the command line -------------------------------------------------------


def test_the_router_holds_a_calls_worst_case_tokens_and_counts_its_usage(
    gateway: FakeGateway, ledger: Ledger
) -> None:
    """A token budget holds the candidate's high input plus its maximum output, and counts the
    gateway's reported tokens once the call settles; a request budget at its limit refuses the
    next call before anything is sent (BudgetExceededError, nothing recorded for it)."""
    ledger.set_budget(Budget.parse("global", "100000", period="day", unit="tokens"))
    ledger.set_budget(Budget.parse("global", "1", period="day", unit="requests"))
    router = make_router(gateway, ledger)
    held: list[Decimal] = []
    real_reserve = ledger.reserve

    def spy(*args: Any, **kwargs: Any) -> Any:
        reservation = real_reserve(*args, **kwargs)
        held.extend(h.amount for h in reservation.holds if h.period == "day/tokens")
        return reservation

    ledger.reserve = spy  # type: ignore[method-assign]  # the test watches the holds
    result = router.call(REQUEST, model="gpt:gpt-4o")
    estimate = result.estimate
    assert held == [estimate.input_tokens.high + estimate.output_tokens.high]
    assert result.usage is not None
    now = router._wall_clock()
    assert status_of(ledger, "tokens", now) == (
        result.usage.input_tokens + result.usage.output_tokens,
        0,
    )
    sent = len(gateway.received)
    with pytest.raises(BudgetExceededError, match="requests"):
        router.call(REQUEST, model="gpt:gpt-4o")
    assert len(gateway.received) == sent
    assert len(ledger.rows()) == 1


def test_cli_budgets_in_requests_and_tokens(tmp_path: Path, run_cli: RunCli) -> None:
    """``budget set --unit`` makes a request or token budget beside a USD one of the same scope
    and period; ``budget list`` shows each in its unit; ``budget delete --unit`` removes one;
    a fractional count is a one-line usage error (exit 2) that changes nothing."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    for limit, unit in (("2", "usd"), ("600", "requests"), ("90000", "tokens")):
        done = run_cli("budget", "set", "global", "--limit", limit, "--period", "minute",
                       "--unit", unit, "--ledger", url)  # fmt: skip
        assert done.code == 0, done.err
    assert done.out.strip() == "budget global: 90,000 tokens per minute (hard, UTC)"
    listed = run_cli("budget", "list", "--ledger", url, "--json").json()
    assert [(d["unit"], d["limit"], d["remaining"]) for d in listed] == [
        ("usd", "2", "2"),
        ("requests", "600", "600"),
        ("tokens", "90000", "90000"),
    ]
    table = run_cli("budget", "list", "--ledger", url).out
    assert "600 requests" in table
    assert "90,000 tokens" in table
    assert "$2.00000000" in table
    bad = run_cli("budget", "set", "global", "--limit", "1.5", "--unit", "requests",
                  "--ledger", url)  # fmt: skip
    assert bad.code == 2
    assert len(bad.err.strip().splitlines()) == 1
    assert "whole number" in bad.err
    gone = run_cli("budget", "delete", "global", "--unit", "tokens", "--ledger", url)
    assert gone.code == 0
    assert "global (tokens)" in gone.out
    assert [d["unit"] for d in run_cli("budget", "list", "--ledger", url, "--json").json()] == [
        "usd",
        "requests",
    ]


def test_an_hour_budget_runs_out_to_the_minute() -> None:
    """A burn forecast for an hour (or minute) window says the UTC minute it runs out at; a
    day or longer window says the day."""
    hour = Budget.parse("global", "1000", period="hour", unit="tokens")
    half_past = MINUTE - MINUTE % 3600 + 1800  # 15:30:00
    found = burn(BudgetStatus(hour, hour.window(half_past), Decimal(600), Decimal(0)), half_past)
    assert found.runs_out_text == "2026-03-14 15:50 UTC"  # 600 in 30 min: 1,000 at 50 min
    month = Budget.parse("global", "10")
    found = burn(BudgetStatus(month, month.window(NOW), Decimal(9), Decimal(0)), NOW)
    assert found.runs_out_text == "2026-03-16"  # 9 in 13.6 days: 10 on day 15.1


def test_cli_call_over_a_request_limit_exits_3(
    run_cli: RunCli, gateway: FakeGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One request a day: the first `call` is sent and counted, the second exits 3 with one line
    naming the request limit and sends nothing."""
    url = f"sqlite:///{tmp_path}/cli.db"
    done = run_cli("budget", "set", "global", "--limit", "1", "--unit", "requests", "--period",
                   "day", "--ledger", url)  # fmt: skip
    assert done.code == 0
    monkeypatch.setenv("MEMORIES_API_KEY", API_KEY)
    monkeypatch.setenv("MEMORIES_BASE_URL", gateway.base_url)
    assert run_cli("call", "--prompt", "hi", "--ledger", url).code == 0
    refused = run_cli("call", "--prompt", "hi", "--ledger", url)
    assert refused.code == 3
    assert refused.err.count("\n") == 1
    assert "budget global (day, requests) cannot cover this call: limit 1 request, " in refused.err
    assert len(gateway.received) == 1
    (listed,) = run_cli("budget", "list", "--ledger", url, "--json").json()
    assert (listed["spent"], listed["remaining"]) == ("1", "0")


def test_routing_rejects_what_token_and_request_budgets_cannot_cover(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """`route --user U` applies U's token budgets (a model whose worst-case tokens pass what is
    left is rejected, reason budget) and request budgets (none left: every model is rejected,
    and route exits 4 saying why); the Selector takes a Room of each unit."""
    url = f"sqlite:///{tmp_path}/route.db"
    prompt = ("route", "--prompt", "hi", "--max-tokens", "4000", "--ledger", url, "--json")
    free = run_cli(*prompt, "--user", "alice").json()
    highs = sorted({c["input_tokens"]["high"] + 4000 for c in free["candidates"]})
    assert len(highs) > 1  # models differ in worst-case input tokens
    room = str(highs[0])  # only the smallest worst case fits
    assert run_cli("budget", "set", "user=alice", "--limit", room, "--unit", "tokens",
                   "--period", "day", "--ledger", url).code == 0  # fmt: skip
    tight = run_cli(*prompt, "--user", "alice").json()
    assert {c["input_tokens"]["high"] + 4000 for c in tight["candidates"]} == {highs[0]}
    rejected = [r for r in tight["rejected"] if r["code"] == "budget"]
    assert rejected
    assert all("token budgets still allow" in r["reason"] for r in rejected)
    assert run_cli("budget", "set", "user=bob", "--limit", "0", "--unit", "requests",
                   "--period", "day", "--ledger", url).code == 0  # fmt: skip
    none = run_cli(*prompt[:-1], "--user", "bob")
    assert none.code == 4  # no model qualifies
    assert "request budgets allow no more calls" in none.out
    assert run_cli(*prompt, "--user", "carol").json()["candidates"]  # other users untouched
