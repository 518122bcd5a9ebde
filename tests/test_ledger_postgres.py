"""What only the PostgreSQL ledger does: settled costs land in ``spend_deltas`` and
reservations fold them into the spend rows; the schema is made whole at version 1."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from router import Budget
from router.ledger.postgres import FOLD_AFTER

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
    from router import PostgresLedger

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


def test_schema_is_version_1_and_another_version_is_refused(url: str) -> None:
    """A new PostgreSQL ledger is made at schema version 1 with spend_deltas and the server
    functions; a database whose schema is another version is refused, naming it."""
    from router import LedgerError, PostgresLedger

    ledger = PostgresLedger(url)
    assert fetch(ledger, "SELECT MAX(version) FROM costrouter_schema") == [(1,)]
    functions = fetch(
        ledger, "SELECT proname FROM pg_proc WHERE proname LIKE 'costrouter%' ORDER BY 1"
    )
    assert [name for (name,) in functions] == [
        "costrouter_matching",
        "costrouter_pend",
        "costrouter_reserve",
        "costrouter_sent",
        "costrouter_settle",
        "costrouter_sweep",
    ]
    fetch(ledger, "INSERT INTO costrouter_schema VALUES (4) RETURNING version")
    ledger.close()
    with pytest.raises(LedgerError, match="schema version 4"):
        PostgresLedger(url)
