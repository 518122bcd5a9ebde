"""The ledger's SQL schema, one per engine, and the mapping of a call's row to its columns.

Shared by the SQLite and PostgreSQL ledgers. Money columns hold whole nanodollars (BIGINT), so
sums in SQL are exact on both engines; a budget's columns (``limit_nusd``, ``spent_nusd``,
``amount_nusd`` in budgets, budget_spend, holds and alerts_fired) hold its unit's stored units
(``budgets.UNITS``: nanodollars, or whole tokens or requests), its ``period`` column the
budget's period key (``Budget.counter``). The ``calls`` columns are named once, in
:data:`CALL_COLUMNS`: the table, the INSERT and the SELECT are made from it.

There has been no release yet: each engine's schema is written whole at :data:`SCHEMA_VERSION`
for a new ledger, and :data:`MIGRATIONS` takes an existing one from version 1 on.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from ..estimate.basis import Basis
from .base import LedgerRow
from .budgets import from_units, to_units
from .calendar import calendar_keys

SCHEMA_VERSION = 4
#: The calibrations table: each version learned from metered calls, the newest in force.
CALIBRATIONS = """CREATE TABLE calibrations (
    version INTEGER PRIMARY KEY, created_at DOUBLE PRECISION NOT NULL, body TEXT NOT NULL)"""
#: Each alert fired, once per budget window across every process (the primary key decides).
ALERTS_FIRED = """CREATE TABLE alerts_fired (
    scope TEXT NOT NULL, period TEXT NOT NULL, win TEXT NOT NULL, alert TEXT NOT NULL,
    fired_at DOUBLE PRECISION NOT NULL, spent_nusd BIGINT NOT NULL,
    PRIMARY KEY (scope, period, win, alert))"""
#: Each budget lease's last step applied (``Ledger.lease``: a retried step is applied once);
#: what a lease holds is a sent pending entry of attempt 0 with its holds, like a call's.
LEASES = """CREATE TABLE leases (
    lease_id TEXT NOT NULL PRIMARY KEY, seq INTEGER NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL)"""
#: What takes a ledger of each older version to the next, in order. Version 2 keeps each call's
#: estimate basis (a column added last, so positional INSERTs of older rows still fit) and the
#: calibrations learned from them.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE calls ADD COLUMN basis TEXT NOT NULL DEFAULT ''",
        CALIBRATIONS,
        "ALTER TABLE budgets ADD COLUMN alerts TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE budgets ADD COLUMN webhook TEXT NOT NULL DEFAULT ''",
        ALERTS_FIRED,
    ),
    2: (LEASES,),  # version 3: budget leases; reservations marked sent as they are made
    # Version 4: budgets in tokens and requests. Their period is stored as "minute/requests"
    # (Budget.counter), so the tables keep their keys and a USD budget's rows are unchanged;
    # PostgreSQL's functions are replaced (_migrated).
    3: (),
}

#: The ``calls`` table, column by column: (name, SQL type). Everything about a call but its
#: content, one row per attempt that may have been charged (``attempt`` numbers them within the
#: call); ``day``/``week``/``month`` are its UTC calendar windows, for reports.
CALL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("call_id", "TEXT NOT NULL"),
    ("attempt", "INTEGER NOT NULL"),
    ("ts", "DOUBLE PRECISION NOT NULL"),
    ("day", "TEXT NOT NULL"),
    ("week", "TEXT NOT NULL"),
    ("month", "TEXT NOT NULL"),
    ("requested_model", "TEXT NOT NULL"),
    ("served_model", "TEXT NOT NULL"),
    ("provider", "TEXT NOT NULL"),
    ("user_tag", "TEXT"),
    ("project_tag", "TEXT"),
    ("tags", "TEXT NOT NULL"),
    ("input_tokens", "BIGINT NOT NULL"),
    ("output_tokens", "BIGINT NOT NULL"),
    ("cached_tokens", "BIGINT NOT NULL"),
    ("reasoning_tokens", "BIGINT NOT NULL"),
    ("est_low_nusd", "BIGINT NOT NULL"),
    ("est_expected_nusd", "BIGINT NOT NULL"),
    ("est_high_nusd", "BIGINT NOT NULL"),
    ("cost_nusd", "BIGINT NOT NULL"),
    ("status", "TEXT NOT NULL"),
    ("latency", "DOUBLE PRECISION NOT NULL"),
    ("attempts", "INTEGER NOT NULL"),
    ("note", "TEXT NOT NULL"),
    ("basis", "TEXT NOT NULL DEFAULT ''"),
)
COLUMN_NAMES = ", ".join(name for name, _ in CALL_COLUMNS)
INSERT_ROW = f"INSERT INTO calls ({COLUMN_NAMES}) VALUES ({', '.join('?' * len(CALL_COLUMNS))})"


@functools.lru_cache(maxsize=64)
def values_list(rows: int, width: int) -> str:
    """``(?, ?), (?, ?)``: placeholders for a multi-row VALUES list."""
    row = "(" + ", ".join("?" * width) + ")"
    return ", ".join([row] * rows)


def insert_rows(count: int) -> str:
    """An INSERT of ``count`` calls rows in one statement."""
    return f"INSERT INTO calls ({COLUMN_NAMES}) VALUES {values_list(count, len(CALL_COLUMNS))}"


def tables(clustered: str) -> tuple[str, ...]:
    """The tables both engines share. ``clustered`` ends the hot tables' definitions: SQLite
    stores them without a rowid (one B-tree page fewer per write)."""
    calls = ",\n    ".join(f"{name} {kind}" for name, kind in CALL_COLUMNS)
    return (
        """CREATE TABLE budgets (
    scope TEXT NOT NULL, period TEXT NOT NULL, limit_nusd BIGINT NOT NULL,
    soft INTEGER NOT NULL, tz TEXT NOT NULL, alerts TEXT NOT NULL DEFAULT '',
    webhook TEXT NOT NULL DEFAULT '', PRIMARY KEY (scope, period))""",
        f"""CREATE TABLE budget_spend (
    scope TEXT NOT NULL, period TEXT NOT NULL, win TEXT NOT NULL,
    spent_nusd BIGINT NOT NULL, PRIMARY KEY (scope, period, win)){clustered}""",
        f"""CREATE TABLE holds (
    call_id TEXT NOT NULL, attempt INTEGER NOT NULL, scope TEXT NOT NULL, period TEXT NOT NULL,
    win TEXT NOT NULL, amount_nusd BIGINT NOT NULL, expires_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (call_id, attempt, scope, period)){clustered}""",
        "CREATE INDEX holds_by_budget ON holds (scope, period, win, expires_at, amount_nusd)",
        f"""CREATE TABLE pending (
    call_id TEXT NOT NULL, attempt INTEGER NOT NULL, tags TEXT NOT NULL,
    amount_nusd BIGINT NOT NULL, reserved_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL, sent_at DOUBLE PRECISION,
    PRIMARY KEY (call_id, attempt)){clustered}""",
        "CREATE INDEX pending_by_expiry ON pending (expires_at)",
        f"CREATE TABLE calls (\n    {calls},\n    PRIMARY KEY (call_id, attempt))",
        CALIBRATIONS,
        ALERTS_FIRED,
        LEASES,
        "CREATE INDEX calls_by_ts ON calls (ts)",
    )


#: Group keys and the column each reads (``tag:NAME`` reads the tags JSON).
GROUP_COLUMNS = {
    "day": "day",
    "week": "week",
    "month": "month",
    "model": "served_model",
    "provider": "provider",
    "user": "user_tag",
    "project": "project_tag",
}

#: The aggregate columns of a report, as SQL over ``calls`` (money in nanodollars), in the
#: order of :func:`~router.ledger.spend.report_row`'s values.
AGGREGATES = (
    "COUNT(*), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), "
    "COALESCE(SUM(cost_nusd), 0), "
    "COALESCE(SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END), 0), "
    "COALESCE(SUM(CASE WHEN status IN ('unmetered', 'orphaned') THEN 1 ELSE 0 END), 0), "
    "COALESCE(SUM(CASE WHEN status = 'ok' THEN cost_nusd ELSE 0 END), 0), "
    "COALESCE(SUM(CASE WHEN status = 'ok' THEN est_expected_nusd ELSE 0 END), 0), "
    "COALESCE(SUM(CASE WHEN cost_nusd > est_high_nusd THEN 1 ELSE 0 END), 0)"
)


@functools.lru_cache(maxsize=1024)
def tags_json(tags: tuple[tuple[str, str], ...]) -> str:
    """A call's tags as stored: a JSON object with sorted keys (calls repeat their tags)."""
    return json.dumps(dict(tags), sort_keys=True)


def row_values(row: LedgerRow) -> tuple[Any, ...]:
    """The row's column values, in :data:`CALL_COLUMNS` order."""
    tags = row.tag_map
    return (
        row.call_id,
        row.attempt,
        row.ts,
        *calendar_keys(row.ts),
        row.requested_model,
        row.served_model,
        row.served_model.partition(":")[0],
        tags.get("user"),
        tags.get("project"),
        tags_json(row.tags),
        row.input_tokens,
        row.output_tokens,
        row.cached_tokens,
        row.reasoning_tokens,
        to_units(row.estimate_low),
        to_units(row.estimate_expected),
        to_units(row.estimate_high),
        to_units(row.cost),
        row.status,
        row.latency,
        row.attempts,
        row.note,
        "" if row.basis is None else row.basis.to_json(),
    )


def row_from(values: Sequence[Any]) -> LedgerRow:
    """The row a SELECT of :data:`CALL_COLUMNS` read (the derived columns are skipped)."""
    column = dict(zip((name for name, _ in CALL_COLUMNS), values, strict=True))
    return LedgerRow(
        call_id=column["call_id"],
        attempt=int(column["attempt"]),
        ts=float(column["ts"]),
        requested_model=column["requested_model"],
        served_model=column["served_model"],
        tags=tuple(sorted(json.loads(column["tags"]).items())),
        input_tokens=int(column["input_tokens"]),
        output_tokens=int(column["output_tokens"]),
        cached_tokens=int(column["cached_tokens"]),
        reasoning_tokens=int(column["reasoning_tokens"]),
        estimate_low=from_units(int(column["est_low_nusd"])),
        estimate_expected=from_units(int(column["est_expected_nusd"])),
        estimate_high=from_units(int(column["est_high_nusd"])),
        cost=from_units(int(column["cost_nusd"])),
        status=column["status"],
        latency=float(column["latency"]),
        attempts=int(column["attempts"]),
        note=column["note"],
        basis=Basis.from_json(column["basis"]),
    )
