"""Budget leases (router.ledger.leases): admitted in memory against room the ledger checked and
holds, recorded in batches; never over a hard limit, never free when a process dies, exact."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router import Budget, BudgetExceededError, InputError, Ledger, LedgerRow, ledger_from_url
from router.ledger.base import LeaseFlush, LeaseGrant
from router.ledger.budgets import from_units, to_units
from router.ledger.leases import LeasedLedger
from router.ledger.sql import SQLLedger
from router.ledger.wrapped import WrappedLedger

from .conftest import postgres_schema_url
from .test_ledger_contract import ALICE, row

WORST, COST = Decimal("0.01"), "0.0045"


def admit(ledger: Ledger, count: int, served: list[str] | None = None) -> tuple[int, int]:
    """Reserve and settle up to ``count`` calls (worst $0.01, cost $0.0045); (done, refused)."""
    done = refused = 0
    for _ in range(count):
        call, now = uuid.uuid4().hex, time.time()
        try:
            ledger.reserve(call, WORST, ALICE, now, sent=True)
        except BudgetExceededError:
            refused += 1
            continue
        if served is not None:
            served.append(call)
        ledger.settle(row(call, COST, ts=now), now)
        done += 1
    return done, refused


def totals(url: str, now: float | None = None) -> tuple[Decimal, Decimal, Decimal, list[LedgerRow]]:
    """Spent and reserved on the global budget, the rows' sum, the rows."""
    ledger = ledger_from_url(url)
    try:
        (status,) = ledger.status(time.time() if now is None else now)
        rows = ledger.rows()
        return status.spent, status.reserved, sum((r.cost for r in rows), Decimal(0)), rows
    finally:
        ledger.close()


def budget(url: str, limit: str) -> None:
    ledger = ledger_from_url(url)
    ledger.set_budget(Budget.parse("global", limit))
    ledger.close()


def test_threads_stay_within_the_limit_and_spend_equals_the_rows(shared_url: str) -> None:
    """8 threads on one leased ledger run into a $1 limit: no overspend, every admitted call
    recorded once, spent equal to the rows' sum to the nanodollar, nothing held after close."""
    budget(shared_url, "1")
    ledger = LeasedLedger(ledger_from_url(shared_url), rate=0)
    results: list[tuple[int, int]] = []
    threads = [threading.Thread(target=lambda: results.append(admit(ledger, 60))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ledger.close()
    spent, reserved, billed, rows = totals(shared_url)
    done = sum(d for d, _ in results)
    assert spent <= Decimal(1)
    assert spent == billed
    assert reserved == 0
    assert len(rows) == done
    assert Decimal(1) - spent < 8 * WORST  # what refused the last calls: others' worst cases
    assert sum(r for _, r in results) == 8 * 60 - done


def _process(url: str, count: int, out: Any) -> None:
    ledger = LeasedLedger(ledger_from_url(url), rate=0)
    out.put(admit(ledger, count))
    ledger.close()


def test_processes_stay_within_the_limit(shared_url: str) -> None:
    """4 processes, each with its own leases, on one $1 budget: no overspend; after each
    flushes, spent equals the rows and every call one of them admitted has its row."""
    budget(shared_url, "1")
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    workers = [context.Process(target=_process, args=(shared_url, 90, out)) for _ in range(4)]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join()
    spent, reserved, billed, rows = totals(shared_url)
    assert spent <= Decimal(1)
    assert spent == billed
    assert reserved == 0
    assert len(rows) == sum(d for d, _ in results)
    assert Decimal(1) - spent < 4 * WORST


def _killed(url: str, served: str, ready: Any) -> None:
    ledger = LeasedLedger(ledger_from_url(url), rate=0, flush_seconds=30.0, lease_seconds=120.0)
    calls: list[str] = []
    admit(ledger, 40, calls)
    Path(served).write_text("\n".join(calls))
    ready.set()
    time.sleep(60)


def test_a_killed_process_lease_is_billed_whole(shared_url: str, tmp_path: Path) -> None:
    """SIGKILL with 40 calls admitted and settled under a lease but not yet recorded: once the
    lease's time is up, the next write bills it at what it held: at least what the gateway
    served, within the limit, and spent still equals the rows."""
    budget(shared_url, "5")
    context = multiprocessing.get_context("fork")
    ready, served = context.Event(), tmp_path / "served"
    worker = context.Process(target=_killed, args=(shared_url, str(served), ready))
    worker.start()
    assert ready.wait(60)
    os.kill(worker.pid or 0, signal.SIGKILL)
    worker.join()
    ids = served.read_text().split()
    assert len(ids) == 40
    spent, reserved, billed, rows = totals(shared_url)
    assert reserved > 0  # the lease still holds
    unrecorded = set(ids) - {r.call_id for r in rows}
    assert unrecorded  # some calls were admitted and settled, but never recorded one by one
    ledger = ledger_from_url(shared_url)
    later = time.time() + 121  # the lease's time is up (a sweep takes the time it is given)
    ledger.reserve("sweep", Decimal(0), {}, later)  # any write after the lease's time sweeps
    ledger.release("sweep", later)
    ledger.close()
    spent, reserved, billed, rows = totals(shared_url, later)
    (orphan,) = [r for r in rows if r.status == "orphaned"]
    assert orphan.attempt == 0
    assert "lease" in orphan.note
    assert orphan.cost >= len(unrecorded) * Decimal(COST)  # what the gateway served, billed
    assert spent == billed
    assert reserved == 0
    assert spent <= Decimal(5)


def test_a_lost_lease_is_credited_not_billed_twice(tmp_path: Path) -> None:
    """A lease not renewed in time is billed whole; the rows its process records afterwards
    are credited against that bill: spent stays what was billed, and equals the rows."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    budget(url, "10")
    start = time.time()
    ledger = LeasedLedger(
        ledger_from_url(url), rate=0, flush_seconds=1000, lease_seconds=4000, clock=lambda: start
    )
    ledger.reserve("a", WORST, ALICE, start, sent=True)
    ledger.settle(row("a", COST, ts=start), start)
    other = ledger_from_url(url)
    late = start + 4001
    other.reserve("sweep", Decimal(0), {}, late)  # bills the lease: it was never renewed
    other.release("sweep", late)
    (billed,) = other.rows()
    held = billed.cost
    assert billed.status == "orphaned"
    assert held >= WORST
    ledger.flush(late)  # the lost lease's row arrives: credited against the bill
    rows = {r.call_id: r for r in other.rows()}
    assert rows["a"].cost == Decimal(COST)
    assert rows[billed.call_id].cost == held - Decimal(COST)
    (status,) = other.status(late)
    assert status.spent == held == sum(r.cost for r in rows.values())
    ledger.reserve("b", WORST, ALICE, late, sent=True)  # a new lease takes over
    ledger.settle(row("b", COST, ts=late), late)
    ledger.close()
    (status,) = other.status(late)
    assert status.spent == sum(r.cost for r in other.rows())
    assert status.reserved == 0
    other.close()


def test_a_step_applied_twice_counts_once(shared_url: str) -> None:
    """A lease step retried after its answer was lost changes nothing the second time; a row
    whose id another process recorded is still billed, under its own id."""
    budget(shared_url, "1")
    ledger = ledger_from_url(shared_url)
    now = time.time()
    ledger.settle(row("taken", COST, ts=now), now)
    windows = (("global", "month", Budget.parse("global", "1").window(now)),)
    rows = (row("x", COST, ts=now), row("taken", COST, ts=now))
    step = LeaseFlush("L", 1, windows, "{}", rows, 0, 100_000_000, now + 60)
    first = ledger.lease(step, now)
    again = ledger.lease(step, now)
    assert (again.held, again.lost) == (first.held, first.lost)
    assert first.held == 100_000_000
    assert first.room is not None
    (status,) = ledger.status(now)
    assert status.spent == 3 * Decimal(COST)
    assert status.reserved == Decimal("0.1")
    assert sorted(r.call_id for r in ledger.rows()) == ["taken", "taken~L-1", "x"]
    closing = LeaseFlush("L", 2, windows, "{}", (), 0, 0, now + 60)
    assert ledger.lease(closing, now).held == 0
    (status,) = ledger.status(now)
    assert status.reserved == 0
    assert status.spent == sum(r.cost for r in ledger.rows())
    ledger.close()


def test_slices_shrink_near_the_limit(tmp_path: Path) -> None:
    """A step takes at most an eighth of the room left beyond what the lease holds."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    budget(url, "0.8")
    ledger = ledger_from_url(url)
    now = time.time()
    windows = (("global", "month", Budget.parse("global", "1").window(now)),)
    grant = ledger.lease(LeaseFlush("L", 1, windows, "{}", (), 0, 10**12, now + 60), now)
    assert grant.held == 100_000_000
    assert grant.room == 800_000_000
    grant = ledger.lease(LeaseFlush("L", 2, windows, "{}", (), 0, 10**12, now + 60), now)
    assert grant.held == 100_000_000 + 700_000_000 // 8
    ledger.close()


def test_cool_budgets_take_the_plain_path(tmp_path: Path) -> None:
    """Below the rate, calls are reserved and settled one by one (rows visible at once);
    above it, they lease (rows visible after a flush)."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    budget(url, "100")
    ledger = LeasedLedger(ledger_from_url(url), rate=1000, flush_seconds=1000, lease_seconds=4000)
    admit(ledger, 5)
    assert len(ledger.rows()) == 5
    assert ledger.held() == 0
    hot = LeasedLedger(ledger_from_url(url), rate=2, flush_seconds=1000, lease_seconds=4000)
    admit(hot, 20)
    assert len(hot.rows()) < 25
    assert hot.held() > 0
    hot.flush()
    assert len(hot.rows()) == 25
    hot.close()
    ledger.close()
    spent, reserved, billed, _ = totals(url)
    assert spent == billed == 25 * Decimal(COST)
    assert reserved == 0


def test_a_forked_child_does_not_spend_its_parents_lease(tmp_path: Path) -> None:
    """A child forked after its parent leased starts with no lease of its own."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    budget(url, "100")
    ledger = LeasedLedger(ledger_from_url(url), rate=0, flush_seconds=1000, lease_seconds=4000)
    admit(ledger, 3)
    assert ledger.held() > 0
    context = multiprocessing.get_context("fork")
    out = context.Queue()

    def child() -> None:
        before = ledger.held()
        admit(ledger, 2)
        out.put((before, ledger.held() > 0))
        ledger.close()

    process = context.Process(target=child)
    process.start()
    assert out.get(timeout=60) == (0, True)
    process.join()
    ledger.close()
    spent, reserved, billed, rows = totals(url)
    assert len(rows) == 5
    assert spent == billed
    assert reserved == 0


def test_a_memory_ledger_cannot_lease() -> None:
    """A memory ledger has no lease step: wrapping it is refused with a one-line reason."""
    with pytest.raises(InputError, match="cannot lease budgets: use a sqlite"):
        LeasedLedger(ledger_from_url("memory://"))


def test_lease_seconds_must_cover_several_flushes(tmp_path: Path) -> None:
    """A lease that would expire before four flushes could renew it is bad input."""
    with pytest.raises(InputError, match="at least four flushes"):
        LeasedLedger(
            ledger_from_url(f"sqlite:///{tmp_path}/l.db"), flush_seconds=1, lease_seconds=2
        )


def test_a_router_on_a_leased_ledger(tmp_path: Path) -> None:
    """The Router's calls on a leased ledger: admitted against the lease, recorded at their
    metered cost by the next flush, and the budget refuses once its room is gone."""
    from router import Request, Router
    from router.testing import FakeClient

    url = f"sqlite:///{tmp_path}/ledger.db"
    ledger = LeasedLedger.from_url(url, rate=0, flush_seconds=1000, lease_seconds=4000)
    ledger.set_budget(Budget.parse("user=a", "0.05"))
    router = Router(client=FakeClient(input_tokens=1200, output_tokens=80), ledger=ledger)
    request = Request.from_prompt("Say hi.")
    costs: list[Decimal] = []

    def until_refused() -> None:
        while True:
            costs.append(router.call(request, model="gpt:gpt-4o", tags={"user": "a"}).cost)

    with pytest.raises(BudgetExceededError):
        until_refused()
    assert len(costs) > 10
    assert ledger.held() == 0  # at the limit the lease handed its room back
    ledger.flush()
    rows = ledger.rows()
    assert sorted(r.cost for r in rows) == sorted(costs)
    (status,) = ledger.status(time.time())
    assert status.spent == sum(costs) <= Decimal("0.05")
    ledger.close()
    (status,) = ledger_from_url(url).status(time.time())
    assert status.reserved == 0


def test_a_late_fallback_does_not_date_its_lease_back(tmp_path: Path) -> None:
    """A call dated 100 s ago (a fallback late in its deadline) tops up its lease from the
    clock: another process sweeping now finds the lease alive, not one to bill."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    budget(url, "10")
    ledger = LeasedLedger(ledger_from_url(url), rate=0, flush_seconds=1, lease_seconds=60)
    started = time.time() - 100
    ledger.reserve("late", WORST, ALICE, started, sent=True)
    other = ledger_from_url(url)
    other.reserve("sweep", Decimal(0), {}, time.time())
    other.release("sweep", time.time())
    assert not other.rows()  # nothing billed: the lease was renewed from now
    ledger.settle(row("late", COST, ts=started), started)
    ledger.close()
    assert [(r.call_id, r.cost) for r in other.rows()] == [("late", Decimal(COST))]
    other.close()


class _Steps(WrappedLedger):
    """The wrapped ledger, keeping every lease step it applies and the grant it gave."""

    def __init__(self, inner: Ledger) -> None:
        super().__init__(inner)
        self.steps: list[tuple[LeaseFlush, LeaseGrant]] = []

    def lease(self, step: LeaseFlush, now: float) -> LeaseGrant:
        grant = self.inner.lease(step, now)
        self.steps.append((step, grant))
        return grant


def test_a_step_grows_the_lease_only_to_top_it_up(tmp_path: Path) -> None:
    """The first step (a call does not fit) takes a slice; a step that records rows while half
    a slice or more is free keeps what the lease holds less the rows' cost, reading no budget
    (on PostgreSQL: locking none); a call bigger than what is free tops the lease up."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    budget(url, "100")
    steps = _Steps(ledger_from_url(url))
    ledger = LeasedLedger(steps, rate=0, flush_seconds=1000, lease_seconds=4000)
    try:
        admit(ledger, 2)
        ((first, grant),) = steps.steps
        assert first.want > first.need
        assert grant.held == first.want
        assert grant.room is not None
        ledger.flush()
        kept, kept_grant = steps.steps[-1]
        taken = sum(to_units(r.cost) for r in kept.rows)
        assert len(kept.rows) == 2
        assert kept.want == grant.held - taken == kept_grant.held
        assert kept_grant.room is None  # not growing: no budget was read
        big = from_units(kept_grant.held) + WORST  # more than the lease has free
        ledger.reserve("big", big, ALICE, time.time(), sent=True)
        topped, topped_grant = steps.steps[-1]
        assert topped.need == 0
        assert topped.want >= kept_grant.held + to_units(big) - to_units(WORST)
        assert topped_grant.room is not None
        assert topped_grant.held == topped.want
        assert ledger.held() == topped_grant.held - to_units(big)  # admitted under the lease
        ledger.settle(row("big", COST), time.time())
    finally:
        ledger.close()
    spent, reserved, billed, _ = totals(url)
    assert (spent, reserved) == (billed, 0)


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_schema_url()


def test_a_step_that_does_not_grow_waits_on_no_budget_lock(pg_url: str) -> None:
    """While another transaction holds the global budget's spend row (a reservation being
    made, say), a step that records rows and keeps or shrinks the lease goes through; one that
    grows it waits for the row. On PostgreSQL the step adds its spend as deltas, and a growing
    step folds them into the spend row."""
    import psycopg

    budget(pg_url, "10")
    ledger = ledger_from_url(pg_url)
    now = time.time()
    windows = (("global", "month", Budget.parse("global", "1").window(now)),)
    ledger.lease(LeaseFlush("L", 1, windows, "{}", (), 0, 500_000_000, now + 60), now)
    blocker = psycopg.connect(pg_url)
    try:
        blocker.execute("SELECT 1 FROM budget_spend WHERE scope = 'global' FOR UPDATE")
        rows = (row("a", COST, ts=now), row("b", COST, ts=now))
        keep = LeaseFlush("L", 2, windows, "{}", rows, 0, 500_000_000 - 9_000_000, now + 60)
        grants: list[LeaseGrant] = []
        kept = threading.Thread(target=lambda: grants.append(ledger.lease(keep, now)))
        kept.start()
        kept.join(timeout=5.0)
        assert not kept.is_alive()  # it did not wait for the lock
        assert grants[0].held == 491_000_000
        grow = LeaseFlush("L", 3, windows, "{}", (), 0, 600_000_000, now + 60)
        waiting = threading.Thread(target=ledger.lease, args=(grow, now))
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive()  # queued behind the lock
        deltas = blocker.execute("SELECT COUNT(*) FROM spend_deltas").fetchone()
        assert deltas == (1,)  # the two rows' cost, not yet folded
    finally:
        blocker.rollback()
        blocker.close()
    waiting.join(timeout=10)
    assert not waiting.is_alive()
    (status,) = ledger.status(now)
    assert status.spent == 2 * Decimal(COST)
    assert status.reserved == Decimal("0.6")
    with psycopg.connect(pg_url) as check:
        assert check.execute("SELECT COUNT(*) FROM spend_deltas").fetchone() == (0,)  # folded
    ledger.close()


def test_ended_leases_step_records_are_forgotten_a_day_later(shared_url: str) -> None:
    """A lease's step record (kept so a retried step is applied once) is deleted a day after its
    last step once the lease holds nothing, by a later lease step (a fleet whose calls all
    lease settles nothing plainly); a lease still holding room keeps its record."""
    budget(shared_url, "10")
    ledger = ledger_from_url(shared_url)
    assert isinstance(ledger, SQLLedger)
    now = time.time() - 3 * 86400
    windows = (("global", "month", Budget.parse("global", "1").window(now)),)
    for lease in ("ended", "holding"):
        ledger.lease(LeaseFlush(lease, 1, windows, "{}", (), 0, 1_000_000, now + 10**6), now)
    ledger.lease(LeaseFlush("ended", 2, windows, "{}", (), 0, 0, now + 10**6), now)
    later = now + 2 * 86400
    ledger.lease(LeaseFlush("new", 1, windows, "{}", (), 0, 1_000_000, later + 60), later)
    with ledger._transaction(write=False) as cur:
        kept = [lease for (lease,) in cur.execute("SELECT lease_id FROM leases").fetchall()]
    ledger.close()
    assert sorted(kept) == ["holding", "new"]
