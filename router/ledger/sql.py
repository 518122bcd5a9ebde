"""The ledger on SQL: one set of statements for SQLite and PostgreSQL (schema in ``schema``).

Statements are written with ``?`` placeholders; a backend translates them for its driver and
supplies the transaction. SQLite's ``BEGIN IMMEDIATE`` takes the write lock before the first
read, so the check and the holds of :meth:`reserve` are one transaction; PostgreSQL replaces
``reserve`` and ``settle`` with server-side functions that lock the spend rows first
(``postgres.sql``). This module is the call path; the mixins hold the rest: lease steps
(``lease_sql``), reports and row reads (``spend_sql``), calibrations and alerts
(``sidetables``).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal

from .base import (
    DEFAULT_HOLD_SECONDS,
    FOREVER,
    STALE_SECONDS,
    Ledger,
    LedgerError,
    LedgerRow,
    Reservation,
    check_limits,
    holds_for,
    orphan_row,
    recorded_already,
)
from .budgets import (
    UNITS,
    Budget,
    BudgetStatus,
    counted,
    from_units,
    matching,
    parse_scope,
    split_key,
    to_units,
)
from .calendar import window_key
from .lease_sql import LeaseSteps
from .schema import (
    INSERT_ROW,
    MIGRATIONS,
    SCHEMA_VERSION,
    row_values,
    tags_json,
    values_list,
)
from .sidetables import Cursor, SideTables
from .spend_sql import SpendQueries

#: Seconds between two deletions of old minute and hour windows by one process.
FORGET_EVERY = 3600.0


class SQLLedger(LeaseSteps, SpendQueries, SideTables, Ledger):
    """Shared logic; subclasses provide :meth:`_transaction`."""

    #: The tables that keep windows' spend (PostgreSQL adds its deltas).
    _spend_tables: tuple[str, ...] = ("budget_spend",)
    #: A window ``k``'s settled spend, as SQL (NULL for none).
    _spent_sql = (
        "(SELECT s.spent_nusd FROM budget_spend s "
        "WHERE s.scope = k.scope AND s.period = k.period AND s.win = k.win)"
    )

    @abc.abstractmethod
    def _transaction(self, *, write: bool = True) -> AbstractContextManager[Cursor]:
        """A cursor inside one transaction: committed on success, rolled back on error, and
        with driver errors re-raised as LedgerError. ``write=False`` promises only reads: one
        consistent snapshot that need not wait for (or hold up) writers."""

    def __init__(self) -> None:
        #: Budget rows already parsed into values, by the row's values.
        self._parsed: dict[tuple[str, str, int, int, str, str, str], Budget] = {}
        self._forgotten_at = -math.inf

    @abc.abstractmethod
    def _create_schema(self, cur: Cursor) -> None:
        """Make this engine's tables (and functions) of :data:`SCHEMA_VERSION`."""

    def _migrate(self, cur: Cursor) -> None:
        """Make the schema in a new ledger, or bring an older one to :data:`SCHEMA_VERSION`;
        refuse one whose schema this version does not know."""
        cur.execute("CREATE TABLE IF NOT EXISTS costrouter_schema (version INTEGER NOT NULL)")
        found = self._check_version(cur)
        if found == 0:
            self._create_schema(cur)
        for version in range(found or SCHEMA_VERSION, SCHEMA_VERSION):
            for statement in MIGRATIONS[version]:
                cur.execute(statement)
        if 0 < found < SCHEMA_VERSION:
            self._migrated(cur)
        if found != SCHEMA_VERSION:
            cur.execute("INSERT INTO costrouter_schema (version) VALUES (?)", (SCHEMA_VERSION,))

    def _migrated(self, cur: Cursor) -> None:
        """After an older schema's migrations: what the engine redoes beyond the tables."""

    def _check_version(self, cur: Cursor) -> int:
        """The ledger's schema version (0: none yet), refusing one this version does not know."""
        found = int(cur.execute("SELECT MAX(version) FROM costrouter_schema").fetchone()[0] or 0)
        if found not in (0, *MIGRATIONS, SCHEMA_VERSION):
            raise LedgerError(
                f"{self!r} has schema version {found}, and this costrouter knows only version "
                f"{SCHEMA_VERSION} (a pre-release build made it): point --ledger at a new file "
                "or database"
            )
        return found

    def set_budget(self, budget: Budget) -> None:
        with self._transaction() as cur:
            cur.execute("DELETE FROM budgets WHERE scope = ? AND period = ?", budget.key)
            cur.execute(
                "INSERT INTO budgets (scope, period, limit_nusd, soft, tz, alerts, webhook) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    *budget.key,
                    budget.to_units(budget.limit),
                    int(budget.soft),
                    budget.tz,
                    ",".join(budget.alerts),
                    budget.webhook or "",
                ),
            )

    def _delete_budget(self, scope: str, counter: str) -> None:
        with self._transaction() as cur:
            cur.execute("DELETE FROM budgets WHERE scope = ? AND period = ?", (scope, counter))

    def _budgets(self, cur: Cursor) -> list[Budget]:
        rows = cur.execute(
            "SELECT scope, period, limit_nusd, soft, tz, alerts, webhook FROM budgets "
            "ORDER BY scope, period"
        ).fetchall()
        return [self._budget(*row) for row in rows]

    def _budget(
        self,
        scope: str,
        period: str,
        limit: int,
        soft: int,
        tz: str,
        alerts: str = "",
        webhook: str = "",
    ) -> Budget:
        """A budget row as a value; parsed once per distinct row. ``period`` is the stored
        key (``Budget.counter``), the limit in the unit's stored units. (PostgreSQL's
        reservation answers without the alert settings: its budgets serve the limit check.)"""
        key = (scope, period, int(limit), int(soft), tz, alerts, webhook)
        budget = self._parsed.get(key)
        if budget is None:
            period, unit = split_key(period)
            budget = Budget(
                parse_scope(scope),
                from_units(int(limit), UNITS.get(unit, 0)),
                period,
                bool(soft),
                tz,
                alerts,  # the converter takes the stored text
                webhook or None,
                unit,
            )
            self._parsed[key] = budget
        return budget

    def budgets(self) -> list[Budget]:
        with self._transaction(write=False) as cur:
            return self._budgets(cur)

    def _entries(
        self,
        cur: Cursor,
        budgets: Sequence[Budget],
        now: float,
        exclude: tuple[str, int] = ("", 0),
        wins: Sequence[str] | None = None,
    ) -> list[BudgetStatus]:
        """Each budget's window at ``now`` (or the one ``wins`` names, budget by budget) with
        its settled spend and live holds (other than those of the attempt ``exclude``, being
        reserved again), read in one statement."""
        if not budgets:
            return []
        if wins is None:
            wins = [b.window(now) for b in budgets]
        windows = [(*b.key, win) for b, win in zip(budgets, wins, strict=True)]
        keys = sorted(set(windows))
        found = {
            tuple(r[:3]): (int(r[3] or 0), int(r[4] or 0))
            for r in cur.execute(
                f"WITH k (scope, period, win) AS (VALUES {values_list(len(keys), 3)}) "
                f"SELECT k.scope, k.period, k.win, {self._spent_sql}, "
                "(SELECT SUM(h.amount_nusd) FROM holds h WHERE h.scope = k.scope "
                "AND h.period = k.period AND h.win = k.win AND h.expires_at > ? "
                "AND NOT (h.call_id = ? AND h.attempt = ?)) FROM k",
                [v for key in keys for v in key] + [now, *exclude],
            ).fetchall()
        }
        return [
            BudgetStatus(b, key[2], b.from_units(found[key][0]), b.from_units(found[key][1]))
            for b, key in zip(budgets, windows, strict=True)
        ]

    def status(self, now: float) -> list[BudgetStatus]:
        with self._transaction(write=False) as cur:
            return self._entries(cur, self._budgets(cur), now)

    def reserve(
        self,
        call_id: str,
        amount: Decimal,
        tags: Mapping[str, str],
        now: float,
        hold_seconds: float = DEFAULT_HOLD_SECONDS,
        *,
        attempt: int = 1,
        sent: bool = False,
        tokens: int = 0,
    ) -> Reservation:
        units = to_units(amount)
        amount, expires, key = from_units(units), now + hold_seconds, (call_id, attempt)
        held_until = FOREVER if sent else expires
        with self._transaction() as cur:  # only reads and writes under the lock
            self._sweep(cur, now)
            if cur.execute("SELECT 1 FROM calls WHERE call_id = ? AND attempt = ?", key).fetchone():
                raise recorded_already(call_id, attempt)
            entries = self._entries(cur, matching(self._budgets(cur), tags), now, key)
            warnings = check_limits(entries, amount, tokens)  # raises: the transaction rolls back
            holds = holds_for(entries, amount, tokens)
            cur.execute("DELETE FROM holds WHERE call_id = ? AND attempt = ?", key)
            if entries:
                cur.execute(
                    "INSERT INTO holds "
                    "(call_id, attempt, scope, period, win, amount_nusd, expires_at) "
                    f"VALUES {values_list(len(entries), 7)}",
                    [
                        v
                        for e, h in zip(entries, holds, strict=True)
                        for v in (
                            *key,
                            h.scope,
                            h.period,
                            h.window,
                            e.budget.to_units(h.amount),
                            held_until,
                        )
                    ],
                )
            cur.execute(
                "INSERT INTO pending "
                "(call_id, attempt, tags, amount_nusd, reserved_at, expires_at, sent_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (call_id, attempt) DO UPDATE SET "
                "tags = excluded.tags, amount_nusd = excluded.amount_nusd, "
                "reserved_at = excluded.reserved_at, expires_at = excluded.expires_at, "
                "sent_at = excluded.sent_at",
                (
                    *key,
                    tags_json(tuple(sorted(tags.items()))),
                    units,
                    now,
                    expires,
                    now if sent else None,
                ),
            )
        return Reservation(call_id, amount, expires, holds, warnings)

    def mark_sent(self, call_id: str, now: float, *, attempt: int = 1) -> None:
        key = (call_id, attempt)
        with self._transaction() as cur:
            cur.execute(
                "UPDATE pending SET sent_at = ? WHERE call_id = ? AND attempt = ?", (now, *key)
            )
            cur.execute(
                "UPDATE holds SET expires_at = ? WHERE call_id = ? AND attempt = ?", (FOREVER, *key)
            )

    def _sweep(self, cur: Cursor, now: float) -> None:
        """Inside a write transaction: bill every sent call whose hold's time is up as an
        orphaned row at its reservation (into the windows it held); clear unsent ones a day
        after their time was up."""
        expired = cur.execute(
            "DELETE FROM pending WHERE expires_at <= ? AND (sent_at IS NOT NULL OR expires_at <= ?) "
            "RETURNING call_id, attempt, tags, amount_nusd, reserved_at, sent_at",
            (now, now - STALE_SECONDS),
        ).fetchall()
        for call_id, attempt, tags, units, reserved_at, sent_at in expired:
            if sent_at is None:
                cur.execute(
                    "DELETE FROM holds WHERE call_id = ? AND attempt = ?", (call_id, attempt)
                )
            else:
                orphan = orphan_row(call_id, attempt, tags, from_units(int(units)), reserved_at)
                self._record(cur, orphan, now)

    def settle(self, row: LedgerRow, now: float) -> bool:
        with self._transaction() as cur:
            self._sweep(cur, now)
            recorded = self._record(cur, row, now)
        self._forget_old(now)
        return recorded

    def _forget_old(self, now: float) -> None:
        """At most once an hour per process, delete what can serve no more: minute and hour
        windows' spend and fired alerts older than a day (they can be charged no more; a minute
        budget would otherwise add 1,440 rows a day), and the step records of leases ended a day ago (a step
        is retried only while its process lives, and a lease renews every few seconds, so one
        whose record is a day old and that holds nothing has ended)."""
        if now - self._forgotten_at < FORGET_EVERY:
            return
        self._forgotten_at = now
        cutoff = window_key("minute", "UTC", now - 86400)
        with self._transaction() as cur:
            for table in (*self._spend_tables, "alerts_fired"):
                cur.execute(
                    f"DELETE FROM {table} WHERE (period IN ('minute', 'hour') "
                    "OR period LIKE ? OR period LIKE ?) AND win < ?",
                    ("minute/%", "hour/%", cutoff),
                )
            cur.execute(
                "DELETE FROM leases WHERE updated_at < ? AND NOT EXISTS (SELECT 1 FROM pending p "
                "WHERE p.call_id = leases.lease_id AND p.attempt = 0)",
                (now - STALE_SECONDS,),
            )

    def _record(self, cur: Cursor, row: LedgerRow, now: float) -> bool:
        """Record the row once and add what it counts (``budgets.counted``) to the windows
        its holds held (or, without holds, those its tags match now); free its holds and its
        pending entry."""
        inserted = cur.execute(
            INSERT_ROW + " ON CONFLICT (call_id, attempt) DO NOTHING RETURNING call_id",
            row_values(row),
        ).fetchone()
        if inserted is None:
            return False
        attempt = (row.call_id, row.attempt)
        cur.execute("DELETE FROM pending WHERE call_id = ? AND attempt = ?", attempt)
        held = cur.execute(
            "DELETE FROM holds WHERE call_id = ? AND attempt = ? "
            "RETURNING scope, period, win, amount_nusd",
            attempt,
        ).fetchall() or [
            (*b.key, b.window(now), 0) for b in matching(self._budgets(cur), row.tag_map)
        ]
        tokens = row.input_tokens + row.output_tokens
        spend = [
            (scope, period, win, counted(split_key(period)[1], row.cost, tokens, row.status, units))
            for scope, period, win, units in held
        ]
        self._add_spend(cur, sorted(spend))
        return True

    def _drop_holds(self, call_id: str, attempt: int) -> None:
        with self._transaction() as cur:
            cur.execute("DELETE FROM pending WHERE call_id = ? AND attempt = ?", (call_id, attempt))
            cur.execute("DELETE FROM holds WHERE call_id = ? AND attempt = ?", (call_id, attempt))
