"""What a person asks of a spend report, answered from its figures: headline numbers, how fast
each budget burns and when it runs out at that pace, and how good the estimates were.

Pure computation on values the caller read (the report, the same query grouped by model, the
previous period of the same length, and the calibration lessons), so every format shows the
same figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import attrs

from ..calibrate import Lesson
from ..ledger.alerts import runs_out
from ..ledger.budgets import BudgetStatus
from ..ledger.calendar import window_bounds, window_label
from ..ledger.spend import Report, ReportQuery

_EIGHT_PLACES = Decimal("0.00000001")


@attrs.frozen
class Headline:
    """Spend, calls and cost per call in the report's range, the dearest model, and the change
    against the previous period of the same length (None when the range has no start)."""

    spend: Decimal
    calls: int
    per_call: Decimal | None
    dearest: str | None
    dearest_spend: Decimal
    previous: Decimal | None
    change: Decimal | None  # (spend - previous) / previous; None without a previous spend


@attrs.frozen
class Burn:
    """A budget in its window: its status, the window's label and bounds, and when it runs out
    at the window's pace so far (a straight line: stated as a forecast, not a promise)."""

    status: BudgetStatus
    label: str
    start: float
    end: float
    runs_out: float | None  # None: not within this window at this pace
    over: bool

    @property
    def runs_out_text(self) -> str | None:
        """When it runs out, to the day (``2026-12-02``), or for a minute or hour window to
        the minute (``2026-12-02 13:47 UTC``, as its windows are UTC clock windows)."""
        if self.runs_out is None:
            return None
        when = dt.datetime.fromtimestamp(self.runs_out, dt.timezone.utc)
        if self.status.budget.period in ("minute", "hour"):
            return when.strftime("%Y-%m-%d %H:%M UTC")
        return when.date().isoformat()


@attrs.frozen
class Accuracy:
    """One model's estimates: metered cost ÷ expected, calls above their high (none is right),
    and the mean input-token error before and after the calibration its calls would teach."""

    model: str
    calls: int
    actual_over_expected: Decimal | None
    over_high: int
    input_error: float | None
    calibrated_error: float | None


@attrs.frozen
class Insights:
    headline: Headline
    burns: tuple[Burn, ...]
    accuracy: tuple[Accuracy, ...]


def previous_query(query: ReportQuery, today: dt.date) -> ReportQuery | None:
    """The same query over the period of the same length just before it; None without a start."""
    if query.since is None:
        return None
    until = query.until or today + dt.timedelta(days=1)
    length = until - query.since
    return attrs.evolve(query, by=(), since=query.since - length, until=query.since)


def burn(status: BudgetStatus, now: float) -> Burn:
    """The budget's burn, forecast as its ``forecast`` alert forecasts it."""
    budget = status.budget
    start, end, _ = window_bounds(budget.period, budget.tz, now)
    over = status.spent > budget.limit
    when = None if over else runs_out(status, now)
    return Burn(status, window_label(budget.period, status.window), start, end, when, over)


def insights(
    report: Report,
    by_model: Report | None = None,
    previous: Report | None = None,
    lessons: Sequence[Lesson] = (),
    now: float | None = None,
) -> Insights:
    """The report's insights; ``by_model`` is the same query grouped by model (the report
    itself when it is so grouped), ``previous`` the period before (see :func:`previous_query`),
    ``lessons`` what calibration would learn from the calls, ``now`` the time budgets burn to."""
    if by_model is None:
        by_model = report if report.query.by == ("model",) else attrs.evolve(report, rows=())
    if now is None:
        now = dt.datetime.now(dt.timezone.utc).timestamp()
    total = report.total
    models = sorted(by_model.rows, key=lambda r: (-r.cost, str(r.key[0])))
    dearest = models[0] if models and models[0].cost > 0 else None
    before = None if previous is None else previous.total.cost
    change = None
    if before is not None and before > 0:
        change = ((total.cost - before) / before).quantize(Decimal("0.0001"))
    headline = Headline(
        total.cost,
        total.calls,
        (total.cost / total.calls).quantize(_EIGHT_PLACES) if total.calls else None,
        None if dearest is None else str(dearest.key[0]),
        Decimal(0) if dearest is None else dearest.cost,
        before,
        change,
    )
    taught = {lesson.model: lesson for lesson in lessons}
    accuracy = tuple(
        Accuracy(
            str(row.key[0]),
            row.calls,
            row.accuracy,
            row.over_high,
            None if (lesson := taught.get(str(row.key[0]))) is None else lesson.input_before,
            None if lesson is None else lesson.input_after,
        )
        for row in models
    )
    return Insights(headline, tuple(burn(s, now) for s in report.budgets), accuracy)
