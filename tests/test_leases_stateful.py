"""A leased ledger against a plain model (hypothesis, stateful): random calls admitted, settled
(sometimes above their worst case, as a gateway may report), released, flushed and waited on,
against one hard budget; the ledger never holds and spends more than the limit allows, and once
flushed its spend is its rows to the nanodollar."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from router import Budget, BudgetExceededError, LedgerRow, ledger_from_url
from router.ledger.leases import LeasedLedger

from .test_ledger_contract import ALICE

LIMIT = Decimal("1")
WORSTS = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("0.3"), places=3)


def make_row(call: str, cost: Decimal, ts: float) -> LedgerRow:
    return LedgerRow(
        call, ts, ALICE["model"], ALICE["model"], tuple(sorted(ALICE.items())), 10, 10, 0, 0,
        cost, cost, cost, cost, "ok", 0.1, 1,
    )  # fmt: skip


class LeaseMachine(RuleBasedStateMachine):
    """The model: the calls admitted and not yet settled (their worst cases), what was
    settled, and what the gateway reported beyond a worst case."""

    folder: Path = Path(".")

    def __init__(self) -> None:
        super().__init__()
        self.now = 1_900_000_000.0
        url = f"sqlite:///{self.folder}/{uuid.uuid4().hex}.db"
        inner = ledger_from_url(url)
        inner.set_budget(Budget.parse("global", LIMIT))
        # Flushed by hand (the background flusher waits 1,000 s), on a clock the test moves.
        self.ledger = LeasedLedger(
            inner, rate=0, flush_seconds=1000, lease_seconds=4000, clock=lambda: self.now
        )
        self.inner = inner
        self.open: dict[str, Decimal] = {}
        self.settled = Decimal(0)
        self.excess = Decimal(0)
        self.count = 0

    def teardown(self) -> None:
        for call, worst in list(self.open.items()):
            self.ledger.settle(make_row(call, worst, self.now), self.now)
        self.ledger.close()  # records every row and returns every lease's room
        reopened = ledger_from_url(f"sqlite:///{self.inner.path}")  # type: ignore[attr-defined]  # a SQLite ledger
        (status,) = reopened.status(self.now)
        rows = sum((r.cost for r in reopened.rows()), Decimal(0))
        reopened.close()
        assert status.reserved == 0
        assert status.spent == rows == self.settled + sum(self.open.values(), Decimal(0))

    @rule(worst=WORSTS)
    def reserve(self, worst: Decimal) -> None:
        self.count += 1
        call = f"c{self.count}"
        try:
            self.ledger.reserve(call, worst, ALICE, self.now, sent=True)
        except BudgetExceededError:
            # Refused only when what is settled and the open calls' worst cases leave no room
            # for it: as the plain path decides, whatever the lease held beyond them.
            assert self.settled + sum(self.open.values(), Decimal(0)) + worst > LIMIT
            return
        self.open[call] = worst

    @precondition(lambda self: bool(self.open))
    @rule(data=st.data(), share=st.decimals(min_value=0, max_value=Decimal("1.2"), places=2))
    def settle(self, data: st.DataObject, share: Decimal) -> None:
        call = data.draw(st.sampled_from(sorted(self.open)))
        worst = self.open.pop(call)
        cost = (worst * share).quantize(Decimal("0.000001"))
        assert self.ledger.settle(make_row(call, cost, self.now), self.now)
        assert not self.ledger.settle(make_row(call, cost, self.now), self.now)
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
        (status,) = self.inner.status(self.now)
        assert status.spent == sum((r.cost for r in self.inner.rows()), Decimal(0))
        assert status.spent == self.settled

    @rule(seconds=st.sampled_from([0.3, 1.5, 5.0]))
    def wait(self, seconds: float) -> None:
        self.now += seconds

    @invariant()
    def within_the_limit(self) -> None:
        """Spend and holds together (leases' room included) never pass the limit, except by
        what the gateway reported beyond worst cases."""
        (status,) = self.inner.status(self.now)
        assert status.spent + status.reserved <= LIMIT + self.excess
        assert status.spent <= self.settled  # rows not yet flushed are not counted twice


def test_a_leased_ledger_behaves_like_the_model(tmp_path: Path) -> None:
    """Random sequences of admissions, settlements (some above the worst case), releases,
    flushes and waits keep a leased SQLite ledger within its limit and exact."""

    class Machine(LeaseMachine):
        folder = tmp_path

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
        machine.reserve(Decimal("0.1"))
        if len(machine.open) > before:
            admitted += 1
            call = max(machine.open, key=lambda c: int(c[1:]))
            worst = machine.open.pop(call)
            machine.ledger.settle(make_row(call, worst * share, machine.now), machine.now)
            machine.settled += worst * share
    # 20 settled ($0.90) leave room for a 21st's $0.10 worst case; 21 ($0.945) do not for a 22nd.
    assert admitted == 21
    machine.teardown()
