"""``memory://``: the ledger in a dict behind one lock. One process; for tests and examples.

It is also the test double users can build budget logic against without a database.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from pricing import money

from ..estimate.calibration import Calibration
from .base import (
    DEFAULT_HOLD_SECONDS,
    FOREVER,
    STALE_SECONDS,
    Hold,
    Ledger,
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
    split_key,
    to_stored,
    to_units,
)
from .calendar import calendar_keys
from .spend import Report, ReportQuery, ReportRow, report_row

_Key = tuple[str, str, str]  # scope text, counter (period, and unit), window
_Attempt = tuple[str, int]  # call id, attempt


class MemoryLedger(Ledger):
    """The ledger in this process's memory; nothing survives the process."""

    def __init__(self, *, read_only: bool = False) -> None:
        """``read_only`` is accepted like the file ledgers' option; a memory ledger has no
        lock for readers to take, so it changes nothing."""
        self._lock = threading.Lock()
        self._budgets: dict[tuple[str, str], Budget] = {}
        self._spent: dict[_Key, Decimal] = {}  # in each budget's unit
        #: (call id, attempt) → its hold's end, and its holds
        self._holds: dict[_Attempt, tuple[float, tuple[Hold, ...]]] = {}
        #: (call id, attempt) → its tags (JSON), amount, reserved at, hold's end, whether sent
        self._pending: dict[_Attempt, tuple[str, Decimal, float, float, bool]] = {}
        self._rows: dict[_Attempt, LedgerRow] = {}
        self._calibrations: list[Calibration] = []
        self._alerts: dict[tuple[str, str, str], dict[str, tuple[float, int]]] = {}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> MemoryLedger:
        return cls(**options)

    def set_budget(self, budget: Budget) -> None:
        with self._lock:
            self._budgets[budget.key] = budget

    def _delete_budget(self, scope: str, counter: str) -> None:
        with self._lock:
            self._budgets.pop((scope, counter), None)

    def budgets(self) -> list[Budget]:
        with self._lock:
            return [self._budgets[k] for k in sorted(self._budgets)]

    def _entry(
        self, budget: Budget, window: str, now: float, exclude: _Attempt | None
    ) -> BudgetStatus:
        key = (*budget.key, window)
        reserved = money.total(
            h.amount
            for call, (expires, holds) in self._holds.items()
            if expires > now and call != exclude
            for h in holds
            if (h.scope, h.period, h.window) == key
        )
        return BudgetStatus(budget, window, self._spent.get(key, Decimal(0)), reserved)

    def status(self, now: float) -> list[BudgetStatus]:
        with self._lock:
            return [
                self._entry(b, b.window(now), now, None) for _, b in sorted(self._budgets.items())
            ]

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
        amount = to_stored(amount)
        key = (call_id, attempt)
        with self._lock:
            self._sweep(now)
            if key in self._rows:
                raise recorded_already(call_id, attempt)
            budgets = matching(self._budgets.values(), tags)
            entries = [self._entry(b, b.window(now), now, key) for b in budgets]
            warnings = check_limits(entries, amount, tokens)
            holds = holds_for(entries, amount, tokens)
            self._holds[key] = (FOREVER if sent else now + hold_seconds, holds)
            tags_text = json.dumps(dict(tags), sort_keys=True)
            self._pending[key] = (tags_text, amount, now, now + hold_seconds, sent)
            return Reservation(call_id, amount, now + hold_seconds, holds, warnings)

    def mark_sent(self, call_id: str, now: float, *, attempt: int = 1) -> None:
        key = (call_id, attempt)
        with self._lock:
            if key in self._pending:
                self._holds[key] = (FOREVER, self._holds[key][1])
                self._pending[key] = (*self._pending[key][:4], True)

    def settle(self, row: LedgerRow, now: float) -> bool:
        with self._lock:
            self._sweep(now)
            return self._record(row, now)

    def _record(self, row: LedgerRow, now: float) -> bool:
        attempt = (row.call_id, row.attempt)
        if attempt in self._rows:
            return False
        self._rows[attempt] = row
        self._pending.pop(attempt, None)
        _, holds = self._holds.pop(attempt, (0.0, ()))
        held = [(h.scope, h.period, h.window, h.amount) for h in holds] or [
            (*b.key, b.window(now), Decimal(0))
            for b in matching(self._budgets.values(), row.tag_map)
        ]
        tokens = row.input_tokens + row.output_tokens
        for scope, counter, window, amount in held:
            unit = split_key(counter)[1]
            places = UNITS[unit]
            units = counted(unit, row.cost, tokens, row.status, to_units(amount, places))
            key = (scope, counter, window)
            self._spent[key] = money.add(
                self._spent.get(key, Decimal(0)), from_units(units, places)
            )
        return True

    def _sweep(self, now: float) -> None:
        """Bill every sent call whose hold's time is up as orphaned; clear unsent ones a day
        after their time was up."""
        for key, (tags, amount, reserved_at, expires, sent) in list(self._pending.items()):
            if expires > (now if sent else now - STALE_SECONDS):
                continue
            if sent:
                self._record(orphan_row(*key, tags, amount, reserved_at), now)
            else:
                self._pending.pop(key)
                self._holds.pop(key, None)

    def _drop_holds(self, call_id: str, attempt: int) -> None:
        with self._lock:
            self._holds.pop((call_id, attempt), None)
            self._pending.pop((call_id, attempt), None)

    def _claim(self, keys: Sequence[tuple[str, str, str, str, int]], now: float) -> list[bool]:
        with self._lock:
            won = []
            for scope, period, window, alert, units in keys:
                key = (scope, period, window)
                fired = self._alerts.setdefault(key, {})
                won.append(alert not in fired)
                fired.setdefault(alert, (now, units))
            return won

    def _fired(
        self, windows: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], list[tuple[str, float, int]]]:
        with self._lock:
            return {
                key: [
                    (alert, at, units) for alert, (at, units) in sorted(self._alerts[key].items())
                ]
                for key in windows
                if key in self._alerts
            }

    def calibration(self) -> Calibration | None:
        with self._lock:
            return self._calibrations[-1] if self._calibrations else None

    def store_calibration(self, calibration: Calibration, now: float) -> Calibration:
        with self._lock:
            version = self._calibrations[-1].version + 1 if self._calibrations else 1
            stored = attrs.evolve(calibration, version=version, created_at=now)
            self._calibrations.append(stored)
            return stored

    def reset_calibration(self) -> int:
        with self._lock:
            count = len(self._calibrations)
            self._calibrations.clear()
            return count

    def rows(
        self, since: float | None = None, until: float | None = None, *, newest: int | None = None
    ) -> list[LedgerRow]:
        with self._lock:
            found = sorted(self._rows.values(), key=lambda r: (r.ts, r.call_id, r.attempt))
        found = [
            r for r in found if (since is None or r.ts >= since) and (until is None or r.ts < until)
        ]
        return found if newest is None else found[len(found) - min(newest, len(found)) :]

    def report(self, query: ReportQuery, now: float, *, series: bool = False) -> Report:
        recorded = self.rows()  # read once, aggregated once or twice
        rows, total = aggregate_rows(recorded, query)
        days: tuple[tuple[str, str, Decimal], ...] = ()
        if series:
            by_day = attrs.evolve(query, by=("day", "model"))
            days = tuple(
                (str(r.key[0]), str(r.key[1]), r.cost) for r in aggregate_rows(recorded, by_day)[0]
            )
        return Report(query, tuple(rows), total, tuple(self.status(now)), days)


def aggregate_rows(
    rows: Iterable[LedgerRow], query: ReportQuery
) -> tuple[list[ReportRow], ReportRow]:
    """Recorded calls grouped and totalled as ``query`` says, in Python (the tests' oracle for
    the SQL ledgers' aggregation)."""
    groups: dict[tuple[str | None, ...], list[int]] = {}
    total = [0] * 9
    wanted = dict(query.tags)
    for row in rows:
        if query.since_ts is not None and row.ts < query.since_ts:
            continue
        if query.until_ts is not None and row.ts >= query.until_ts:
            continue
        tags = row.tag_map
        if any(tags.get(k) != v for k, v in wanted.items()):
            continue
        day, week, month = calendar_keys(row.ts)
        fields = {
            "day": day,
            "week": week,
            "month": month,
            "model": row.served_model,
            "provider": row.served_model.partition(":")[0],
            "user": tags.get("user"),
            "project": tags.get("project"),
        }
        key = tuple(fields[g] if g in fields else tags.get(g[4:]) for g in query.by)
        cost, expected, high = (
            to_units(row.cost),
            to_units(row.estimate_expected),
            to_units(row.estimate_high),
        )
        ok = row.status == "ok"
        values = (
            1,
            row.input_tokens,
            row.output_tokens,
            cost,
            row.status == "error",
            row.status in ("unmetered", "orphaned"),
            cost if ok else 0,
            expected if ok else 0,
            cost > high,
        )
        bucket = groups.setdefault(key, [0] * 9)
        for index, value in enumerate(values):
            bucket[index] += int(value)
            total[index] += int(value)
    if not query.by:  # no grouping: the total alone, as the SQL ledgers give it
        return [], report_row((), total)
    ordered = sorted(groups.items(), key=lambda item: tuple((v is None, v or "") for v in item[0]))
    return [report_row(k, v) for k, v in ordered], report_row((), total)
