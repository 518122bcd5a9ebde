"""Budget scopes and housekeeping: a family budget covers a model and its dated snapshots,
an exact-model budget only the id; budgets can be deleted, on every backend and from the CLI."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from router import Budget, BudgetExceededError, Ledger, Request, Router
from router.testing import FakeClient

from .conftest import RunCli

SNAPSHOT = "qwen:qwen3-vl-plus-2025-09-23"
FAMILY = "qwen:qwen3-vl-plus"


def test_a_family_budget_caps_every_snapshot(ledger: Ledger) -> None:
    """family=qwen:qwen3-vl-plus counts a call pinned to a dated snapshot; model=... (the exact
    id) does not; a family budget too small for the snapshot's worst case refuses it."""
    ledger.set_budget(Budget.parse(f"family={FAMILY}", "5", period="day"))
    ledger.set_budget(Budget.parse(f"model={FAMILY}", "5", period="day"))
    router = Router(client=FakeClient(input_tokens=1000, output_tokens=50), ledger=ledger)
    result = router.call(Request.from_prompt("hi"), model=SNAPSHOT)
    assert result.model == SNAPSHOT
    spent = {s.budget.scope_text: s.spent for s in ledger.status(result_time(ledger))}
    assert spent[f"family={FAMILY}"] == result.cost > 0
    assert spent[f"model={FAMILY}"] == 0
    ledger.set_budget(Budget.parse(f"family={FAMILY}", "0.0000001", period="day"))
    with pytest.raises(BudgetExceededError, match=f"family={FAMILY}"):
        router.call(Request.from_prompt("hi"), model=SNAPSHOT)


def result_time(ledger: Ledger) -> float:
    return ledger.rows()[-1].ts + 1


def test_a_budget_is_deleted_by_scope_and_period(ledger: Ledger) -> None:
    """delete_budget removes one period's budget, or every period of a scope; counts them."""
    for period in ("day", "month"):
        ledger.set_budget(Budget.parse("user=alice", "5", period=period))
    ledger.set_budget(Budget.parse("global", "50"))
    assert ledger.delete_budget("user=alice", "day") == 1
    assert [(b.scope_text, b.period) for b in ledger.budgets()] == [
        ("global", "month"),
        ("user=alice", "month"),
    ]
    assert ledger.delete_budget("user=alice") == 1
    assert ledger.delete_budget("user=alice") == 0
    assert [b.scope_text for b in ledger.budgets()] == ["global"]


def test_cli_budget_delete(tmp_path: Path, run_cli: RunCli) -> None:
    """`budget delete` removes what it names and says so; a budget not there is exit 2."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    assert run_cli("budget", "set", "project=atlas", "--limit", "3", "--ledger", url).code == 0
    done = run_cli("budget", "delete", "project=atlas", "--period", "month", "--ledger", url)
    assert done.code == 0, done.err
    assert "deleted 1 budget(s) project=atlas (month)" in done.out
    assert run_cli("budget", "list", "--ledger", url, "--json").json() == []
    again = run_cli("budget", "delete", "project=atlas", "--ledger", url)
    assert again.code == 2
    assert "no budget project=atlas" in again.err


@pytest.mark.parametrize(
    ("period", "now", "key", "label"),
    [
        ("minute", 1_764_662_339.5, "2025-12-02T07:58", "2025-12-02 07:58 UTC"),
        ("hour", 1_764_662_339.5, "2025-12-02T07", "2025-12-02 07:00 UTC"),
    ],
)
def test_minute_and_hour_windows_are_utc_clock_windows(
    period: str, now: float, key: str, label: str
) -> None:
    """Minute and hour windows start on the UTC clock whatever the budget's time zone."""
    from router.ledger.calendar import window_bounds, window_label

    for tz in ("UTC", "Asia/Kolkata"):
        start, end, found = window_bounds(period, tz, now)
        assert found == key
        assert start <= now < end
        assert end - start == {"minute": 60, "hour": 3600}[period]
    assert window_label(period, key) == label


def test_a_per_minute_limit_admits_at_most_its_limit_per_minute(ledger: Ledger) -> None:
    """A hard $0.05-per-minute budget with calls reserving $0.01 each: 5 admitted in one
    minute, the 6th refused; the next minute admits again. Windows are fixed clock minutes, so
    a burst across a minute's edge can admit up to twice the limit within 60 seconds."""
    ledger.set_budget(Budget.parse("global", "0.05", period="minute"))
    minute = 1_764_662_340.0  # 07:59:00 UTC
    admitted = 0
    for n in range(6):
        try:
            ledger.reserve(f"m{n}", Decimal("0.01"), {}, minute + n)
            admitted += 1
        except BudgetExceededError:
            pass
    assert admitted == 5
    ledger.reserve("next", Decimal("0.01"), {}, minute + 60)
    [status] = ledger.status(minute + 61)
    assert status.window == "2025-12-02T08:00"


def test_old_minute_windows_are_forgotten(shared_url: str) -> None:
    """A day after, a minute window's spend (its row, and on PostgreSQL its unfolded deltas)
    and its fired alerts are deleted by the next settlement (at most once an hour per process),
    in every unit; the current windows keep theirs."""
    import attrs

    from router import LedgerRow, ledger_from_url
    from router.ledger.sql import SQLLedger

    ledger = ledger_from_url(shared_url)
    assert isinstance(ledger, SQLLedger)
    ledger.set_budget(Budget.parse("global", "1", period="minute"))
    ledger.set_budget(Budget.parse("global", "60", period="minute", unit="requests", alerts="1"))
    row = LedgerRow(
        call_id="a", ts=1_764_662_340.0, requested_model="gpt:gpt-4o", served_model="gpt:gpt-4o",
        tags=(), input_tokens=1, output_tokens=1, cached_tokens=0, reasoning_tokens=0,
        estimate_low=Decimal(0), estimate_expected=Decimal(0), estimate_high=Decimal(1),
        cost=Decimal("0.01"), status="ok", latency=0.1, attempts=1,
    )  # fmt: skip
    ledger.settle(row, row.ts)
    assert [a.alert for a in ledger.claim_alerts(row.ts)] == ["1"]
    ledger.settle(attrs.evolve(row, call_id="b"), row.ts + 2 * 86400)
    assert [a.alert for a in ledger.claim_alerts(row.ts + 2 * 86400)] == ["1"]
    with ledger._transaction(write=False) as cur:
        windows = [
            tuple(found)
            for table in (*ledger._spend_tables, "alerts_fired")
            for found in cur.execute(f"SELECT DISTINCT period, win FROM {table}").fetchall()
        ]
    ledger.close()
    assert sorted(set(windows)) == [
        ("minute", "2025-12-04T07:59"),
        ("minute/requests", "2025-12-04T07:59"),
    ]
