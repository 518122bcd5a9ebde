"""What only the PostgreSQL ledger does: settled costs land in ``spend_deltas`` and
reservations fold them into the spend rows; a version-3 ledger is migrated in place."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from router.ledger.budgets import Budget
from router.ledger.pgfunctions import FOLD_AFTER

from .conftest import postgres_schema_url
from .test_ledger_contract import ALICE, NOW, row, spent_reserved


@pytest.fixture
def url() -> Iterator[str]:
    yield from postgres_schema_url()


def fetch(ledger: Any, sql: str) -> list[Any]:
    with ledger._transaction() as cur:
        return list(cur.execute(sql).fetchall())


def test_reservations_fold_settled_deltas_exactly(url: str) -> None:
    """Settlements append deltas; once FOLD_AFTER have piled up, a reservation moves them into
    the spend row. Spend read at every step equals the sum of the settled costs."""
    from router.ledger.postgres import PostgresLedger

    ledger = PostgresLedger(url)
    ledger.set_budget(Budget.parse("global", "1000"))
    ledger.set_budget(Budget.parse("user=alice", "1000"))
    total = Decimal(0)
    for n in range(FOLD_AFTER + 5):
        ledger.reserve(f"c{n}", Decimal("0.5"), ALICE, NOW)
        cost = Decimal(n + 1) / 1000
        ledger.settle(row(f"c{n}", str(cost)), NOW)
        total += cost
        assert spent_reserved(ledger, "global") == (total, 0)
        assert spent_reserved(ledger, "user=alice") == (total, 0)
    # the reservation after the FOLD_AFTER-th settlement folded them; the rest are deltas
    deltas = dict(fetch(ledger, "SELECT scope, count(*) FROM spend_deltas GROUP BY scope"))
    assert deltas == {"global": 5, "user=alice": 5}
    folded = dict(fetch(ledger, "SELECT scope, spent_nusd FROM budget_spend"))
    assert folded["global"] == folded["user=alice"] > 0
    ledger.close()


def test_a_version_3_ledger_is_migrated_with_its_spend_and_holds(url: str) -> None:
    """Opening a version-3 ledger adds spend_deltas and the new functions; budgets, spend and
    holds written by version 3 are still counted, and new calls settle through deltas."""
    from router.ledger.pgfunctions import MIGRATIONS
    from router.ledger.postgres import PostgresLedger
    from router.ledger.sql import SQLLedger

    class Version3(PostgresLedger):
        extra_migrations = tuple(m for m in MIGRATIONS if m[0] <= 3)
        _spent_sql = SQLLedger._spent_sql  # version 3 had no spend_deltas

    old = Version3(url)
    old.set_budget(Budget.parse("global", "10"))
    old.reserve("settled", Decimal("1"), ALICE, NOW)
    old.settle(row("settled", "0.25"), NOW)
    old.reserve("held", Decimal("0.5"), ALICE, NOW)
    assert spent_reserved(old, "global") == (Decimal("0.25"), Decimal("0.5"))
    assert fetch(old, "SELECT MAX(version) FROM costrouter_schema") == [(3,)]
    old.close()

    ledger = PostgresLedger(url)
    assert fetch(ledger, "SELECT MAX(version) FROM costrouter_schema") == [(4,)]
    assert spent_reserved(ledger, "global") == (Decimal("0.25"), Decimal("0.5"))
    ledger.settle(row("held", "0.125"), NOW)
    assert fetch(ledger, "SELECT count(*) FROM spend_deltas") == [(1,)]
    assert spent_reserved(ledger, "global") == (Decimal("0.375"), 0)
    ledger.close()
