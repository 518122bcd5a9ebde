"""One budget lease as its process keeps it: what the ledger holds for it, what its calls use,
and the arithmetic of its steps. Values and rules only (no I/O, no lock): ``leases`` owns the
locks, the threads and the ledger, and calls these under its lock.

Money is in nanodollars. ``used`` is the admitted worst cases of calls in flight plus the
settled costs not yet recorded; while a step is out, admissions stay within ``cap``, what the
step's answer will hold at least, so no answer can leave an admitted call uncovered.
"""

from __future__ import annotations

import math
import threading

import attrs

from .base import LeaseFlush, LeaseGrant, LedgerRow
from .budgets import to_units

#: Fewer worst cases of room than this in a top-up near a limit: return it, go call by call.
MIN_SLICE_CALLS = 4

Key = tuple[tuple[str, str, str], ...]  # the (scope, period, window) a call's budgets hold
Attempt = tuple[str, int]


@attrs.define(eq=False)
class Lease:
    """One lease, as this process sees it."""

    id: str
    key: Key
    tags: str
    created: float
    granted: int = 0  # what the ledger holds for it
    used: int = 0  # admitted worst cases in flight, plus settled costs not yet recorded
    cap: float = math.inf  # while a step is in flight: what ``used`` may reach meanwhile
    seq: int = 0
    rows: list[LedgerRow] = attrs.Factory(list)
    admitted: dict[Attempt, int] = attrs.Factory(dict)
    unacked: LeaseFlush | None = None  # a step sent whose answer is not in: sent again as is
    taken: int = 0  # the cost of the rows in ``unacked``
    renewed: float = -math.inf
    last_admit: float = -math.inf
    mean: float = 0.0  # admitted worst cases, a moving average
    wanted: int = 0  # the slice asked for at the last top-up
    retiring: bool = False  # admits no more; returns its room, then is forgotten
    lost: bool = False
    short: bool = False  # the last step held less than it asked: the budgets' room is low
    step_lock: threading.Lock = attrs.Factory(threading.Lock)

    @property
    def free(self) -> float:
        return min(self.granted, self.cap) - self.used

    @property
    def empty(self) -> bool:
        return not (self.used or self.rows or self.unacked or self.granted or self.admitted)

    def admit(self, call: Attempt, units: int, now: float) -> None:
        self.admitted[call] = units
        self.used += units
        self.last_admit = now
        self.mean += (units - self.mean) / 16

    def forget(self, call: Attempt) -> None:
        """A call admitted and released (not charged): its worst case is free again."""
        self.used -= self.admitted.pop(call)

    def settle(self, call: Attempt, row: LedgerRow) -> None:
        """A call admitted and settled: its cost replaces its worst case until recorded."""
        self.used += to_units(row.cost) - self.admitted.pop(call)
        self.rows.append(row)

    def next_step(self, expires_at: float, pace: int, slice_seconds: float, extra: int,
                  closing: bool) -> LeaseFlush:  # fmt: skip
        """The step to send: the step in flight again if its answer was lost (renewed to
        ``expires_at``), else the rows settled since the last step and a hold of what the
        calls in flight need: plus a fresh slice when topping up (a call of ``extra`` does not
        fit, or less than half a slice is free), what it holds already otherwise (such a step
        does not grow the lease, so the ledger locks no budget row), nothing more when
        retiring or ``closing``. A slice is about ``slice_seconds`` of calls at ``pace``."""
        if self.unacked is not None:
            self.unacked = attrs.evolve(self.unacked, expires_at=expires_at)
            return self.unacked
        rows, self.rows = tuple(self.rows), []
        taken = sum(to_units(row.cost) for row in rows)
        need = max(self.used - taken, 0)
        if self.retiring or closing:
            want = need
        elif extra or self.free <= 0 or self.free * 2 < self.wanted:
            mean = max(self.mean, extra)
            self.wanted = int(max(pace * slice_seconds, MIN_SLICE_CALLS) * mean) + extra
            want = need + self.wanted
        else:
            want = max(need, self.granted - taken)
        self.seq += 1
        self.unacked = LeaseFlush(
            self.id, self.seq, self.key, self.tags, rows, need, want, expires_at
        )
        self.taken, self.cap = taken, want + taken
        return self.unacked

    def take(self, step: LeaseFlush, grant: LeaseGrant, now: float) -> bool:
        """Take the step's answer; True when the lease must retire: it was lost (billed
        whole), or near a limit the budgets gave it less than a few calls' room."""
        self.unacked, self.cap = None, math.inf
        self.short = grant.held < step.want
        self.used -= self.taken
        self.taken, self.granted, self.renewed = 0, grant.held, now
        self.lost = self.lost or grant.lost
        return grant.lost or (self.short and self.free < MIN_SLICE_CALLS * self.mean)
