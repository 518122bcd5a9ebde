"""The ledger: budgets, reservations and one row per call, behind a small interface.

Backends (``memory``, ``sqlite``, ``postgres``) are opened by URL (``urls``). Every backend implements :meth:`Ledger.reserve` as one atomic step: the
check of every matching budget and the hold on each happen in one transaction (or under one
lock), never as a read followed by a separate write.

Protocol: ``reserve`` the call's worst case before sending; ``settle`` the actual cost after
(idempotent by call id: a retried settle records nothing twice) which frees the difference;
``release`` on failure. A hold expires after its TTL, so a crashed process's reservation frees
itself. No prompt or image content is ever stored.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from pricing import InputError, RouterError, money

from ..estimate.basis import Basis
from ..estimate.calibration import Calibration
from .alerts import Alert, crossed
from .budgets import (
    Budget,
    BudgetExceededError,
    BudgetStatus,
    remaining_for,
    to_stored,
)
from .spend import Report, ReportQuery

STATUSES = ("ok", "error", "unmetered", "orphaned")
DEFAULT_HOLD_SECONDS = 300.0
#: A sent call's holds expire at this instant, that is never: they count until the call is
#: settled, or billed as orphaned once their reservation's own time is up.
FOREVER = 1e300
#: An unsent reservation stops counting when its hold's time is up, but stays a day before it
#: is cleared away, so a late settlement of it still lands in the windows it held.
STALE_SECONDS = 86_400.0


@attrs.frozen
class LedgerRow:
    """One call, or one attempt of a call that may have been charged, as recorded: never the
    prompt or images, only what it was and what it cost.

    ``attempt`` numbers a call's charged attempts from 1 (a call that fell back after an
    attempt the gateway may have billed has a row for each); ``attempts`` counts the HTTP tries
    a row covers; ``note`` says why a row is billed as it is when that is not plain metering
    (usage above the reservation, an answer lost after sending...). Money is kept in whole
    nanodollars (1e-9 USD), which every bundled price is exact in; a finer amount is rounded
    up, so recorded spend never falls below the true cost."""

    call_id: str
    ts: float
    requested_model: str
    served_model: str
    tags: tuple[tuple[str, str], ...]
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    estimate_low: Decimal = attrs.field(converter=to_stored)
    estimate_expected: Decimal = attrs.field(converter=to_stored)
    estimate_high: Decimal = attrs.field(converter=to_stored)
    cost: Decimal = attrs.field(converter=to_stored)
    status: str
    latency: float
    attempts: int
    attempt: int = 1
    note: str = ""
    basis: Basis | None = None  # what the estimate was made of (counts and sizes, no content)

    def __attrs_post_init__(self) -> None:
        if self.status not in STATUSES:
            raise InputError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def tag_map(self) -> dict[str, str]:
        return dict(self.tags)


@attrs.frozen
class Hold:
    """A reservation on one budget window: ``period`` is the budget's
    :attr:`~router.ledger.budgets.Budget.counter`, ``amount`` in its unit."""

    scope: str
    period: str
    window: str
    amount: Decimal


def holds_for(entries: Iterable[BudgetStatus], cost: Decimal, tokens: int) -> tuple[Hold, ...]:
    """What a call of worst case ``cost`` and ``tokens`` holds on each budget window."""
    return tuple(
        Hold(e.budget.scope_text, e.budget.counter, e.window, e.budget.charge(cost, tokens))
        for e in entries
    )


@attrs.frozen
class Reservation:
    """What :meth:`Ledger.reserve` held (``amount``: the worst case in USD; each hold in its
    budget's unit); ``warnings`` lists soft budgets this call crosses."""

    call_id: str
    amount: Decimal
    expires_at: float
    holds: tuple[Hold, ...]
    warnings: tuple[BudgetStatus, ...] = ()


#: The note on an orphaned row (the PostgreSQL sweep writes the same words).
ORPHAN_NOTE = "sent and never settled: billed at the reserved worst case"
#: The note on an orphaned lease (attempt 0): its process stopped renewing it, and what it held
#: may have been spent by calls the ledger never heard of (the PostgreSQL sweep agrees).
LEASE_NOTE = "lease not renewed: billed at the room it held"


def orphan_row(
    call_id: str, attempt: int, tags_json: str, amount: Decimal, reserved_at: float
) -> LedgerRow:
    """The row of a call that was sent and never settled (its process died, or recording its
    answer failed): billed at its reservation, the worst case, dated when it was reserved."""
    tags = tuple(sorted(json.loads(tags_json).items()))
    model = dict(tags).get("model", "unknown:unknown")
    return LedgerRow(
        call_id, reserved_at, model, model, tags, 0, 0, 0, 0, amount, amount, amount, amount,
        "orphaned", 0.0, 1, attempt, LEASE_NOTE if attempt == 0 else ORPHAN_NOTE,
    )  # fmt: skip


@attrs.frozen
class LeaseFlush:
    """One step of a budget lease (``leases``), applied by :meth:`Ledger.lease` in one
    transaction, at most once per ``seq``: record ``rows`` (calls admitted against the lease and
    settled since the last step) into the lease's ``windows``, then hold ``want`` nanodollars
    there for the lease (at least ``need``, what calls in flight were admitted for; more only
    where every hard budget has room, and a slice of it at most) until ``expires_at``."""

    lease_id: str
    seq: int
    windows: tuple[tuple[str, str, str], ...]  # (scope, period, window), sorted
    tags: str  # JSON: the tags of the orphaned row if the lease is never renewed
    rows: tuple[LedgerRow, ...]
    need: int
    want: int
    expires_at: float


@attrs.frozen
class LeaseGrant:
    """What a lease holds after a step (nanodollars), what every hard budget of its windows
    would still let it hold, and whether it was ``lost``: not renewed in time, billed whole
    as an orphaned row (later rows of it are credited against that row, never billed twice)."""

    held: int
    room: int | None  # None: no hard budget, or not read (a step that did not grow the lease)
    lost: bool = False


class LedgerError(RouterError):
    """The ledger's storage failed (the driver's error is the cause). Exit 1."""


class UnrecordedCallError(LedgerError):
    """The gateway answered but the ledger could not record it: the answer is in
    :attr:`result`. The call's reservation stays, marked sent, and is billed at its worst case
    by the first write the ledger takes after the hold's time (so it is never free)."""

    def __init__(self, result: Any, cause: LedgerError) -> None:
        self.result = result
        super().__init__(
            f"the call was answered (the answer is kept) but not recorded: {cause}; its hold "
            "stays and will be billed at its worst case"
        )


def recorded_already(call_id: str, attempt: int = 1) -> InputError:
    """The error for a reservation under a call id the ledger has recorded: sending again would
    charge a call whose result can no longer be recorded (settling is idempotent by id)."""
    return InputError(
        f"call id {call_id!r} (attempt {attempt}) is already recorded in the ledger: every "
        "call needs a new id "
        "(check Router(new_id=...)); nothing was sent"
    )


def check_limits(
    entries: Sequence[BudgetStatus], cost: Decimal, tokens: int = 0
) -> tuple[BudgetStatus, ...]:
    """Raise for the first hard budget a call of worst case ``cost`` and ``tokens`` would
    overrun (each budget counts it in its unit); return the soft ones crossed."""
    warnings = []
    for status in entries:
        amount = status.budget.charge(cost, tokens)
        if money.total((status.spent, status.reserved, amount)) <= status.budget.limit:
            continue
        if not status.budget.soft:
            raise BudgetExceededError(status.budget, status.spent, status.reserved, amount)
        warnings.append(status)
    return tuple(warnings)


class Ledger(abc.ABC):
    """The interface every backend implements; ``now`` is a Unix time the caller passes in."""

    @classmethod
    @abc.abstractmethod
    def from_url(cls, url: str, **options: Any) -> Ledger:
        """Open the backend a URL of its scheme names; ``options`` go to its constructor."""

    @abc.abstractmethod
    def set_budget(self, budget: Budget) -> None:
        """Create or replace the budget with this scope, period and unit."""

    def delete_budget(self, scope: str, period: str | None = None, unit: str | None = None) -> int:
        """Delete the budgets of ``scope`` (text, as ``Budget.scope_text``), ``period`` and
        ``unit`` (None: every one); returns how many were deleted. Spend already counted stays
        in its windows (a budget set again for the same scope, period and unit starts from
        it), and calls in flight settle as usual."""
        keys = [
            b.key
            for b in self.budgets()
            if b.scope_text == scope and period in (None, b.period) and unit in (None, b.unit)
        ]
        for key in keys:
            self._delete_budget(*key)
        return len(keys)

    @abc.abstractmethod
    def _delete_budget(self, scope: str, counter: str) -> None:
        """Delete the budget of this :attr:`~router.ledger.budgets.Budget.key`."""

    @abc.abstractmethod
    def budgets(self) -> list[Budget]:
        """Every budget, in scope then period order."""

    @abc.abstractmethod
    def status(self, now: float) -> list[BudgetStatus]:
        """Every budget in the window ``now`` falls in: limit, spent, live reservations."""

    @abc.abstractmethod
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
        """Atomically check every matching budget and hold the call's worst case on each (in
        its unit: ``amount`` of USD, ``tokens``, one request), or raise
        :class:`BudgetExceededError` holding nothing. A reservation is the call's ``attempt``:
        reserving the same attempt again replaces its holds (a fallback whose model was not
        charged re-reserves for its own); reserving an attempt already recorded raises
        :class:`InputError` (:func:`recorded_already`). ``sent`` marks it sent in the same
        step, as :meth:`mark_sent` would (one round trip fewer for a request sent at once)."""

    @abc.abstractmethod
    def mark_sent(self, call_id: str, now: float, *, attempt: int = 1) -> None:
        """Record that the call's request is about to be sent: from now on its holds count
        until it is settled, and if it never is (its process dies, or the settlement fails), the
        first reservation or settlement after its hold's time is up bills it as ``orphaned``
        at the reserved worst case. A hold never marked sent simply expires."""

    @abc.abstractmethod
    def settle(self, row: LedgerRow, now: float) -> bool:
        """Record the call and add its cost to the budgets it reserved (or, with no live
        reservation, to the budgets its tags match now); free its holds. Idempotent by call id:
        returns False, changing nothing, when the call is already recorded."""

    def release(
        self, call_id: str, now: float, row: LedgerRow | None = None, *, attempt: int = 1
    ) -> None:
        """Free the attempt's holds (the gateway did not charge it); record ``row`` (a failed
        call) if given and not yet recorded, which settles it: its cost is added like any
        other."""
        if row is not None:
            self.settle(row, now)
        else:
            self._drop_holds(call_id, attempt)

    @abc.abstractmethod
    def _drop_holds(self, call_id: str, attempt: int) -> None:
        """Delete the attempt's holds and its pending entry."""

    @abc.abstractmethod
    def rows(
        self, since: float | None = None, until: float | None = None, *, newest: int | None = None
    ) -> list[LedgerRow]:
        """The recorded calls dated from ``since`` (included) to ``until`` (not), oldest first;
        with ``newest``, only the last that many (for learning from a large ledger; reports
        aggregate in the backend instead)."""

    @abc.abstractmethod
    def report(self, query: ReportQuery, now: float, *, series: bool = False) -> Report:
        """Spend grouped and filtered as ``query`` says, with the budgets' current state;
        ``series`` adds spend per day and model (for the chart)."""

    @abc.abstractmethod
    def calibration(self) -> Calibration | None:
        """The calibration in force (the newest stored), or None."""

    @abc.abstractmethod
    def store_calibration(self, calibration: Calibration, now: float) -> Calibration:
        """Store ``calibration`` as the next version, in force for every process from now on;
        returns it with its version and time."""

    @abc.abstractmethod
    def reset_calibration(self) -> int:
        """Remove every stored calibration (estimates return to the catalog's figures);
        returns how many versions there were."""

    def claim_alerts(
        self, now: float, budgets: Iterable[tuple[str, str]] | None = None
    ) -> list[Alert]:
        """The alerts crossed by ``now`` that no process has fired yet in their window, each
        claimed for this caller alone (the ledger records it once: of sixteen processes
        crossing 80 % together, one gets the alert). ``budgets`` limits the check to those
        budgets (their :attr:`~router.ledger.budgets.Budget.key`), say the ones a call was just
        settled against."""
        wanted = [
            (status, alert)
            for status in self.status(now)
            if status.budget.alerts and (budgets is None or status.budget.key in budgets)
            for alert in crossed(status, now)
        ]
        if not wanted:
            return []
        keys = [(*s.budget.key, s.window, a, s.budget.to_units(s.spent)) for s, a in wanted]
        won = self._claim(keys, now)
        return [
            Alert(status.budget, status.window, alert, status.spent, now)
            for (status, alert), mine in zip(wanted, won, strict=True)
            if mine
        ]

    def fired_alerts(self, now: float) -> list[Alert]:
        """The alerts fired in each budget's current window, by whichever process."""
        statuses = [s for s in self.status(now) if s.budget.alerts]
        fired = self._fired([(*s.budget.key, s.window) for s in statuses])
        return [
            Alert(s.budget, s.window, alert, s.budget.from_units(units), at)
            for s in statuses
            for alert, at, units in fired.get((*s.budget.key, s.window), ())
        ]

    @abc.abstractmethod
    def _claim(self, keys: Sequence[tuple[str, str, str, str, int]], now: float) -> list[bool]:
        """Record each (scope, period, window, alert, spent) not yet recorded; True for those
        this call recorded."""

    @abc.abstractmethod
    def _fired(
        self, windows: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], list[tuple[str, float, int]]]:
        """The (alert, fired_at, spent) recorded for each (scope, period, window)."""

    def lease(self, step: LeaseFlush, now: float) -> LeaseGrant:
        """Apply one step of a budget lease (see :class:`LeaseFlush`); a step already applied
        (a retry after a lost answer) changes nothing and returns the lease's state."""
        raise InputError(f"{self!r} cannot lease budgets: use a sqlite:// or postgresql:// ledger")

    def allowance(self, tags: Mapping[str, str], now: float) -> Decimal | None:
        """What the matching hard budgets still allow one call to cost (None: no limit)."""
        return remaining_for(self.status(now), tags)

    def close(self) -> None:  # noqa: B027 -- optional: only backends with connections override it
        """Release connections; the ledger is unusable afterwards."""
