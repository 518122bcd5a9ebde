"""Budget alerts: which of a budget's alerts its window has crossed, as values.

A percentage alert is crossed when settled spend reaches that share of the limit; the forecast
alert when the window's pace so far (settled spend over the time elapsed) would reach the limit
before the window ends. The ledger records each alert once per window (its first claimant
fires it, whichever process that is); ``router.alerts`` delivers it.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from .budgets import FORECAST, Budget, BudgetStatus
from .calendar import window_bounds

#: A forecast needs this share of its window to have passed (a minute into a month says little).
FORECAST_AFTER = 0.05


@attrs.frozen
class Alert:
    """A budget's alert that fired in ``window``: spend and limit when it did."""

    budget: Budget
    window: str
    alert: str
    spent: Decimal
    fired_at: float

    def document(self) -> dict[str, object]:
        """The JSON a webhook receives."""
        return {
            "scope": self.budget.scope_text,
            "period": self.budget.period,
            "unit": self.budget.unit,
            "window": self.window,
            "alert": self.alert,
            "spent": str(self.spent),
            "limit": str(self.budget.limit),
            "fired_at": self.fired_at,
        }


def runs_out(status: BudgetStatus, now: float) -> float | None:
    """When the budget's window would reach its limit at the pace of its settled spend so far
    (a straight line); None if not before the window ends, or with no pace yet."""
    budget = status.budget
    if budget.period == "total" or status.spent <= 0:
        return None
    start, end, _ = window_bounds(budget.period, budget.tz, now)
    elapsed = now - start
    if elapsed <= 0:
        return None
    at = start + float(budget.limit) / (float(status.spent) / elapsed)  # a forecast, in float
    return at if at < end else None


def crossed(status: BudgetStatus, now: float) -> tuple[str, ...]:
    """The budget's alerts its window has crossed by ``now``."""
    budget = status.budget
    found = []
    for alert in budget.alerts:
        if alert == FORECAST:
            start, end, _ = window_bounds(budget.period, budget.tz, now)
            late_enough = end != float("inf") and now - start >= FORECAST_AFTER * (end - start)
            if late_enough and (status.spent >= budget.limit or runs_out(status, now) is not None):
                found.append(alert)
        elif status.spent * 100 >= budget.limit * int(alert):
            found.append(alert)
    return tuple(found)
