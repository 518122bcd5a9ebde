"""The SQL ledger's side tables: stored calibrations and the alerts fired, one per window.

A mixin of :class:`~router.ledger.sql.SQLLedger` (SQLite and PostgreSQL alike); the call path's
tables (budgets, holds, pending, calls) stay in ``sql.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import attrs

from ..estimate.calibration import Calibration
from .budgets import Budget, BudgetStatus


class Cursor(Protocol):
    """What the SQL ledgers need of a DB-API cursor (``?`` placeholders on both engines)."""

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> Any: ...


class SQLParts:
    """What the SQL ledger's mixins (``SideTables``, ``lease_sql``, ``spend_sql``) use of the
    ledger they are mixed into: declared once here, defined by ``SQLLedger`` and its engines."""

    def _transaction(self, *, write: bool = True) -> AbstractContextManager[Cursor]:
        raise NotImplementedError  # the engine's (SQLLedger's subclasses)

    def _sweep(self, cur: Cursor, now: float) -> None:
        raise NotImplementedError  # SQLLedger's

    def _budgets(self, cur: Cursor) -> list[Budget]:
        raise NotImplementedError  # SQLLedger's

    def _entries(
        self,
        cur: Cursor,
        budgets: Sequence[Budget],
        now: float,
        exclude: tuple[str, int] = ("", 0),
        wins: Sequence[str] | None = None,
    ) -> list[BudgetStatus]:
        raise NotImplementedError  # SQLLedger's

    def _forget_old(self, now: float) -> None:
        raise NotImplementedError  # SQLLedger's


class SideTables(SQLParts):
    """Calibrations and fired alerts, through the ledger's own transactions."""

    def _claim(self, keys: Sequence[tuple[str, str, str, str, int]], now: float) -> list[bool]:
        won = []
        with self._transaction() as cur:
            for scope, period, window, alert, units in keys:
                inserted = cur.execute(
                    "INSERT INTO alerts_fired (scope, period, win, alert, fired_at, spent_nusd) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, period, win, alert) DO NOTHING "
                    "RETURNING alert",
                    (scope, period, window, alert, now, units),
                ).fetchone()
                won.append(inserted is not None)
        return won

    def _fired(
        self, windows: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], list[tuple[str, float, int]]]:
        found: dict[tuple[str, str, str], list[tuple[str, float, int]]] = {}
        with self._transaction(write=False) as cur:
            for key in windows:
                rows = cur.execute(
                    "SELECT alert, fired_at, spent_nusd FROM alerts_fired "
                    "WHERE scope = ? AND period = ? AND win = ? ORDER BY fired_at, alert",
                    key,
                ).fetchall()
                if rows:
                    found[key] = [(a, float(at), int(units)) for a, at, units in rows]
        return found

    def calibration(self) -> Calibration | None:
        with self._transaction(write=False) as cur:
            found = cur.execute(
                "SELECT version, created_at, body FROM calibrations ORDER BY version DESC LIMIT 1"
            ).fetchone()
        if found is None:
            return None
        version, created_at, body = found
        return Calibration.from_json(body, version=int(version), created_at=float(created_at))

    def store_calibration(self, calibration: Calibration, now: float) -> Calibration:
        with self._transaction() as cur:
            last = cur.execute("SELECT MAX(version) FROM calibrations").fetchone()[0]
            version = int(last or 0) + 1
            cur.execute(
                "INSERT INTO calibrations (version, created_at, body) VALUES (?, ?, ?)",
                (version, now, calibration.to_json()),
            )
        return attrs.evolve(calibration, version=version, created_at=now)

    def reset_calibration(self) -> int:
        with self._transaction() as cur:
            count = int(cur.execute("SELECT COUNT(*) FROM calibrations").fetchone()[0])
            cur.execute("DELETE FROM calibrations")
        return count
