"""The Router against budgets: reserve before sending, settle after, release on failure."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from pathlib import Path

import pytest

from pricing import Catalog, Usage, price
from router import (
    AuthenticationError,
    Budget,
    BudgetExceededError,
    BudgetStatus,
    GatewayClient,
    Ledger,
    Policy,
    Request,
    RetryPolicy,
    Router,
)

from .conftest import RunCli
from .gateway_server import API_KEY, FakeGateway, Fault

CATALOG = Catalog.bundled()
REQUEST = Request.from_prompt("Summarise the quarter in one line.", max_tokens=200)


def make_router(gateway: FakeGateway, ledger: Ledger, **kwargs: object) -> Router:
    client = GatewayClient(
        API_KEY, gateway.base_url, retry=RetryPolicy(attempts=2, base=0.01), sleep=lambda s: None
    )
    return Router(catalog=CATALOG, client=client, ledger=ledger, **kwargs)  # type: ignore[arg-type]  # test passes extras


def test_call_reserves_then_settles_one_row(gateway: FakeGateway, ledger: Ledger) -> None:
    """A metered call leaves one row with its tags and cost, and its spend on every budget."""
    ledger.set_budget(Budget.parse("user=alice", "1"))
    ledger.set_budget(Budget.parse("model=gpt:gpt-4o", "1"))
    router = make_router(gateway, ledger)
    result = router.call(REQUEST, model="gpt:gpt-4o", tags={"user": "alice", "project": "atlas"})
    (row,) = ledger.rows()
    assert (row.call_id, row.status, row.cost) == (result.call_id, "ok", result.cost)
    assert row.tag_map == {
        "user": "alice",
        "project": "atlas",
        "model": "gpt:gpt-4o",
        "family": "gpt:gpt-4o",
        "provider": "gpt",
    }
    assert row.served_model == "gpt:gpt-4o-2024-08-06"
    assert row.estimate_high == result.estimate.cost.high
    tokens = gateway.usage_for(gateway.received[-1].body)
    assert row.cost == price(CATALOG.get(row.served_model), Usage(*tokens)).total
    for status in ledger.status(router._wall_clock()):
        assert (status.spent, status.reserved) == (row.cost, 0)


def test_budget_that_cannot_cover_the_worst_case_sends_nothing(
    gateway: FakeGateway, ledger: Ledger
) -> None:
    """A hard budget below the chosen model's worst case raises (exit 3) before any request."""
    router = make_router(gateway, ledger)
    worst = router.plan(REQUEST).chosen.estimate.cost.high
    ledger.set_budget(Budget.parse("user=alice", worst / 2))
    with pytest.raises(BudgetExceededError) as info:
        router.call(REQUEST, tags={"user": "alice"})
    assert info.value.requested == worst
    assert info.value.limit == worst / 2
    assert gateway.received == []
    assert ledger.rows() == []


def test_fit_budget_takes_the_cheapest_candidate_it_covers(
    gateway: FakeGateway, ledger: Ledger
) -> None:
    """With fit_budget, a model-scoped budget pushes the call to the next affordable model."""
    router = make_router(gateway, ledger)
    first = router.plan(REQUEST).model
    ledger.set_budget(Budget.parse(f"model={first}", "0"))
    result = router.call(REQUEST, Policy(fit_budget=True))
    assert result.model != first
    assert [r.requested_model for r in ledger.rows()] == [result.model]


def test_fallback_rereserves_and_failure_releases(gateway: FakeGateway, ledger: Ledger) -> None:
    """A dead model's hold is released and the next candidate reserves its own worst case."""
    ledger.set_budget(Budget.parse("global", "10"))
    router = make_router(gateway, ledger)
    first = router.plan(REQUEST).model
    gateway.dead.add(first)
    result = router.call(REQUEST)
    assert result.model != first
    (status,) = ledger.status(router._wall_clock())
    assert (status.spent, status.reserved) == (result.cost, 0)


def test_gateway_failure_records_an_error_row_and_frees_the_budget(
    gateway: FakeGateway, ledger: Ledger
) -> None:
    """A call that fails everywhere leaves an error row at zero cost and no hold."""
    ledger.set_budget(Budget.parse("global", "10"))
    router = make_router(gateway, ledger)
    gateway.queue(Fault("401"))
    with pytest.raises(AuthenticationError):
        router.call(REQUEST)
    (row,) = ledger.rows()
    assert (row.status, row.cost) == ("error", 0)
    assert [(s.spent, s.reserved) for s in ledger.status(router._wall_clock())] == [(0, 0)]


def test_unmetered_call_spends_its_worst_case(gateway: FakeGateway, ledger: Ledger) -> None:
    """No usage in the answer: the row is 'unmetered' at the worst case, and so is the spend."""
    ledger.set_budget(Budget.parse("global", "10"))
    gateway.queue(Fault("no_usage"))
    result = make_router(gateway, ledger).call(REQUEST, model="qwen:qwen-vl-plus")
    (row,) = ledger.rows()
    assert (row.status, row.cost) == ("unmetered", result.estimate.cost.high)


def test_soft_budget_warns_through_logging_and_the_hook(
    gateway: FakeGateway, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    """Crossing a soft budget sends the call, logs a warning and calls on_soft_limit."""
    ledger.set_budget(Budget.parse("global", "0.0000001", soft=True))
    seen: list[tuple[BudgetStatus, Decimal]] = []
    router = make_router(gateway, ledger, on_soft_limit=lambda s, amount: seen.append((s, amount)))
    with caplog.at_level(logging.WARNING, logger="costrouter"):
        router.call(REQUEST)
    assert len(seen) == 1
    assert seen[0][0].budget.scope_text == "global"
    assert "soft budget global" in caplog.text


def test_stream_settles_when_it_ends(gateway: FakeGateway, ledger: Ledger) -> None:
    """A streamed call reserves before sending and settles its row at the end."""
    ledger.set_budget(Budget.parse("global", "10"))
    router = make_router(gateway, ledger)
    stream = router.stream(REQUEST, model="gpt:gpt-4o", tags={"user": "ann"})
    assert "".join(stream) == "Hello from the stream"
    (row,) = ledger.rows()
    assert (row.status, row.tag_map["user"]) == ("unmetered", "ann")


def test_cli_budget_set_list_and_exit_3(
    run_cli: RunCli, gateway: FakeGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`budget set/list` round-trip through the ledger; `call` over budget exits 3, sends nothing."""
    url = f"sqlite:///{tmp_path}/cli.db"
    assert (
        run_cli(
            "budget", "set", "user=alice", "--limit", "0.000001", "--period", "day", "--ledger", url
        ).code
        == 0
    )
    assert run_cli("budget", "set", "global", "--limit", "5", "--soft", "--ledger", url).code == 0
    listed = run_cli("budget", "list", "--ledger", url, "--json").json()
    assert [(b["scope"], b["period"], b["limit"], b["soft"]) for b in listed] == [
        ("global", "month", "5", True),
        ("user=alice", "day", "0.000001", False),
    ]
    assert listed[1]["remaining"] == "0.000001"
    monkeypatch.setenv("MEMORIES_API_KEY", API_KEY)
    monkeypatch.setenv("MEMORIES_BASE_URL", gateway.base_url)
    refused = run_cli("call", "--prompt", "hi", "--user", "alice", "--ledger", url)
    assert refused.code == 3
    assert refused.err.count("\n") == 1
    assert "budget user=alice (day)" in refused.err
    assert gateway.received == []
    ok = run_cli("call", "--prompt", "hi", "--user", "bob", "--ledger", url, "--json")
    assert ok.code == 0, ok.err
    table = run_cli("budget", "list", "--ledger", url)
    assert "user=alice" in table.out
    assert run_cli("budget", "set", "nonsense", "--limit", "1", "--ledger", url).code == 2
    assert run_cli("budget", "list", "--ledger", "redis://x").code == 2


def test_cli_route_applies_the_callers_budgets(run_cli: RunCli, tmp_path: Path) -> None:
    """`route --user U` rejects, with reason budget, the models U's budgets cannot cover; other
    users' routes are untouched."""
    url = f"sqlite:///{tmp_path}/route.db"
    assert run_cli("budget", "set", "user=alice", "--limit", "0.0001", "--ledger", url).code == 0
    alice = run_cli("route", "--prompt", "hi", "--user", "alice", "--ledger", url, "--json").json()
    budget = [r for r in alice["rejected"] if r["code"] == "budget"]
    assert budget
    assert all(Decimal(c["cost"]["high"]) <= Decimal("0.0001") for c in alice["candidates"])
    bob = run_cli("route", "--prompt", "hi", "--user", "bob", "--ledger", url, "--json").json()
    assert not [r for r in bob["rejected"] if r["code"] == "budget"]


def test_one_instant_dates_a_call_in_its_budget_window_and_in_reports(ledger: Ledger) -> None:
    """A call reserved at 23:59:59.9 UTC and answered at 00:00:00.5 counts in the first day's
    budget and is reported under the first day: both use the instant the call started."""
    from router import ReportQuery
    from router.testing import FakeClient

    midnight = dt.datetime(2026, 3, 15, tzinfo=dt.timezone.utc).timestamp()
    instants = iter([midnight - 0.1, midnight + 0.5, midnight + 0.6])
    ledger.set_budget(Budget.parse("global", "1", period="day"))
    router = Router(client=FakeClient(), ledger=ledger, wall_clock=lambda: next(instants))
    router.call(Request.from_prompt("hi"), model="gpt:gpt-4o")
    (day,) = ledger.report(ReportQuery(by=("day",)), midnight - 1).rows
    assert day.key == ("2026-03-14",)
    (before,) = ledger.status(midnight - 1)
    (after,) = ledger.status(midnight + 1)
    assert (before.window, before.spent) == ("2026-03-14", day.cost)
    assert (after.window, after.spent) == ("2026-03-15", 0)
    assert [r.ts for r in ledger.rows()] == [midnight - 0.1]
