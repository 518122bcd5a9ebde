"""The SQL ledgers' reads of recorded calls: spend reports aggregated in the database, rows
by time, and bulk loading. A mixin of :class:`~router.ledger.sql.SQLLedger` (SQLite and
PostgreSQL alike); the call path (budgets, reservations, settlements) stays in ``sql.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from .base import LedgerRow
from .budgets import from_units
from .schema import AGGREGATES, COLUMN_NAMES, GROUP_COLUMNS, INSERT_ROW, row_from, row_values
from .sidetables import SQLParts
from .spend import Report, ReportQuery, combine, report_row


class SpendQueries(SQLParts):
    """:meth:`report`, :meth:`rows` and :meth:`insert_rows` for the SQL ledgers."""

    def _tag_expr(self, name: str) -> str:
        """SQL for one tag's value (``name`` is validated: letters, digits, _ . -)."""
        return f"json_extract(tags, '$.\"{name}\"')"

    def _group_expr(self, group: str) -> str:
        return GROUP_COLUMNS[group] if group in GROUP_COLUMNS else self._tag_expr(group[4:])

    def report(self, query: ReportQuery, now: float, *, series: bool = False) -> Report:
        where: list[str] = ["1 = 1"]
        params: list[object] = []
        if query.since_ts is not None:
            where.append("ts >= ?")
            params.append(query.since_ts)
        if query.until_ts is not None:
            where.append("ts < ?")
            params.append(query.until_ts)
        for key, value in query.tags:
            column = {"user": "user_tag", "project": "project_tag"}.get(key) or self._tag_expr(key)
            where.append(f"{column} = ?")
            params.append(value)
        condition = " AND ".join(where)
        groups = [self._group_expr(g) for g in query.by]
        width = len(groups)
        with self._transaction(write=False) as cur:
            if groups:  # one scan: the total is the exact sum of the groups
                ordinals = ", ".join(str(i) for i in range(1, width + 1))
                rows = [
                    report_row(
                        tuple(None if v is None else str(v) for v in values[:width]), values[width:]
                    )
                    for values in cur.execute(
                        f"SELECT {', '.join(groups)}, {AGGREGATES} FROM calls "
                        f"WHERE {condition} GROUP BY {ordinals}",
                        params,
                    ).fetchall()
                ]
                total = combine(rows)
            else:
                rows = []
                total = report_row(
                    (),
                    cur.execute(
                        f"SELECT {AGGREGATES} FROM calls WHERE {condition}", params
                    ).fetchone(),
                )
            days: tuple[tuple[str, str, Decimal], ...] = ()
            if series:
                days = tuple(
                    (str(day), str(model), from_units(int(cost)))
                    for day, model, cost in cur.execute(
                        f"SELECT day, served_model, SUM(cost_nusd) FROM calls WHERE {condition} "
                        "GROUP BY 1, 2 ORDER BY 1, 2",
                        params,
                    ).fetchall()
                )
            statuses = self._entries(cur, self._budgets(cur), now)
        rows.sort(key=lambda r: tuple((v is None, v or "") for v in r.key))
        return Report(query, tuple(rows), total, tuple(statuses), days)

    def rows(
        self, since: float | None = None, until: float | None = None, *, newest: int | None = None
    ) -> list[LedgerRow]:
        where = ["ts >= ?"] * (since is not None) + ["ts < ?"] * (until is not None)
        values: list[Any] = [v for v in (since, until) if v is not None]
        sql = f"SELECT {COLUMN_NAMES} FROM calls"
        sql += f" WHERE {' AND '.join(where)}" if where else ""
        if newest is None:
            sql += " ORDER BY ts, call_id, attempt"
        else:  # the newest ones, then put back in order below
            sql += " ORDER BY ts DESC, call_id DESC, attempt DESC LIMIT ?"
            values.append(newest)
        with self._transaction(write=False) as cur:
            found = [row_from(r) for r in cur.execute(sql, values).fetchall()]
        return found if newest is None else found[::-1]

    def insert_rows(self, rows: Iterator[LedgerRow] | Sequence[LedgerRow]) -> None:
        """Bulk-load recorded calls (benchmarks, imports); budgets are not touched."""
        with self._transaction() as cur:
            cur.executemany(INSERT_ROW, (row_values(row) for row in rows))
