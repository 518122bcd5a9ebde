"""The ledger on SQL: one schema and one set of statements for SQLite and PostgreSQL.

Money is stored as whole picodollars (BIGINT), so sums in SQL are exact on both engines.
Statements are written with ``?`` placeholders; a backend translates them for its driver and
supplies the transaction: SQLite's ``BEGIN IMMEDIATE`` takes the write lock before the first
read, PostgreSQL locks each budget's spend row with ``SELECT ... FOR UPDATE``; either way the
check and the holds of :meth:`reserve` are one transaction.
"""

from __future__ import annotations

import abc
import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any, Protocol

from ._budget import Budget, BudgetStatus, from_pico, matching, parse_scope, to_pico, to_stored
from ._ledger import DEFAULT_HOLD_SECONDS, Hold, Ledger, LedgerRow, Reservation, check_limits

SCHEMA_VERSION = 1
#: Versioned migrations: (version, statements). Apply in order; never edit a released one.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE budgets (
            scope TEXT NOT NULL, period TEXT NOT NULL, limit_pusd BIGINT NOT NULL,
            soft INTEGER NOT NULL, tz TEXT NOT NULL, PRIMARY KEY (scope, period))""",
            """CREATE TABLE budget_spend (
            scope TEXT NOT NULL, period TEXT NOT NULL, win TEXT NOT NULL,
            spent_pusd BIGINT NOT NULL, PRIMARY KEY (scope, period, win))""",
            """CREATE TABLE holds (
            call_id TEXT NOT NULL, scope TEXT NOT NULL, period TEXT NOT NULL, win TEXT NOT NULL,
            amount_pusd BIGINT NOT NULL, expires_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (call_id, scope, period))""",
            "CREATE INDEX holds_by_budget ON holds (scope, period, win, expires_at)",
            """CREATE TABLE calls (
            call_id TEXT PRIMARY KEY, ts DOUBLE PRECISION NOT NULL,
            day TEXT NOT NULL, week TEXT NOT NULL, month TEXT NOT NULL,
            requested_model TEXT NOT NULL, served_model TEXT NOT NULL, provider TEXT NOT NULL,
            user_tag TEXT, project_tag TEXT, tags TEXT NOT NULL,
            input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,
            cached_tokens BIGINT NOT NULL, reasoning_tokens BIGINT NOT NULL,
            est_low_pusd BIGINT NOT NULL, est_expected_pusd BIGINT NOT NULL,
            est_high_pusd BIGINT NOT NULL, cost_pusd BIGINT NOT NULL,
            status TEXT NOT NULL, latency DOUBLE PRECISION NOT NULL, attempts INTEGER NOT NULL)""",
            "CREATE INDEX calls_by_ts ON calls (ts)",
        ),
    ),
)
ROW_COLUMNS = (
    "call_id, ts, day, week, month, requested_model, served_model, provider, user_tag, "
    "project_tag, tags, input_tokens, output_tokens, cached_tokens, reasoning_tokens, "
    "est_low_pusd, est_expected_pusd, est_high_pusd, cost_pusd, status, latency, attempts"
)
INSERT_ROW = (
    "INSERT INTO calls (call_id, ts, day, week, month, requested_model, served_model, provider, "
    "user_tag, project_tag, tags, input_tokens, output_tokens, cached_tokens, reasoning_tokens, "
    "est_low_pusd, est_expected_pusd, est_high_pusd, cost_pusd, status, latency, attempts) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SELECT_ROWS = (
    "SELECT call_id, ts, day, week, month, requested_model, served_model, provider, user_tag, "
    "project_tag, tags, input_tokens, output_tokens, cached_tokens, reasoning_tokens, "
    "est_low_pusd, est_expected_pusd, est_high_pusd, cost_pusd, status, latency, attempts "
    "FROM calls ORDER BY ts, call_id"
)


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


def calendar_keys(ts: float) -> tuple[str, str, str]:
    """UTC day, ISO-week start and month start of a Unix time, as ISO dates."""
    day = dt.datetime.fromtimestamp(ts, dt.timezone.utc).date()
    week = day - dt.timedelta(days=day.weekday())
    return day.isoformat(), week.isoformat(), day.replace(day=1).isoformat()


def row_values(row: LedgerRow) -> tuple[Any, ...]:
    tags = row.tag_map
    return (
        row.call_id,
        row.ts,
        *calendar_keys(row.ts),
        row.requested_model,
        row.served_model,
        row.served_model.partition(":")[0],
        tags.get("user"),
        tags.get("project"),
        json.dumps(dict(row.tags), sort_keys=True),
        row.input_tokens,
        row.output_tokens,
        row.cached_tokens,
        row.reasoning_tokens,
        to_pico(row.estimate_low),
        to_pico(row.estimate_expected),
        to_pico(row.estimate_high),
        to_pico(row.cost),
        row.status,
        row.latency,
        row.attempts,
    )


def row_from(values: Sequence[Any]) -> LedgerRow:
    (
        call_id,
        ts,
        _d,
        _w,
        _m,
        requested,
        served,
        _p,
        _u,
        _pr,
        tags,
        tokens_in,
        tokens_out,
        cached,
        reasoning,
        low,
        expected,
        high,
        cost,
        status,
        latency,
        attempts,
    ) = values
    return LedgerRow(
        call_id,
        float(ts),
        requested,
        served,
        tuple(sorted(json.loads(tags).items())),
        int(tokens_in),
        int(tokens_out),
        int(cached),
        int(reasoning),
        from_pico(int(low)),
        from_pico(int(expected)),
        from_pico(int(high)),
        from_pico(int(cost)),
        status,
        float(latency),
        int(attempts),
    )


class SQLLedger(Ledger):
    """Shared logic; subclasses provide :meth:`_transaction` and :meth:`_lock_spend`."""

    @abc.abstractmethod
    def _transaction(self) -> AbstractContextManager[Cursor]:
        """A cursor inside one transaction: committed on success, rolled back on error, and
        with driver errors re-raised as LedgerError."""

    def _lock_spend(self, cur: Cursor, keys: Sequence[tuple[str, str, str]]) -> None:
        """Lock the spend rows of these budget windows until the transaction ends."""

    def migrate(self, cur: Cursor) -> None:
        cur.execute("CREATE TABLE IF NOT EXISTS costrouter_schema (version INTEGER NOT NULL)")
        found = cur.execute("SELECT MAX(version) FROM costrouter_schema").fetchone()[0] or 0
        for version, statements in MIGRATIONS:
            if version > found:
                for statement in statements:
                    cur.execute(statement)
                cur.execute("INSERT INTO costrouter_schema (version) VALUES (?)", (version,))

    def set_budget(self, budget: Budget) -> None:
        with self._transaction() as cur:
            cur.execute(
                "DELETE FROM budgets WHERE scope = ? AND period = ?",
                (budget.scope_text, budget.period),
            )
            cur.execute(
                "INSERT INTO budgets (scope, period, limit_pusd, soft, tz) VALUES (?, ?, ?, ?, ?)",
                (
                    budget.scope_text,
                    budget.period,
                    to_pico(budget.limit),
                    int(budget.soft),
                    budget.tz,
                ),
            )

    def _budgets(self, cur: Cursor) -> list[Budget]:
        rows = cur.execute(
            "SELECT scope, period, limit_pusd, soft, tz FROM budgets ORDER BY scope, period"
        ).fetchall()
        return [
            Budget(parse_scope(s), from_pico(int(limit)), p, bool(soft), tz)
            for s, p, limit, soft, tz in rows
        ]

    def budgets(self) -> list[Budget]:
        with self._transaction() as cur:
            return self._budgets(cur)

    def _entries(
        self, cur: Cursor, budgets: Sequence[Budget], now: float, exclude: str
    ) -> list[BudgetStatus]:
        entries = []
        for budget in budgets:
            key = (budget.scope_text, budget.period, budget.window(now))
            spent = cur.execute(
                "SELECT spent_pusd FROM budget_spend WHERE scope = ? AND period = ? AND win = ?",
                key,
            ).fetchone()
            reserved = cur.execute(
                "SELECT COALESCE(SUM(amount_pusd), 0) FROM holds WHERE scope = ? AND period = ? "
                "AND win = ? AND expires_at > ? AND call_id <> ?",
                (*key, now, exclude),
            ).fetchone()[0]
            entries.append(
                BudgetStatus(
                    budget,
                    key[2],
                    from_pico(int(spent[0])) if spent else Decimal(0),
                    from_pico(int(reserved)),
                )
            )
        return entries

    def status(self, now: float) -> list[BudgetStatus]:
        with self._transaction() as cur:
            return self._entries(cur, self._budgets(cur), now, "")

    def reserve(
        self,
        call_id: str,
        amount: Decimal,
        tags: Mapping[str, str],
        now: float,
        hold_seconds: float = DEFAULT_HOLD_SECONDS,
    ) -> Reservation:
        amount = to_stored(amount)
        with self._transaction() as cur:
            budgets = matching(self._budgets(cur), tags)
            keys = sorted((b.scope_text, b.period, b.window(now)) for b in budgets)
            self._lock_spend(cur, keys)
            entries = self._entries(cur, budgets, now, call_id)
            warnings = check_limits(entries, amount)  # raises: the transaction rolls back
            cur.execute("DELETE FROM holds WHERE call_id = ?", (call_id,))
            holds = tuple(
                Hold(e.budget.scope_text, e.budget.period, e.window, amount) for e in entries
            )
            for hold in holds:
                cur.execute(
                    "INSERT INTO holds (call_id, scope, period, win, amount_pusd, expires_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        call_id,
                        hold.scope,
                        hold.period,
                        hold.window,
                        to_pico(amount),
                        now + hold_seconds,
                    ),
                )
        return Reservation(call_id, amount, now + hold_seconds, holds, warnings)

    def settle(self, row: LedgerRow, now: float) -> bool:
        with self._transaction() as cur:
            if cur.execute("SELECT 1 FROM calls WHERE call_id = ?", (row.call_id,)).fetchone():
                return False
            cur.execute(INSERT_ROW, row_values(row))
            keys = [
                tuple(k)
                for k in cur.execute(
                    "SELECT scope, period, win FROM holds WHERE call_id = ?", (row.call_id,)
                ).fetchall()
            ] or [
                (b.scope_text, b.period, b.window(now))
                for b in matching(self._budgets(cur), row.tag_map)
            ]
            for scope, period, window in keys:
                cur.execute(
                    "INSERT INTO budget_spend (scope, period, win, spent_pusd) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (scope, period, win) DO UPDATE "
                    "SET spent_pusd = budget_spend.spent_pusd + excluded.spent_pusd",
                    (scope, period, window, to_pico(row.cost)),
                )
            cur.execute("DELETE FROM holds WHERE call_id = ?", (row.call_id,))
        return True

    def _drop_holds(self, call_id: str) -> None:
        with self._transaction() as cur:
            cur.execute("DELETE FROM holds WHERE call_id = ?", (call_id,))

    def rows(self) -> list[LedgerRow]:
        with self._transaction() as cur:
            return [row_from(r) for r in cur.execute(SELECT_ROWS).fetchall()]

    def insert_rows(self, rows: Iterator[LedgerRow] | Sequence[LedgerRow]) -> None:
        """Bulk-load recorded calls (benchmarks, imports); budgets are not touched."""
        with self._transaction() as cur:
            for row in rows:
                cur.execute(INSERT_ROW, row_values(row))
