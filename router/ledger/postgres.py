"""``postgresql://...``: the ledger for fleets, shared by every process that points at it.

psycopg 3 with a connection pool (the ``postgres`` extra). A reservation locks the spend row of
each budget window it checks (``SELECT ... FOR UPDATE``, in a fixed order, so two reservations
never deadlock) before reading spend and holds: concurrent reservations on one budget queue up
behind each other inside the database. Settlements append their cost to ``spend_deltas``
instead of updating those rows, so they never wait in that queue. Migrations run under an
advisory lock.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from importlib import resources
from typing import Any

from .base import (
    DEFAULT_HOLD_SECONDS,
    LedgerError,
    LedgerRow,
    Reservation,
    check_limits,
    holds_for,
    recorded_already,
)
from .budgets import BudgetStatus, to_stored, to_units
from .schema import CALL_COLUMNS, row_values, tables
from .sidetables import Cursor
from .sql import SQLLedger

INSTALL = "pip install 'costrouter[postgres]'  (psycopg 3 and psycopg-pool)"
MIGRATION_LOCK = 0x636F7374  # "cost"


class _QmarkCursor:
    """Runs the shared ``?`` statements through psycopg's ``%s`` placeholders."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _QmarkCursor:
        self._cursor.execute(sql.replace("?", "%s"), params or None)
        return self

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> _QmarkCursor:
        self._cursor.executemany(sql.replace("?", "%s"), params)
        return self

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())


#: The PostgreSQL part of the schema: spend deltas and the server-side functions.
def functions() -> str:
    """``postgres.sql``, read when a new database needs its schema (not at import)."""
    return resources.files(__package__).joinpath("postgres.sql").read_text(encoding="utf-8")


#: Seconds to wait for a pooled connection before making one for the operation alone.
POOL_WAIT = 2.0
#: A reservation folds a window's deltas into its spend row once there are this many (the
#: number ``costrouter_reserve`` in postgres.sql compares with).
FOLD_AFTER = 32
_SETTLE = f"SELECT costrouter_settle(ROW({', '.join(['%s'] * len(CALL_COLUMNS))})::calls, %s)"
#: The array type of each column type ``schema.CALL_COLUMNS`` uses.
_ARRAYS = {"TEXT": "text[]", "INTEGER": "integer[]", "BIGINT": "bigint[]"}
_ARRAYS["DOUBLE PRECISION"] = "double precision[]"
#: Rows inserted from one array per column (``_insert_new``).
_INSERT_COLUMNS = (
    f"INSERT INTO calls ({', '.join(name for name, _ in CALL_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(
        "%b::" + next(a for t, a in _ARRAYS.items() if kind.startswith(t))
        for _, kind in CALL_COLUMNS
    )
    + ") ON CONFLICT (call_id, attempt) DO NOTHING RETURNING call_id, attempt"
)


class PostgresLedger(SQLLedger):
    """The ledger in a PostgreSQL database, shared by every process that opens the same URL.

    ``min_size`` and ``max_size`` bound this process's connection pool: with N processes, the
    server needs ``max_connections`` of at least N × ``max_size`` plus its own (4 each by
    default: 16 processes fit a default server's 100). Each connection is checked before use, so
    one the server dropped (a restart) is replaced rather than handed out. ``connect_timeout``
    bounds each connection attempt; a URL that cannot connect fails at once, with the reason.
    ``read_only`` changes nothing: PostgreSQL's readers never wait for writers (MVCC)."""

    _spend_tables = ("budget_spend", "spend_deltas")
    #: The spend row plus the deltas not yet folded into it (``postgres.sql``).
    _spent_sql = (
        f"(COALESCE({SQLLedger._spent_sql}, 0) + "
        "COALESCE((SELECT SUM(d.spent_nusd) FROM spend_deltas d "
        "WHERE d.scope = k.scope AND d.period = k.period AND d.win = k.win), 0))"
    )

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 4,
        connect_timeout: int = 5,
        read_only: bool = False,
    ) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool, PoolTimeout
        except ImportError:
            raise LedgerError(f"the PostgreSQL ledger needs psycopg: {INSTALL}") from None
        super().__init__()
        self._errors = (psycopg.Error,)
        self._recorded = psycopg.errors.UniqueViolation
        self._pool_timeout = PoolTimeout
        self.url = url
        connection = {"autocommit": True, "connect_timeout": connect_timeout}
        self._connect = functools.partial(
            psycopg.connect, url, autocommit=True, connect_timeout=connect_timeout
        )
        try:  # one plain connection first: a bad URL fails now, saying why, not after retries
            psycopg.connect(url, **connection).close()  # type: ignore[arg-type]  # conninfo keywords
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LedgerError(f"cannot connect to the PostgreSQL ledger: {reason}") from exc
        try:
            self._pool = ConnectionPool(
                url,
                min_size=min_size,
                max_size=max_size,
                open=True,
                kwargs=connection,
                check=ConnectionPool.check_connection,  # a connection the server dropped is replaced
                timeout=POOL_WAIT,  # then a connection of its own: see _connection
            )
            self._pool.wait(timeout=connect_timeout * 2)
        except Exception as exc:  # psycopg_pool raises its own PoolTimeout, not a psycopg.Error
            raise LedgerError(f"cannot connect to the PostgreSQL ledger: {exc}") from exc
        with self._transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            self._migrate(cur)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PostgresLedger:
        return cls(url.replace("postgres://", "postgresql://", 1), **options)

    def _create_schema(self, cur: Cursor) -> None:
        for statement in tables(clustered=""):
            cur.execute(statement)
        cur.execute(functions())  # a script of several statements: sent as it is

    def _migrated(self, cur: Cursor) -> None:
        cur.execute(functions())  # idempotent: an older schema's functions are replaced

    def __repr__(self) -> str:
        return "PostgresLedger(<url hidden>)"

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[Cursor]:
        """Under MVCC every transaction reads a snapshot without blocking writers, so ``write``
        changes nothing here."""
        try:
            with self._connection() as connection, connection.transaction():
                yield _QmarkCursor(connection.cursor())
        except self._errors as exc:
            raise LedgerError(f"PostgreSQL ledger: {exc}") from exc

    @contextmanager
    def _call(self) -> Iterator[Any]:
        """One statement in autocommit: a server-side function is its own transaction."""
        try:
            with self._connection() as connection:
                yield connection
        except self._errors as exc:
            raise LedgerError(f"PostgreSQL ledger: {exc}") from exc

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A pooled connection; when the pool has none to give in time (it waits out a
        reconnection backoff after the server dropped its connections, a restart say), one
        made for this operation alone, so the ledger works as soon as the server does."""
        try:
            pooled = self._pool.connection()
            connection = pooled.__enter__()
        except self._pool_timeout:
            with self._connect() as connection:
                yield connection
            return
        try:
            yield connection
        except BaseException as exc:
            pooled.__exit__(type(exc), exc, exc.__traceback__)
            raise
        pooled.__exit__(None, None, None)

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
        """One round trip: ``costrouter_reserve`` locks, sums, checks and holds in the server."""
        amount = to_stored(amount)
        try:
            with self._call() as connection:
                rows = connection.execute(
                    "SELECT * FROM costrouter_reserve(%s, %s, %s, %s::jsonb, %s, %s, %s, %s)",
                    (
                        call_id,
                        attempt,
                        to_units(amount),
                        json.dumps(dict(tags), sort_keys=True),
                        now,
                        now + hold_seconds,
                        sent,
                        tokens,
                    ),
                ).fetchall()
        except LedgerError as exc:
            if isinstance(exc.__cause__, self._recorded):
                raise recorded_already(call_id, attempt) from None
            raise
        budgets = [(self._budget(*row[:2], *row[3:6]), row) for row in rows]
        entries = [
            BudgetStatus(b, row[2], b.from_units(int(row[6])), b.from_units(int(row[7])))
            for b, row in budgets
        ]
        warnings = check_limits(entries, amount, tokens)  # the function held nothing if raised
        holds = holds_for(entries, amount, tokens)
        return Reservation(call_id, amount, now + hold_seconds, holds, warnings)

    def mark_sent(self, call_id: str, now: float, *, attempt: int = 1) -> None:
        """One round trip: ``costrouter_sent`` marks the pending entry and the holds."""
        with self._call() as connection:
            connection.execute("SELECT costrouter_sent(%s, %s, %s)", (call_id, attempt, now))

    def settle(self, row: LedgerRow, now: float) -> bool:
        """One round trip: ``costrouter_settle`` records the row and moves its holds to spend."""
        with self._call() as connection:
            recorded = connection.execute(_SETTLE, (*row_values(row), now)).fetchone()[0]
        self._forget_old(now)
        return bool(recorded)

    _for_update = " FOR UPDATE"

    def _sweep(self, cur: Cursor, now: float) -> None:
        cur.execute("SELECT costrouter_sweep(?)", (now,))

    def _lock_windows(self, cur: Cursor, windows: tuple[tuple[str, str, str], ...]) -> None:
        """The windows' spend rows, made if new and locked in key order, as
        ``costrouter_reserve`` locks them (so a lease step and a reservation never deadlock);
        then their deltas folded in, as a reservation folds them (a fleet whose calls all
        lease would otherwise only ever add deltas)."""
        if not windows:
            return
        keys = [v for window in sorted(windows) for v in window]
        rows = ", ".join(["(?, ?, ?)"] * len(windows))
        cur.execute(
            f"INSERT INTO budget_spend (scope, period, win, spent_nusd) "
            f"SELECT k.scope, k.period, k.win, 0 FROM (VALUES {rows}) AS k (scope, period, win) "
            "ON CONFLICT (scope, period, win) DO NOTHING",
            keys,
        )
        cur.execute(
            f"SELECT 1 FROM budget_spend s WHERE (s.scope, s.period, s.win) IN (VALUES {rows}) "
            "ORDER BY s.scope, s.period, s.win FOR UPDATE",
            keys,
        )
        cur.execute(
            "WITH folded AS (DELETE FROM spend_deltas d "
            f"WHERE (d.scope, d.period, d.win) IN (VALUES {rows}) "
            "RETURNING d.scope, d.period, d.win, d.spent_nusd) "
            "UPDATE budget_spend s SET spent_nusd = s.spent_nusd + t.total "
            "FROM (SELECT f.scope, f.period, f.win, SUM(f.spent_nusd) AS total FROM folded f "
            "GROUP BY f.scope, f.period, f.win) t "
            "WHERE s.scope = t.scope AND s.period = t.period AND s.win = t.win",
            keys,
        )

    def _add_spend(self, cur: Cursor, spend: Sequence[tuple[str, str, str, int]]) -> None:
        """As deltas, as settlements add theirs: a lease step that only records rows then
        locks no spend row, and waits on no reservation."""
        spend = [item for item in spend if item[3]]
        if spend:
            cur.execute(
                "INSERT INTO spend_deltas (scope, period, win, spent_nusd) "
                f"VALUES {', '.join(['(?, ?, ?, ?)'] * len(spend))}",
                [v for item in spend for v in item],
            )

    def _insert_new(self, cur: Cursor, values: Sequence[Sequence[Any]]) -> set[tuple[str, int]]:
        """One statement of an array per column, whatever the number of rows: psycopg parses a
        long query's placeholders anew each time, and a VALUES list of a step's rows cost more
        to parse than to run (docs/benchmarks.md, the fleet section)."""
        if not values:
            return set()
        found = cur.execute(_INSERT_COLUMNS, [list(column) for column in zip(*values, strict=True)])
        return {(str(call), int(attempt)) for call, attempt in found.fetchall()}

    def _tag_expr(self, name: str) -> str:
        return f"(tags::jsonb ->> '{name}')"

    def close(self) -> None:
        self._pool.close()
