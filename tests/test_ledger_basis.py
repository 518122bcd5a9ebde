"""Each call's estimate basis (counts and sizes, no content) is kept on its ledger row, on
every backend, and a ledger made before the basis existed is brought up to date on open."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from router import Budget, Estimator, Ledger, LedgerRow, Request, Router, ledger_from_url
from router.estimate.basis import Basis
from router.testing import FakeClient

from .conftest import postgres_schema_url
from .images import png

#: What versions 2 and 3 added, taken away again: a version 1 ledger.
V1_DOWNGRADE = (
    "DROP TABLE leases",
    "ALTER TABLE calls DROP COLUMN basis",
    "DROP TABLE calibrations",
    "ALTER TABLE budgets DROP COLUMN alerts",
    "ALTER TABLE budgets DROP COLUMN webhook",
    "DROP TABLE alerts_fired",
)
PNG_800 = "data:image/png;base64," + base64.b64encode(png(800, 600)).decode()


def _row(call_id: str, basis: Basis | None) -> LedgerRow:
    return LedgerRow(
        call_id=call_id, ts=1_700_000_000.0, requested_model="gpt:gpt-4o",
        served_model="gpt:gpt-4o", tags=(("user", "a"),), input_tokens=10, output_tokens=5,
        cached_tokens=0, reasoning_tokens=0, estimate_low=Decimal("0.001"),
        estimate_expected=Decimal("0.002"), estimate_high=Decimal("0.003"),
        cost=Decimal("0.002"), status="ok", latency=0.1, attempts=1, basis=basis,
    )  # fmt: skip


def test_the_estimate_names_what_it_was_made_of() -> None:
    """A request of two messages, a name and an image of known size: the basis holds the text's
    counted tokens, the template's, the image's size and tokens, and the output prior."""
    request = Request.from_openai(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "name": "ann", "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": PNG_800}},
            ]},
        ],
        n=2,
    )  # fmt: skip
    estimate = Estimator().estimate(request, "gpt:gpt-4o")
    basis = estimate.basis
    assert basis is not None
    assert basis.text_exact
    assert (basis.messages, basis.names, basis.choices, basis.output_prior) == (2, 1, 2, 400)
    assert basis.overhead == estimate.overhead == 3 * 2 + 1 + 3
    tokens = estimate.images[0].tokens
    assert basis.images == ((800, 600, tokens.low, tokens.expected, tokens.high),)
    assert basis.expected_input == estimate.input_tokens.expected
    assert Basis.from_json(basis.to_json()) == basis


def test_a_routed_call_records_its_basis(ledger: Ledger) -> None:
    """A call through the Router: its row carries the chosen model's basis, read back equal."""
    router = Router(client=FakeClient(input_tokens=1200, output_tokens=80), ledger=ledger)
    result = router.call(Request.from_prompt("Describe it.", [png(640, 480)]), tags={"user": "a"})
    [row] = ledger.rows()
    assert row.basis is not None
    assert row.basis == result.estimate.basis
    assert row.basis.images[0][:2] == (640, 480)


def test_rows_keep_their_basis_or_none(ledger: Ledger) -> None:
    """A row with a basis and one without (an orphan has none) read back as recorded."""
    images = ((None, None, 258, 258, 6192), (1024, 768, 258, 1032, 1032))
    basis = Basis(12, True, 7, 2, 0, images, 400, 1)
    ledger.settle(_row("with", basis), 1_700_000_001.0)
    ledger.settle(_row("without", None), 1_700_000_001.0)
    rows = {row.call_id: row for row in ledger.rows()}
    assert rows["with"].basis == basis
    assert rows["without"].basis is None


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_version_1_ledger_is_upgraded_on_open(backend: str, tmp_path: Path) -> None:
    """A ledger at schema version 1 (no basis column, calibrations or alerts), holding a row:
    opening it adds them (and version 3's leases) and records version 4; the old row reads with no basis, a new one keeps its own.
    A read-only open (reports) upgrades it too."""
    basis = Basis(3, True, 8, 1, 0, (), 400, 1)
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/old.db"
        ledger_from_url(url).close()
        with sqlite3.connect(tmp_path / "old.db") as db:
            _to_version_1(db.execute)
        reader = ledger_from_url(url, read_only=True)
        assert [row.basis for row in reader.rows()] == [None]
        reader.close()
        with sqlite3.connect(tmp_path / "old.db") as db:
            assert db.execute("SELECT MAX(version) FROM costrouter_schema").fetchone() == (4,)
        _check_upgraded(url, basis)
        return
    for url in postgres_schema_url():
        import psycopg

        ledger_from_url(url).close()
        with psycopg.connect(url, autocommit=True) as db:
            _to_version_1(db.execute)
        _check_upgraded(url, basis)
        with psycopg.connect(url, autocommit=True) as db:
            assert db.execute("SELECT MAX(version) FROM costrouter_schema").fetchone() == (4,)


def _to_version_1(execute: Callable[[str], object]) -> None:
    """Take a new ledger back to schema version 1, holding one recorded call."""
    for statement in V1_DOWNGRADE:
        execute(statement)
    execute("DELETE FROM costrouter_schema")
    execute("INSERT INTO costrouter_schema VALUES (1)")
    execute(
        "INSERT INTO calls VALUES ('old', 1, 1.7e9, '2023-11-14', '2023-11-13', "
        "'2023-11-01', 'gpt:gpt-4o', 'gpt:gpt-4o', 'gpt', 'a', NULL, '{\"user\": \"a\"}', "
        "10, 5, 0, 0, 1, 2, 3, 2, 'ok', 0.1, 1, '')"
    )


def _check_upgraded(url: str, basis: Basis) -> None:
    ledger = ledger_from_url(url)
    try:
        ledger.settle(_row("new", basis), 1_700_000_001.0)
        rows = {row.call_id: row for row in ledger.rows()}
        assert rows["old"].basis is None
        assert rows["old"].cost == Decimal("0.000000002")
        assert rows["new"].basis == basis
        # The functions came with the upgrade: a per-minute budget gets its clock window.
        ledger.set_budget(Budget.parse("global", "1", period="minute", alerts="50"))
        reservation = ledger.reserve("m", Decimal("0.01"), {}, 1_764_662_339.5)
        assert [hold.window for hold in reservation.holds] == ["2025-12-02T07:58"]
        assert [b.alerts for b in ledger.budgets()] == [("50",)]  # and the alert columns
    finally:
        ledger.close()


def test_rows_by_time_and_the_newest(ledger: Ledger) -> None:
    """rows() takes a time range (start included, end not) and the newest N, oldest first."""
    import attrs

    for n in range(6):
        ledger.settle(attrs.evolve(_row(f"c{n}", None), ts=1000.0 + n), 2000.0)

    def ids(rows: list[LedgerRow]) -> list[str]:
        return [r.call_id for r in rows]

    assert ids(ledger.rows()) == ["c0", "c1", "c2", "c3", "c4", "c5"]
    assert ids(ledger.rows(1001.0, 1004.0)) == ["c1", "c2", "c3"]
    assert ids(ledger.rows(newest=2)) == ["c4", "c5"]
    assert ids(ledger.rows(1001.0, 1004.0, newest=2)) == ["c2", "c3"]
    assert ids(ledger.rows(until=1001.0)) == ["c0"]
