"""A leased ledger against a plain model (hypothesis, stateful): random calls admitted, settled
(sometimes above their worst case, as a gateway may report), released, flushed and waited on,
against one hard budget; the ledger never holds and spends more than the limit allows, and once
flushed its spend is its rows to the nanodollar."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from router import Budget, BudgetExceededError, BudgetStatus, Ledger, LedgerRow, ledger_from_url
from router.ledger.leases import LeasedLedger
from router.ledger.sql import SQLLedger

from .conftest import postgres_schema_url
from .test_ledger_contract import ALICE

LIMIT = Decimal("1")
#: What a PostgreSQL sequence starts without.
WIPED = ("calls", "holds", "pending", "budget_spend", "spend_deltas", "budgets", "leases")
WORSTS = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("0.3"), places=3)


def make_row(call: str, cost: Decimal, ts: float, user: str = "alice") -> LedgerRow:
    tags = tuple(sorted({**ALICE, "user": user}.items()))
    return LedgerRow(
        call, ts, ALICE["model"], ALICE["model"], tags, 10, 10, 0, 0,
        cost, cost, cost, cost, "ok", 0.1, 1,
    )  # fmt: skip


class LeaseMachine(RuleBasedStateMachine):
    """The model: the calls admitted and not yet settled (their worst cases), what was
    settled, and what the gateway reported beyond a worst case."""

    folder: Path = Path(".")
    #: A PostgreSQL URL (its schema wiped for each sequence), or "" for a new SQLite file.
    postgres: str = ""
    #: With two users and a budget each beside the global one, two leases of this process share
    #: the global window, and one's unused slice may refuse the other's call (room stranded,
    #: bounded by the slices): then only the limits are checked, not where refusals fall.
    users: tuple[str, ...] = ("alice",)

    def __init__(self) -> None:
        super().__init__()
        self.now = 1_900_000_000.0
        self.url = self.postgres or f"sqlite:///{self.folder}/{uuid.uuid4().hex}.db"
        inner = ledger_from_url(self.url)
        if self.postgres:
            assert isinstance(inner, SQLLedger)
            with inner._transaction() as cur:
                for table in WIPED:
                    cur.execute(f"DELETE FROM {table}")
        inner.set_budget(Budget.parse("global", LIMIT))
        if len(self.users) > 1:  # a budget per user too: each user's calls lease apart
            for user in self.users:
                inner.set_budget(Budget.parse(f"user={user}", LIMIT * 2 / 3))
        # Flushed by hand (the background flusher waits 1,000 s), on a clock the test moves.
        self.ledger = LeasedLedger(
            inner, rate=0, flush_seconds=1000, lease_seconds=4000, clock=lambda: self.now
        )
        self.inner = inner
        self.open: dict[str, Decimal] = {}
        self.who: dict[str, str] = {}
        self.settled = Decimal(0)
        self.excess = Decimal(0)
        self.count = 0

    def teardown(self) -> None:
        for call, worst in list(self.open.items()):
            self.ledger.settle(make_row(call, worst, self.now, self.who[call]), self.now)
        self.ledger.close()  # records every row and returns every lease's room
        reopened = ledger_from_url(self.url)
        status = self._global(reopened)
        rows = sum((r.cost for r in reopened.rows()), Decimal(0))
        held = sum((s.reserved for s in reopened.status(self.now)), Decimal(0))
        reopened.close()
        assert held == 0
        assert status.spent == rows == self.settled + sum(self.open.values(), Decimal(0))

    def _global(self, ledger: Ledger) -> BudgetStatus:
        return next(s for s in ledger.status(self.now) if s.budget.scope_text == "global")

    @rule(worst=WORSTS, index=st.integers(0, 1))
    def reserve(self, worst: Decimal, index: int) -> None:
        self.count += 1
        call, user = f"c{self.count}", self.users[index % len(self.users)]
        try:
            self.ledger.reserve(call, worst, {**ALICE, "user": user}, self.now, sent=True)
        except BudgetExceededError:
            # One lease: refused only when what is settled and the open calls' worst cases leave
            # no room for it, as the plain path decides, whatever the lease held beyond them.
            if len(self.users) == 1:
                assert self.settled + sum(self.open.values(), Decimal(0)) + worst > LIMIT
            return
        self.open[call] = worst
        self.who[call] = user

    @precondition(lambda self: bool(self.open))
    @rule(data=st.data(), share=st.decimals(min_value=0, max_value=Decimal("1.2"), places=2))
    def settle(self, data: st.DataObject, share: Decimal) -> None:
        call = data.draw(st.sampled_from(sorted(self.open)))
        worst = self.open.pop(call)
        cost = (worst * share).quantize(Decimal("0.000001"))
        row = make_row(call, cost, self.now, self.who[call])
        assert self.ledger.settle(row, self.now)
        assert not self.ledger.settle(row, self.now)
        self.settled += cost
        self.excess += max(cost - worst, Decimal(0))

    @precondition(lambda self: bool(self.open))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        call = data.draw(st.sampled_from(sorted(self.open)))
        del self.open[call]
        self.ledger.release(call, self.now)

    @rule()
    def flush(self) -> None:
        self.ledger.flush()
        status = self._global(self.inner)
        assert status.spent == sum((r.cost for r in self.inner.rows()), Decimal(0))
        assert status.spent == self.settled

    @rule(seconds=st.sampled_from([0.3, 1.5, 5.0]))
    def wait(self, seconds: float) -> None:
        self.now += seconds

    @invariant()
    def within_the_limit(self) -> None:
        """Spend and holds together (leases' room included) never pass the limit, except by
        what the gateway reported beyond worst cases."""
        for status in self.inner.status(self.now):
            assert status.spent + status.reserved <= status.budget.limit + self.excess
        assert self._global(self.inner).spent <= self.settled  # nothing counted twice


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """ "" for SQLite files, or a PostgreSQL URL with a fresh schema."""
    if request.param == "sqlite":
        yield ""
    else:
        yield from postgres_schema_url()


@pytest.mark.parametrize("users", [("alice",), ("alice", "bob")])
def test_a_leased_ledger_behaves_like_the_model(
    tmp_path: Path, users: tuple[str, ...], engine: str
) -> None:
    """Random sequences of admissions, settlements (some above the worst case), releases,
    flushes and waits keep a leased ledger within every limit and exact, with one lease or two
    sharing the global budget, on SQLite and PostgreSQL."""

    class Machine(LeaseMachine):
        folder = tmp_path
        postgres = engine

    Machine.users = users
    settings(max_examples=40, stateful_step_count=40, deadline=None)(Machine)
    Machine.TestCase().runTest()


@pytest.mark.parametrize("share", [Decimal("0.45")])
def test_the_lease_admits_up_to_the_limit_as_the_plain_path_does(
    tmp_path: Path, share: Decimal
) -> None:
    """Calls of $0.10 settled at $0.045 run into the $1 limit: the lease admits exactly the
    calls the plain path would, its own unused slice never refusing one that fits."""
    machine = type("M", (LeaseMachine,), {"folder": tmp_path})()
    admitted = 0
    for _ in range(40):
        before = len(machine.open)
        machine.reserve(Decimal("0.1"), 0)
        if len(machine.open) > before:
            admitted += 1
            call = max(machine.open, key=lambda c: int(c[1:]))
            worst = machine.open.pop(call)
            machine.ledger.settle(make_row(call, worst * share, machine.now), machine.now)
            machine.settled += worst * share
    # 20 settled ($0.90) leave room for a 21st's $0.10 worst case; 21 ($0.945) do not for a 22nd.
    assert admitted == 21
    machine.teardown()
