"""What only the PostgreSQL ledger does: settled costs land in ``spend_deltas`` and
reservations fold them into the spend rows; the schema is made whole at version 1."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from router import Budget, PostgresLedger
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


def test_schema_is_version_4_and_an_unknown_version_is_refused(url: str) -> None:
    """A new PostgreSQL ledger is made at schema version 4 with spend_deltas and the server
    functions, each once (older signatures are dropped); a database whose schema is a version this build does not know is refused."""
    from router import LedgerError, PostgresLedger

    ledger = PostgresLedger(url)
    assert fetch(ledger, "SELECT MAX(version) FROM costrouter_schema") == [(4,)]
    functions = fetch(
        ledger,
        "SELECT proname FROM pg_proc WHERE proname LIKE 'costrouter%' "
        "AND pronamespace = current_schema()::regnamespace ORDER BY 1",
    )
    assert [name for (name,) in functions] == [
        "costrouter_counted",
        "costrouter_matching",
        "costrouter_pend",
        "costrouter_reserve",
        "costrouter_sent",
        "costrouter_settle",
        "costrouter_sweep",
    ]
    fetch(ledger, "INSERT INTO costrouter_schema VALUES (5) RETURNING version")
    ledger.close()
    with pytest.raises(LedgerError, match="schema version 5"):
        PostgresLedger(url)


def test_calls_survive_their_ledger_connections_being_killed(url: str) -> None:
    """Terminating the ledger's PostgreSQL backends every 0.2 s while 8 threads make 56 calls:
    calls fail with the library's errors only, nothing the gateway served goes unrecorded
    (once sent holds are swept, recorded $ >= upstream $), and no hold is left."""
    import threading
    import time

    import psycopg

    from router import GatewayClient, LedgerError, Request, RetryPolicy, Router, RouterError

    from .gateway_server import API_KEY, FakeGateway

    victim = f"{url}&application_name=costrouter-victim"
    ledger = PostgresLedger(victim, max_size=8)
    request = Request.from_prompt("Count to three.", max_tokens=100)
    model = "gpt:gpt-4o-mini"
    outcomes: list[str] = []
    stop = threading.Event()

    def kill() -> None:
        with psycopg.connect(url.split("?", maxsplit=1)[0], autocommit=True) as admin:
            while not stop.wait(0.2):
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'costrouter-victim'"
                )

    with FakeGateway() as gateway:
        client = GatewayClient(API_KEY, gateway.base_url, retry=RetryPolicy(attempts=1))
        router = Router(client=client, ledger=ledger)

        def work() -> None:
            for _ in range(60 // 8):
                try:
                    router.call(request, model=model)
                    outcomes.append("ok")
                except RouterError as exc:  # anything else fails the thread, so the test
                    outcomes.append("ledger" if isinstance(exc, LedgerError) else "other")

        killer = threading.Thread(target=kill)
        killer.start()
        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=240)
        stop.set()
        killer.join()
        served = len(gateway.received)
        upstream = served * price_of(gateway, model)
    later = time.time() + 400  # past every hold: the sweep bills what was sent, unsettled
    ledger.reserve("sweep", Decimal(0), {}, later)
    rows = [r for r in ledger.rows() if r.status != "error"]
    recorded = sum((r.cost for r in rows), Decimal(0))
    ledger.close()
    print(
        f"\nkilled backends: {outcomes.count('ok')} of 56 calls answered, {served} served, "
        f"upstream ${upstream}, recorded ${recorded}"
    )
    assert len(outcomes) == 56
    assert "other" not in outcomes
    assert len(rows) >= served
    assert recorded >= upstream > 0


def price_of(gateway: Any, model: str) -> Decimal:
    """What the loopback gateway charges for one of this test's calls (it is deterministic)."""
    from pricing import Catalog, Usage, price
    from router import Request
    from router.gateway.wire import request_body

    catalog = Catalog.bundled()
    body = request_body(Request.from_prompt("Count to three.", max_tokens=100), catalog.get(model))
    tokens_in, tokens_out = gateway.usage_for(body)
    return price(catalog.get(model), Usage(tokens_in, tokens_out)).total


def test_the_sql_script_and_the_python_constants_agree() -> None:
    """postgres.sql repeats three of the Python side's facts in SQL: the fold threshold, how
    long an unsent reservation stays, and the orphaned row's note."""
    from router.ledger.base import ORPHAN_NOTE, STALE_SECONDS
    from router.ledger.postgres import functions

    script = functions()
    assert f"unfolded >= {FOLD_AFTER} THEN" in script
    assert f"p_now - {int(STALE_SECONDS)})" in script
    assert f"'{ORPHAN_NOTE}'" in script


@pytest.mark.parametrize("version", [2, 3])
def test_an_older_database_gets_the_new_functions(url: str, version: int) -> None:
    """A version 2 database (its reservation function of six arguments, no leases table) or a
    version 3 one (seven arguments) is brought to version 4 on open: the old signature is
    dropped, not left beside the new one, and a reservation marked sent as it is made works."""
    import psycopg

    PostgresLedger(url).close()
    with psycopg.connect(url, autocommit=True) as db:
        if version == 2:
            db.execute("DROP TABLE leases")
        db.execute("DROP FUNCTION costrouter_reserve")
        db.execute(
            "CREATE FUNCTION costrouter_reserve(text, integer, bigint, jsonb, double precision, "
            f"double precision{', boolean' * (version == 3)}) RETURNS void LANGUAGE sql AS ''"
        )
        db.execute("DELETE FROM costrouter_schema")
        db.execute("INSERT INTO costrouter_schema VALUES (%s)", (version,))
    ledger = PostgresLedger(url)
    try:
        names = fetch(
            ledger,
            "SELECT proname FROM pg_proc WHERE proname = 'costrouter_reserve' "
            "AND pronamespace = current_schema()::regnamespace",
        )
        assert names == [("costrouter_reserve",)]
        ledger.set_budget(Budget.parse("global", "1"))
        ledger.reserve("c", Decimal("0.25"), {}, 1_700_000_000.0, 10.0, sent=True)
        (status,) = ledger.status(1_700_000_000.0 + 3600)  # a sent hold outlives its time
        assert status.reserved == Decimal("0.25")
        assert fetch(ledger, "SELECT COUNT(*) FROM leases") == [(0,)]
    finally:
        ledger.close()
