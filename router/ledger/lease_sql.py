"""The SQL ledgers' side of budget leases: one transaction per lease step, on both engines.

A mixin of :class:`~router.ledger.sql.SQLLedger`. What a lease holds is a pending entry of
attempt 0 under the lease's id, marked sent, with a hold on each of its budget windows: it
counts against every budget as a call's reservation does, and the sweep that bills a call
sent and never settled bills a lease not renewed in time, at what it held (``LEASE_NOTE``).
The ``leases`` table keeps each lease's last step, so a step retried after its answer was
lost is applied once. Only a step that grows the lease checks the room, after locking its
windows' spend rows; one that records rows and keeps or shrinks what it holds cannot overrun a
budget, so it locks none (most steps are these). The process side is ``leases``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import FOREVER, LeaseFlush, LeaseGrant
from .budgets import to_units
from .schema import INSERT_ROW, insert_rows, row_values, values_list
from .sidetables import Cursor, SQLParts

#: A step takes at most this share of the room its budgets have left beyond what the lease
#: holds: near a limit, each process's slice shrinks with the room, so what one process can
#: strand is bounded by an eighth of what was left when it last grew.
LEASE_SHARE = 8
#: Rows per INSERT statement (SQLite allows 32,766 parameters; a row has 25).
ROWS_PER_STATEMENT = 400


class LeaseSteps(SQLParts):
    """:meth:`lease` for the SQL ledgers; the engine supplies the transaction and the locks."""

    #: Row locking for a read that a later write depends on (SQLite locks the whole file).
    _for_update = ""

    def _lock_windows(self, cur: Cursor, windows: tuple[tuple[str, str, str], ...]) -> None:
        """Lock the windows' spend rows before reading them (SQLite's write lock already
        covers the whole file; PostgreSQL locks rows)."""

    def lease(self, step: LeaseFlush, now: float) -> LeaseGrant:
        grant = self._apply_step(step, now)
        self._forget_old(now)  # a fleet whose calls all lease settles nothing on the plain path
        return grant

    def _apply_step(self, step: LeaseFlush, now: float) -> LeaseGrant:
        """:meth:`lease`'s transaction."""
        key = (step.lease_id,)
        with self._transaction() as cur:
            held_row = cur.execute(  # locked first: a sweep meanwhile passes it by
                "SELECT amount_nusd FROM pending WHERE call_id = ? AND attempt = 0"
                + self._for_update,
                key,
            ).fetchone()
            self._sweep(cur, now)  # a lease not renewed in time is billed here, whole
            if held_row is not None:  # a sweep of this very step's may have billed it
                held_row = cur.execute(
                    "SELECT amount_nusd FROM pending WHERE call_id = ? AND attempt = 0", key
                ).fetchone()
            done = cur.execute("SELECT seq FROM leases WHERE lease_id = ?", key).fetchone()
            orphan = cur.execute(
                "SELECT cost_nusd FROM calls WHERE call_id = ? AND attempt = 0", key
            ).fetchone()
            held = 0 if held_row is None else int(held_row[0])
            if done is not None and int(done[0]) >= step.seq:  # applied already: its state
                return LeaseGrant(held, None, lost=orphan is not None)
            cost = self._insert_rows(cur, step)
            cur.execute(
                "INSERT INTO leases (lease_id, seq, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (lease_id) DO UPDATE SET seq = excluded.seq, "
                "updated_at = excluded.updated_at",
                (step.lease_id, step.seq, now),
            )
            if orphan is not None:  # lost: its orphaned row already billed these calls
                credit = min(cost, int(orphan[0]))
                cur.execute(
                    "UPDATE calls SET cost_nusd = cost_nusd - ? WHERE call_id = ? AND attempt = 0",
                    (credit, step.lease_id),
                )
                self._add_spend(cur, [(*w, cost - credit) for w in step.windows])
                return LeaseGrant(0, None, lost=True)
            self._add_spend(cur, [(*w, cost) for w in step.windows])
            base = held - cost  # what the lease holds beyond the rows just recorded
            if max(step.need, step.want) <= base:
                # Not growing: spend plus holds does not rise, so no budget can be overrun and
                # nothing needs checking or locking (a lease's steps are mostly these).
                granted, room = max(step.need, step.want, 0), None
                self._hold(cur, step, granted, now)
            else:
                granted, room = self._grow(cur, step, base, now)
        return LeaseGrant(granted, room)

    def _grow(self, cur: Cursor, step: LeaseFlush, base: int, now: float) -> tuple[int, int | None]:
        """Hold more for the lease than ``base``, within the room every hard budget of its
        windows has, after locking their spend rows; returns what it holds and that room."""
        self._lock_windows(cur, step.windows)
        room = self._room(cur, step, now)
        top = step.want
        if room is not None:
            top = min(top, base + max(room - base, 0) // LEASE_SHARE)
        granted = max(step.need, top, 0)
        self._hold(cur, step, granted, now)
        return granted, room

    def _hold(self, cur: Cursor, step: LeaseFlush, granted: int, now: float) -> None:
        """Make the lease hold ``granted`` in each of its windows until its step's expiry (a
        sent pending entry, so the sweep bills it if it is not renewed); 0 ends the lease."""
        key = (step.lease_id,)
        cur.execute("DELETE FROM holds WHERE call_id = ? AND attempt = 0", key)
        if granted == 0:
            cur.execute("DELETE FROM pending WHERE call_id = ? AND attempt = 0", key)
            return
        cur.execute(
            "INSERT INTO holds (call_id, attempt, scope, period, win, amount_nusd, expires_at) "
            f"VALUES {values_list(len(step.windows), 7)}",
            [v for window in step.windows for v in (step.lease_id, 0, *window, granted, FOREVER)],
        )
        cur.execute(
            "INSERT INTO pending "
            "(call_id, attempt, tags, amount_nusd, reserved_at, expires_at, sent_at) "
            "VALUES (?, 0, ?, ?, ?, ?, ?) ON CONFLICT (call_id, attempt) DO UPDATE SET "
            "amount_nusd = excluded.amount_nusd, expires_at = excluded.expires_at",
            (step.lease_id, step.tags, granted, now, step.expires_at, now),
        )

    def _insert_rows(self, cur: Cursor, step: LeaseFlush) -> int:
        """Record the step's rows; returns their cost in nanodollars. A row whose call id is
        recorded already (an id reused by another process: this step is not a retry) is still
        spend: it is recorded under its id and the lease's, so it is billed, and once."""
        values = [row_values(row) for row in step.rows]
        recorded = self._insert_new(cur, values)
        for row in values:
            if (row[0], row[1]) not in recorded:
                repeat: list[Any] = list(row)
                repeat[0] = f"{row[0]}~{step.lease_id}-{step.seq}"
                repeat[-2] = "call id recorded already: this repeat billed under its own id"
                cur.execute(INSERT_ROW, repeat)
        return sum(to_units(row.cost) for row in step.rows)

    def _insert_new(self, cur: Cursor, values: Sequence[Sequence[Any]]) -> set[tuple[str, int]]:
        """Insert the rows (column values) whose (call id, attempt) is new; returns those."""
        recorded: set[tuple[str, int]] = set()
        for start in range(0, len(values), ROWS_PER_STATEMENT):
            chunk = values[start : start + ROWS_PER_STATEMENT]
            recorded.update(
                (str(call), int(attempt))
                for call, attempt in cur.execute(
                    insert_rows(len(chunk))
                    + " ON CONFLICT (call_id, attempt) DO NOTHING RETURNING call_id, attempt",
                    [v for row in chunk for v in row],
                ).fetchall()
            )
        return recorded

    def _add_spend(self, cur: Cursor, spend: Sequence[tuple[str, str, str, int]]) -> None:
        """Add each (scope, period, window, units) to its window's spend row (made if new): a
        settlement's, or a lease step's rows'; windows in key order (as they are locked)."""
        spend = [item for item in spend if item[3]]
        if spend:
            cur.execute(
                "INSERT INTO budget_spend (scope, period, win, spent_nusd) "
                f"VALUES {values_list(len(spend), 4)} ON CONFLICT (scope, period, win) DO UPDATE "
                "SET spent_nusd = budget_spend.spent_nusd + excluded.spent_nusd",
                [v for item in spend for v in item],
            )

    def _room(self, cur: Cursor, step: LeaseFlush, now: float) -> int | None:
        """What every hard budget of the step's windows lets the lease hold in all (None: no
        hard budget among them): its limit less the window's spend and every other live hold."""
        hard = {b.key: b for b in self._budgets(cur) if not b.soft}
        found = [(hard[s, p], win) for s, p, win in step.windows if (s, p) in hard]
        if not found:
            return None
        entries = self._entries(
            cur, [b for b, _ in found], now, (step.lease_id, 0), [win for _, win in found]
        )
        return min(entry.budget.to_units(entry.remaining) for entry in entries)
