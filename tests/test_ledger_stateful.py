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


def make_row(
    call_id: str, user: str, cost: Decimal, tokens: int = 2, status: str = "ok"
) -> LedgerRow:
    tags = (("model", "gpt:gpt-4o"), ("provider", "gpt"), ("user", user))
    return LedgerRow(
        call_id,
        0.0,
        "gpt:gpt-4o",
        "gpt:gpt-4o",
        tags,
        tokens - tokens // 2,
        tokens // 2,
        0,
        0,
        cost,
        cost,
        cost,
        cost,
        status,
        0.1,
        1,
    )


#: A budget in the model: its scope and unit (every budget is hard, for all time).
Key = tuple[str, str]
SCOPES = ["global", *(f"user={u}" for u in USERS)]


def counts(unit: str, cost: Decimal, tokens: int) -> Decimal:
    """What a call counts in ``unit``: the model of ``Budget.charge`` and settlement."""
    return {"usd": cost, "tokens": Decimal(tokens), "requests": Decimal(1)}[unit]


class LedgerMachine(RuleBasedStateMachine):
    """Budgets: global and per user, in USD, tokens or requests (hard, total). The model:
    dicts and sums."""

    url: str = "memory://"

    def __init__(self) -> None:
        super().__init__()
        self.ledger: Ledger = ledger_from_url(self.url)
        self.limits: dict[Key, Decimal] = {}
        self.spent: dict[Key, Decimal] = {}
        # call → (user, amount, tokens, expires, the budgets that existed when it was reserved)
        self.holds: dict[str, tuple[str, Decimal, int, float, tuple[Key, ...]]] = {}
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

    def keys(self, user: str) -> list[Key]:
        return [k for k in self.limits if k[0] in ("global", f"user={user}")]

    def live(self, key: Key, exclude: str = "") -> Decimal:
        return sum(
            (
                counts(key[1], amount, tokens)
                for call, (_, amount, tokens, expires, held) in self.holds.items()
                if expires > self.now and call != exclude and key in held
            ),
            Decimal(0),
        )

    @rule(
        scope=st.sampled_from(SCOPES),
        unit=st.sampled_from(["usd", "usd", "tokens", "requests"]),
        limit=st.decimals(min_value=0, max_value=2, places=2),
    )
    def set_budget(self, scope: str, unit: str, limit: Decimal) -> None:
        if unit != "usd":
            limit = (limit * 1000 if unit == "tokens" else limit * 3).to_integral()
        self.ledger.set_budget(Budget.parse(scope, limit, period="total", unit=unit))
        self.limits[scope, unit] = limit

    @rule(user=st.sampled_from(USERS), amount=AMOUNTS, tokens=st.integers(0, 600))
    def reserve(self, user: str, amount: Decimal, tokens: int) -> None:
        self.counter += 1
        call = f"c{self.counter}"
        fits = all(
            self.spent.get(k, Decimal(0)) + self.live(k, call) + counts(k[1], amount, tokens)
            <= self.limits[k]
            for k in self.keys(user)
        )
        tags = {"user": user, "model": "gpt:gpt-4o", "provider": "gpt"}
        if fits:
            self.ledger.reserve(call, amount, tags, self.now, HOLD, tokens=tokens)
            self.holds[call] = (user, amount, tokens, self.now + HOLD, tuple(self.keys(user)))
        else:
            with pytest.raises(BudgetExceededError):
                self.ledger.reserve(call, amount, tags, self.now, HOLD, tokens=tokens)

    @precondition(lambda self: bool(self.holds))
    @rule(
        data=st.data(),
        fraction=st.decimals(min_value=0, max_value=1, places=2),
        used=st.integers(0, 800),
        metered=st.booleans(),
    )
    def settle(self, data: st.DataObject, fraction: Decimal, used: int, metered: bool) -> None:
        call = data.draw(st.sampled_from(sorted(self.holds)))
        user, amount, tokens, _, held = self.holds.pop(call)
        cost = (amount * fraction).quantize(Decimal("0.00001"))
        status = "ok" if metered else "unmetered"
        row = make_row(call, user, cost, used, status)
        assert self.ledger.settle(row, self.now)
        assert not self.ledger.settle(row, self.now)
        # Spend goes to the budgets it held (even once the hold's time is up), or (no hold) to
        # those its tags match now; without usage, at least the tokens it held.
        counted = used if metered or not held else max(used, tokens)
        for key in held or self.keys(user):
            self.spent[key] = self.spent.get(key, Decimal(0)) + counts(key[1], cost, counted)
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
        statuses = {(s.budget.scope_text, s.budget.unit): s for s in self.ledger.status(self.now)}
        assert set(statuses) == set(self.limits)
        for key, status in statuses.items():
            assert status.spent == self.spent.get(key, Decimal(0))
            assert status.reserved == self.live(key)
            assert status.budget.limit == self.limits[key]
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
