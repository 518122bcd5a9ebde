"""``postgresql://...``: the ledger for fleets, shared by every process that points at it.

psycopg 3 with a connection pool (the ``postgres`` extra). A reservation locks the spend row of
each budget window it checks (``SELECT ... FOR UPDATE``, in a fixed order, so two reservations
never deadlock) before reading spend and holds: concurrent reservations on one budget queue up
behind each other inside the database. Migrations run under an advisory lock.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ._ledger import LedgerError
from ._ledger_sql import Cursor, SQLLedger

INSTALL = "pip install 'costrouter[postgres]'  (psycopg 3 and psycopg-pool)"
MIGRATION_LOCK = 0x636F7374  # "cost"


class _QmarkCursor:
    """Runs the shared ``?`` statements through psycopg's ``%s`` placeholders."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _QmarkCursor:
        self._cursor.execute(sql.replace("?", "%s"), params)
        return self

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> _QmarkCursor:
        self._cursor.executemany(sql.replace("?", "%s"), params)
        return self

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())


class PostgresLedger(SQLLedger):
    scheme = "postgresql"

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 8) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise LedgerError(f"the PostgreSQL ledger needs psycopg: {INSTALL}") from None
        self._errors = (psycopg.Error,)
        self.url = url
        self._pid = os.getpid()
        try:
            self._pool = ConnectionPool(
                url, min_size=min_size, max_size=max_size, open=True, kwargs={"autocommit": False}
            )
            self._pool.wait(timeout=10)
        except Exception as exc:  # psycopg_pool raises its own PoolTimeout, not a psycopg.Error
            raise LedgerError(f"cannot connect to the PostgreSQL ledger: {exc}") from exc
        with self._transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            self.migrate(cur)

    @classmethod
    def from_url(cls, url: str) -> PostgresLedger:
        return cls(url.replace("postgres://", "postgresql://", 1))

    def __repr__(self) -> str:
        return "PostgresLedger(<url hidden>)"

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        try:
            with self._pool.connection() as connection, connection.transaction():
                yield _QmarkCursor(connection.cursor())
        except self._errors as exc:
            raise LedgerError(f"PostgreSQL ledger: {exc}") from exc

    def _read_spend(self, cur: Cursor, keys: Sequence[tuple[str, str, str]]) -> list[Any]:
        """Create the spend rows that are missing and lock all of them, in key order, in one
        statement; return their spend."""
        values = ", ".join(["(?, ?, ?, 0)"] * len(keys))
        rows: list[Any] = cur.execute(
            f"INSERT INTO budget_spend (scope, period, win, spent_nusd) VALUES {values} "
            "ON CONFLICT (scope, period, win) DO UPDATE SET spent_nusd = budget_spend.spent_nusd "
            "RETURNING scope, period, win, spent_nusd",
            [v for key in keys for v in key],
        ).fetchall()
        return rows

    def _tag_expr(self, name: str) -> str:
        return f"(tags::jsonb ->> '{name}')"

    def close(self) -> None:
        self._pool.close()
