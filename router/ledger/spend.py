"""What the ledger answers about spend: who spent what, on which model, how good the estimates were.

A :class:`ReportQuery` groups recorded calls by any of day, week, month, model, provider, user,
project or ``tag:NAME`` and filters them by time and tags; :meth:`Ledger.report` answers it with
a :class:`Report`. The SQL ledgers aggregate in the database (integer sums of nanodollars, so
totals are exact); the memory ledger aggregates the same way in Python. Values only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from pricing import InputError, money

from .budgets import TAG_NAME, BudgetStatus, from_units

#: What calls can be grouped by, besides ``tag:NAME`` (any tag's value).
GROUPS = ("day", "week", "month", "model", "provider", "user", "project")


def _groups(values: Iterable[str]) -> tuple[str, ...]:
    groups = tuple(values)
    for group in groups:
        if group in GROUPS:
            continue
        if not (group.startswith("tag:") and TAG_NAME.fullmatch(group[4:])):
            raise InputError(f"cannot group by {group!r}; use {', '.join(GROUPS)} or tag:NAME")
    if len(set(groups)) != len(groups):
        raise InputError(f"a group key is repeated in {','.join(groups)}")
    return groups


def _tags(values: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    pairs = tuple(sorted(values.items() if isinstance(values, Mapping) else values))
    for key, _ in pairs:
        if not TAG_NAME.fullmatch(key):
            raise InputError(f"tag names are letters, digits, _ . -; got {key!r}")
    return pairs


@attrs.frozen
class ReportQuery:
    """Which calls (``since`` inclusive, ``until`` exclusive, as UTC dates; tags all equal) and
    how to group them (none: one row of totals)."""

    by: tuple[str, ...] = attrs.field(default=(), converter=_groups)
    since: dt.date | None = None
    until: dt.date | None = None
    tags: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_tags)

    @property
    def since_ts(self) -> float | None:
        return None if self.since is None else _midnight(self.since)

    @property
    def until_ts(self) -> float | None:
        return None if self.until is None else _midnight(self.until)


def _midnight(day: dt.date) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp()


@attrs.frozen
class ReportRow:
    """One group's totals; ``key`` holds the group values in the query's ``by`` order."""

    key: tuple[str | None, ...]
    calls: int
    input_tokens: int
    output_tokens: int
    cost: Decimal
    errors: int
    unmetered: int
    metered_cost: Decimal
    metered_expected: Decimal
    over_high: int

    @property
    def accuracy(self) -> Decimal | None:
        """Actual cost over the expected estimate, on metered calls (1 is a perfect estimate)."""
        if not self.metered_expected:
            return None
        ratio = money.divide(self.metered_cost, self.metered_expected)
        return money.MONEY.quantize(ratio, Decimal("0.0001"))  # half-even


@attrs.frozen
class Report:
    query: ReportQuery
    rows: tuple[ReportRow, ...]
    total: ReportRow
    budgets: tuple[BudgetStatus, ...] = ()
    series: tuple[tuple[str, str, Decimal], ...] = ()  # (day, model, cost) for the chart


def report_row(key: tuple[str | None, ...], values: Iterable[Any]) -> ReportRow:
    """A group's row from its nine totals, in the order of ``ReportRow``'s fields (money in
    whole nanodollars, as the ledgers sum it)."""
    calls, tokens_in, tokens_out, cost, errors, unmetered, m_cost, m_expected, over = (
        int(v) for v in values
    )
    return ReportRow(
        key,
        calls,
        tokens_in,
        tokens_out,
        from_units(cost),
        errors,
        unmetered,
        from_units(m_cost),
        from_units(m_expected),
        over,
    )


def combine(rows: Iterable[ReportRow]) -> ReportRow:
    """The total of several groups (exact: sums of counts and Decimal amounts)."""
    rows = list(rows)
    return ReportRow(
        (),
        sum(r.calls for r in rows),
        sum(r.input_tokens for r in rows),
        sum(r.output_tokens for r in rows),
        money.total(r.cost for r in rows),
        sum(r.errors for r in rows),
        sum(r.unmetered for r in rows),
        money.total(r.metered_cost for r in rows),
        money.total(r.metered_expected for r in rows),
        sum(r.over_high for r in rows),
    )
