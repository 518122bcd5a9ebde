"""Each ledger backend against a plain model of budgets, holds and rows (hypothesis, stateful)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from router import Budget, BudgetExceededError, Ledger, LedgerRow, PostgresLedger, ledger_from_url
from router.ledger.sql import SQLLedger

from .conftest import BACKENDS, postgres_schema_url

USERS = ("alice", "bob")
AMOUNTS = st.decimals(min_value=0, max_value=1, places=3)
HOLD = 100.0


def make_row(call_id: str, user: str, cost: Decimal) -> LedgerRow:
    tags = (("model", "gpt:gpt-4o"), ("provider", "gpt"), ("user", user))
    return LedgerRow(
        call_id,
        0.0,
        "gpt:gpt-4o",
        "gpt:gpt-4o",
        tags,
        1,
        1,
        0,
        0,
        cost,
        cost,
        cost,
        cost,
        "ok",
        0.1,
        1,
    )


class LedgerMachine(RuleBasedStateMachine):
    """Budgets: a global one and one per user (hard, total). The model: dicts and sums."""

    url: str = "memory://"

    def __init__(self) -> None:
        super().__init__()
        self.ledger: Ledger = ledger_from_url(self.url)
        self.limits: dict[str, Decimal] = {}
        self.spent: dict[str, Decimal] = {}
        # call → (user, amount, expires, the budgets that existed when it was reserved)
        self.holds: dict[str, tuple[str, Decimal, float, tuple[str, ...]]] = {}
        self.rows: dict[str, Decimal] = {}
        self.now = 1_000_000.0
        self.counter = 0
        tables = ["calls", "holds", "budget_spend", "budgets"]
        if isinstance(self.ledger, PostgresLedger):
            tables.append("spend_deltas")  # settled costs not yet folded into budget_spend
        for table in tables:
            self._wipe(table)

    def _wipe(self, table: str) -> None:
        if isinstance(self.ledger, SQLLedger):
            with self.ledger._transaction() as cur:
                cur.execute(f"DELETE FROM {table}")

    def teardown(self) -> None:
        self.ledger.close()

    def scopes(self, user: str) -> list[str]:
        return [s for s in ("global", f"user={user}") if s in self.limits]

    def live(self, scope: str, exclude: str = "") -> Decimal:
        return sum(
            (
                amount
                for call, (_, amount, expires, held) in self.holds.items()
                if expires > self.now and call != exclude and scope in held
            ),
            Decimal(0),
        )

    @rule(
        scope=st.sampled_from(["global", *(f"user={u}" for u in USERS)]),
        limit=st.decimals(min_value=0, max_value=2, places=2),
    )
    def set_budget(self, scope: str, limit: Decimal) -> None:
        self.ledger.set_budget(Budget.parse(scope, limit, period="total"))
        self.limits[scope] = limit

    @rule(user=st.sampled_from(USERS), amount=AMOUNTS)
    def reserve(self, user: str, amount: Decimal) -> None:
        self.counter += 1
        call = f"c{self.counter}"
        fits = all(
            self.spent.get(s, Decimal(0)) + self.live(s, call) + amount <= self.limits[s]
            for s in self.scopes(user)
        )
        tags = {"user": user, "model": "gpt:gpt-4o", "provider": "gpt"}
        if fits:
            self.ledger.reserve(call, amount, tags, self.now, HOLD)
            self.holds[call] = (user, amount, self.now + HOLD, tuple(self.scopes(user)))
        else:
            with pytest.raises(BudgetExceededError):
                self.ledger.reserve(call, amount, tags, self.now, HOLD)

    @precondition(lambda self: bool(self.holds))
    @rule(data=st.data(), fraction=st.decimals(min_value=0, max_value=1, places=2))
    def settle(self, data: st.DataObject, fraction: Decimal) -> None:
        call = data.draw(st.sampled_from(sorted(self.holds)))
        user, amount, _, held = self.holds.pop(call)
        cost = (amount * fraction).quantize(Decimal("0.00001"))
        assert self.ledger.settle(make_row(call, user, cost), self.now)
        assert not self.ledger.settle(make_row(call, user, cost), self.now)
        # Spend goes to the budgets it held, or (no hold) to those its tags match now.
        for scope in held or self.scopes(user):
            self.spent[scope] = self.spent.get(scope, Decimal(0)) + cost
        self.rows[call] = cost

    @precondition(lambda self: bool(self.holds))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        call = data.draw(st.sampled_from(sorted(self.holds)))
        self.holds.pop(call)
        self.ledger.release(call, self.now)

    @rule(seconds=st.sampled_from([1.0, 50.0, 150.0]))
    def wait(self, seconds: float) -> None:
        self.now += seconds

    @invariant()
    def matches_the_model(self) -> None:
        statuses = {s.budget.scope_text: s for s in self.ledger.status(self.now)}
        assert set(statuses) == set(self.limits)
        for scope, status in statuses.items():
            assert status.spent == self.spent.get(scope, Decimal(0))
            assert status.reserved == self.live(scope)
            assert status.budget.limit == self.limits[scope]
        assert {r.call_id: r.cost for r in self.ledger.rows()} == self.rows


@pytest.fixture(params=BACKENDS)
def machine_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('stateful')}/ledger.db"
    else:
        yield from postgres_schema_url()


def test_backend_behaves_like_the_model(machine_url: str) -> None:
    """Random sequences of budget, reserve, settle, release and waiting agree with the model."""

    class Machine(LedgerMachine):
        url = machine_url

    settings(max_examples=25, stateful_step_count=25, deadline=None)(Machine)
    Machine.TestCase().runTest()
