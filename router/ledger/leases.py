"""Budget leases: a process takes a slice of a hot budget's room and admits calls in memory.

:class:`LeasedLedger` wraps a SQL ledger. Calls whose budgets this process reserves on at
:data:`LEASE_RATE` calls a second or more (a "hot" set of budget windows; the rate is
configurable, 0 leases every set) are admitted against a lease: room held in the ledger like a
reservation, taken in one transaction (``lease_sql``). Each call's worst case is checked
against what the lease has left, in memory; settled rows are recorded, and the lease renewed,
topped up or shrunk, in one transaction per lease every :data:`FLUSH_SECONDS`. Cooler budgets
take the plain path, a reservation and a settlement per call, which keeps their rows visible
at once and a crash's bill to one call's worst case.

The guarantee is the plain path's: a call is admitted only if every hard budget's room covers
its worst case, since the lease is room the ledger has already checked and held, and the sum
of admitted worst cases never exceeds what the lease holds, so spend stays within every hard
limit except by what the gateway reports beyond a worst case. A process that dies stops
renewing its leases; after ``lease_seconds`` the first transaction on the ledger bills each as
an orphaned row at what it held (calls it admitted may have been sent): never free. Rows the
process records later for a lease so billed are credited against that row, not billed twice.

Slices: about :data:`SLICE_SECONDS` of the budgets' calls at this process's pace, and at most
an eighth of the room left (``lease_sql.LEASE_SHARE``), so near a limit slices shrink with the
room; when a top-up cannot give ``lease_state.MIN_SLICE_CALLS`` worst cases, or cannot cover
the call at hand, the lease returns its room and the budgets are admitted call by call for
:data:`COOL_SECONDS` (so a process's own unused slice never refuses a call the budget has room
for: the plain path decides it). Each lease's own arithmetic is ``lease_state``.
"""

from __future__ import annotations

import atexit
import itertools
import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from pricing import InputError

from .alerts import Alert
from .base import (
    DEFAULT_HOLD_SECONDS,
    Hold,
    LeaseFlush,
    Ledger,
    LedgerError,
    LedgerRow,
    Reservation,
    recorded_already,
)
from .budgets import Budget, from_units, matching, parse_scope, to_units
from .lease_state import Attempt, Key, Lease
from .urls import ledger_from_url
from .wrapped import WrappedLedger

log = logging.getLogger("costrouter.ledger")

#: Calls a second on one set of budget windows, in this process, from which they lease. Below
#: it the plain path's two round trips a call cost the ledger little, and a lease would only
#: delay rows and widen what a crash bills.
LEASE_RATE = 20.0
#: Seconds between two steps of each lease: settled rows recorded, the lease renewed, topped up.
FLUSH_SECONDS = 0.1
#: Seconds a lease lasts unrenewed: then it is billed whole (its process is taken for dead).
LEASE_SECONDS = 60.0
#: A slice covers about this many seconds of the budgets' calls at this process's pace.
SLICE_SECONDS = 1.0
#: Seconds a set of budgets stays call by call after its lease ran dry near a limit.
COOL_SECONDS = 1.0


class LeasedLedger(WrappedLedger):
    """A SQL ledger whose hot budgets are admitted against leases (see the module's text).

    ``rate``: calls a second on a set of budgets from which they lease (0: always).
    ``flush_seconds``, ``lease_seconds``, ``slice_seconds``: see the module's constants.
    Rows admitted under a lease reach the ledger within ``flush_seconds`` (call :meth:`flush`
    to record them now); :meth:`close` records them and returns every lease's room."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        rate: float = LEASE_RATE,
        flush_seconds: float = FLUSH_SECONDS,
        lease_seconds: float = LEASE_SECONDS,
        slice_seconds: float = SLICE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if type(ledger).lease is Ledger.lease:
            ledger.lease(LeaseFlush("", 0, (), "{}", (), 0, 0, 0.0), 0.0)  # raises, saying why
        if not 0 < flush_seconds * 4 <= lease_seconds:
            raise InputError(
                f"a lease lasting {lease_seconds} s cannot be renewed every {flush_seconds} s: "
                "make lease_seconds at least four flushes"
            )
        super().__init__(ledger)
        self.rate, self.flush_seconds = rate, flush_seconds
        self.lease_seconds, self.slice_seconds = lease_seconds, slice_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._reset()
        self._closed = False
        atexit.register(self.close)

    def _reset(self) -> None:
        """This process's lease state, new (also in a forked child: the parent's leases are
        the parent's, and a child admitting against them would spend their room twice)."""
        self._pid = os.getpid()
        self._leases: dict[Key, Lease] = {}
        self._retired: list[Lease] = []
        self._by_call: dict[Attempt, Lease] = {}
        self._settled: set[Attempt] = set()  # settled under a lease, not yet recorded
        self._rates: dict[Key, tuple[int, int, int]] = {}  # second, calls in it, in the last
        self._cool: dict[Key, float] = {}
        self._budget_list: list[Budget] | None = None  # read again after each flush
        self._alerts_checked = -math.inf
        self._warned = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> LeasedLedger:
        """The SQL ledger ``url`` names, leased; ``options`` are this class's."""
        return cls(ledger_from_url(url), **options)

    def __repr__(self) -> str:
        return f"LeasedLedger({self.inner!r})"

    # -- the call path --------------------------------------------------------------------

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
        """A call about to be sent (``sent``) on hot budgets is admitted against their lease
        when it has room for ``amount``, else after a top-up, else on the plain path. Calls a
        token or request budget applies to take the plain path: a lease holds one amount of
        USD in every window it covers."""
        self._own()
        budgets = matching(self._budgets(), tags) if sent else []
        if budgets and all(b.unit == "usd" for b in budgets):
            key = tuple(sorted({(*b.key, b.window(now)) for b in budgets}))
            units, call = to_units(amount), (call_id, attempt)
            lease = self._lease_for(key, call, tags, now)
            if lease is not None and self._top_up(lease, units):
                with self._lock:
                    if lease.free >= units and not lease.retiring:
                        lease.admit(call, units, now)
                        self._by_call[call] = lease
                        held = from_units(units)
                        holds = tuple(Hold(s, p, w, held) for s, p, w in key)
                        return Reservation(call_id, held, now + hold_seconds, holds)
            self._hand_back(key)
        return self.inner.reserve(
            call_id, amount, tags, now, hold_seconds, attempt=attempt, sent=sent, tokens=tokens
        )

    def _lease_for(
        self, key: Key, call: Attempt, tags: Mapping[str, str], now: float
    ) -> Lease | None:
        """The key's lease (made when the key is hot and not cooling), or None: plain path."""
        with self._lock:
            self._forget(call)  # reserving an attempt again replaces its reservation
            if call in self._settled:
                raise recorded_already(*call)
            second, count, last = self._rates.get(key, (0, 0, 0))
            if int(now) != second:
                second, count, last = int(now), 0, count if int(now) == second + 1 else 0
            self._rates[key] = (second, count + 1, last)
            lease = self._leases.get(key)
            if lease is not None:
                return lease
            if self._cool.get(key, -math.inf) > now or max(count + 1, last) < self.rate:
                return None
            scopes = {name: value for scope, _, _ in key for name, value in parse_scope(scope)}
            lease = Lease(uuid.uuid4().hex, key, json.dumps(scopes, sort_keys=True), now)
            self._leases[key] = lease
            self._start()
            return lease

    def _top_up(self, lease: Lease, units: int) -> bool:
        """True when the lease may cover ``units``: it has the room, or a step just got it.
        The step is dated by the clock, not by the call: a fallback's call started up to its
        deadline ago, and a lease renewed from then would expire under its process."""
        now = self._clock()
        with self._lock:
            if lease.retiring:
                return False
            if lease.free >= units:
                return True
        self._step(lease, now, extra=units)
        with self._lock:
            covered = not lease.retiring and lease.free >= units
            if not covered and lease.short and not lease.retiring:  # no room for this call
                self._cool[lease.key] = now + COOL_SECONDS
                self._retire(lease)
            give_back = lease.retiring and lease.granted > lease.used
        if give_back:  # near the limit the room goes back now: the plain path deciding this
            self._step(lease, now)  # call finds none of it held unused
        return covered

    def _hand_back(self, key: Key) -> None:
        """Before the plain path decides a call, step this process's retired leases on any of
        its windows that hold more than their calls in flight need, or have rows to record:
        near a limit their room goes back at once, not at the next flush."""
        windows = set(key)
        with self._lock:
            due = [
                lease
                for lease in self._retired
                if windows.intersection(lease.key) and (lease.rows or lease.granted > lease.used)
            ]
        for lease in due:
            self._step(lease, self._clock())

    def mark_sent(self, call_id: str, now: float, *, attempt: int = 1) -> None:
        if (call_id, attempt) not in self._by_call:  # admitted under a lease: counted as sent
            self.inner.mark_sent(call_id, now, attempt=attempt)

    def settle(self, row: LedgerRow, now: float) -> bool:
        call = (row.call_id, row.attempt)
        with self._lock:
            if call in self._settled:
                return False
            lease = self._by_call.pop(call, None)
            if lease is not None:
                lease.settle(call, row)
                self._settled.add(call)
                return True
        return self.inner.settle(row, now)

    def _drop_holds(self, call_id: str, attempt: int) -> None:
        with self._lock:
            if self._forget((call_id, attempt)):
                return
        self.inner.release(call_id, self._clock(), attempt=attempt)

    def _forget(self, call: Attempt) -> bool:
        """Under the lock: free a call's admission (True if it had one)."""
        lease = self._by_call.pop(call, None)
        if lease is None:
            return False
        lease.forget(call)
        return True

    # -- lease steps ----------------------------------------------------------------------

    def _step(self, lease: Lease, now: float, extra: int = 0, closing: bool = False) -> bool:
        """One transaction for the lease (the step ``Lease.next_step`` makes; a step whose
        answer was lost is sent again, and the ledger applies it once). False on a ledger error
        (logged once; the rows wait for the next step)."""
        with lease.step_lock:
            with self._lock:
                _, count, last = self._rates.get(lease.key, (0, 0, 0))
                step = lease.next_step(
                    now + self.lease_seconds, max(count, last, 1), self.slice_seconds, extra,
                    closing,
                )  # fmt: skip
            try:
                grant = self.inner.lease(step, now)
            except LedgerError as exc:
                if not self._warned:
                    self._warned = True
                    log.warning("a budget lease step failed (retried): %s", exc)
                return False
            with self._lock:
                self._settled.difference_update((row.call_id, row.attempt) for row in step.rows)
                if lease.take(step, grant, now):
                    if grant.lost:
                        log.warning(
                            "budget lease %s was not renewed in time and was billed whole; its "
                            "calls are credited against that bill",
                            lease.id,
                        )
                    else:  # near the limit: call by call
                        self._cool[lease.key] = now + COOL_SECONDS
                    self._retire(lease)
        return True

    def _retire(self, lease: Lease) -> None:
        """Under the lock: admit no more against the lease; it returns its room at its next
        steps and is forgotten once empty."""
        if not lease.retiring:
            lease.retiring = True
            if self._leases.get(lease.key) is lease:
                del self._leases[lease.key]
            self._retired.append(lease)

    def flush(self, now: float | None = None) -> None:
        """Step every lease that has rows to record, needs renewing or topping up, or is
        retiring; retire leases idle for two slices (their window may be over)."""
        self._own()
        now = self._clock() if now is None else now
        with self._lock:
            leases = [*self._leases.values(), *self._retired]
        for lease in leases:
            with self._lock:
                if now - max(lease.last_admit, lease.created) > 2 * self.slice_seconds:
                    self._retire(lease)
                due = (
                    lease.rows
                    or lease.unacked is not None
                    or (lease.retiring and lease.granted)
                    or now - lease.renewed > self.lease_seconds / 4
                    or lease.free < lease.wanted / 2
                )
            if due:
                self._step(lease, now)
            with self._lock:
                if lease.retiring and lease.empty and lease in self._retired:
                    self._retired.remove(lease)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
                self._budget_list = None
            except Exception:  # the flusher must outlive any one failure
                log.exception("budget lease flush failed")

    def _start(self) -> None:
        """Under the lock: start the flushing thread, once per process."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="costrouter-leases", daemon=True)
            self._thread.start()

    def _own(self) -> None:
        if os.getpid() != self._pid:
            self._reset()

    def _budgets(self) -> list[Budget]:
        """The budgets, read again after each flush (a budget set meanwhile reaches leased
        calls within a flush interval)."""
        budgets = self._budget_list
        if budgets is None:
            budgets = self._budget_list = self.inner.budgets()
        return budgets

    def close(self) -> None:
        """Record every settled row, return every lease's room, close the ledger."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        if self._pid == os.getpid():
            self._stop.set()
            if self._thread is not None:
                self._thread.join(timeout=5)
            now = self._clock()
            with self._lock:
                leases = [*self._leases.values(), *self._retired]
                for lease in leases:
                    self._retire(lease)
            for lease in leases:
                for _ in range(3):  # a failed step is retried; then the lease's expiry bills it
                    if self._step(lease, now, closing=True):
                        break
        self.inner.close()

    # -- what the wrapped ledger answers differently under leases ------------------------

    def claim_alerts(
        self, now: float, budgets: Iterable[tuple[str, str]] | None = None
    ) -> list[Alert]:
        """At most once a flush interval (a leased call's spend reaches the ledger with its
        flush): the next call after it checks what the interval's calls crossed."""
        if now - self._alerts_checked < self.flush_seconds:
            return []
        self._alerts_checked = now
        return self.inner.claim_alerts(now, budgets)

    def set_budget(self, budget: Budget) -> None:
        self.inner.set_budget(budget)
        self._budget_list = None

    def _delete_budget(self, scope: str, counter: str) -> None:
        self._budget_list = None
        self.inner._delete_budget(scope, counter)

    def held(self) -> int:
        """Nanodollars this process's leases hold and no call of it has used (for the
        benchmarks' "stranded room" figure)."""
        self._own()
        with self._lock:
            return sum(
                max(lease.granted - lease.used, 0)
                for lease in itertools.chain(self._leases.values(), self._retired)
            )
