"""A ledger that hands every operation to the ledger it wraps: the base of wrappers that
change a few (``leases``), so each states only what it changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ..estimate.calibration import Calibration
from .base import DEFAULT_HOLD_SECONDS, LeaseFlush, LeaseGrant, Ledger, LedgerRow, Reservation
from .budgets import Budget, BudgetStatus
from .spend import Report, ReportQuery


class WrappedLedger(Ledger):
    """Every operation is ``inner``'s; :meth:`close` closes it."""

    def __init__(self, inner: Ledger) -> None:
        self.inner = inner

    @classmethod
    def from_url(cls, url: str, **options: Any) -> WrappedLedger:
        raise NotImplementedError  # a wrapper is made around an opened ledger

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
        return self.inner.reserve(
            call_id, amount, tags, now, hold_seconds, attempt=attempt, sent=sent, tokens=tokens
        )

    def mark_sent(self, call_id: str, now: float, *, attempt: int = 1) -> None:
        self.inner.mark_sent(call_id, now, attempt=attempt)

    def settle(self, row: LedgerRow, now: float) -> bool:
        return self.inner.settle(row, now)

    def _drop_holds(self, call_id: str, attempt: int) -> None:
        self.inner._drop_holds(call_id, attempt)

    def set_budget(self, budget: Budget) -> None:
        self.inner.set_budget(budget)

    def _delete_budget(self, scope: str, counter: str) -> None:
        self.inner._delete_budget(scope, counter)

    def budgets(self) -> list[Budget]:
        return self.inner.budgets()

    def status(self, now: float) -> list[BudgetStatus]:
        return self.inner.status(now)

    def rows(
        self, since: float | None = None, until: float | None = None, *, newest: int | None = None
    ) -> list[LedgerRow]:
        return self.inner.rows(since, until, newest=newest)

    def report(self, query: ReportQuery, now: float, *, series: bool = False) -> Report:
        return self.inner.report(query, now, series=series)

    def calibration(self) -> Calibration | None:
        return self.inner.calibration()

    def store_calibration(self, calibration: Calibration, now: float) -> Calibration:
        return self.inner.store_calibration(calibration, now)

    def reset_calibration(self) -> int:
        return self.inner.reset_calibration()

    def _claim(self, keys: Sequence[tuple[str, str, str, str, int]], now: float) -> list[bool]:
        return self.inner._claim(keys, now)

    def _fired(
        self, windows: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], list[tuple[str, float, int]]]:
        return self.inner._fired(windows)

    def lease(self, step: LeaseFlush, now: float) -> LeaseGrant:
        return self.inner.lease(step, now)

    def close(self) -> None:
        self.inner.close()
