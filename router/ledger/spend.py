"""Spend reports: who spent what, on which model, and how good the estimates were.

A :class:`ReportQuery` groups recorded calls by any of day, week, month, model, provider, user,
project or ``tag:NAME`` and filters them by time and tags. The SQL ledgers aggregate in the
database (integer sums of nanodollars, so totals are exact); the memory ledger aggregates the
same way in Python.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from ..errors import InputError
from .base import LedgerRow
from .budgets import BudgetStatus, from_units, to_units

#: Group keys and the column each reads (``tag:NAME`` reads the tags JSON).
GROUP_COLUMNS = {
    "day": "day",
    "week": "week",
    "month": "month",
    "model": "served_model",
    "provider": "provider",
    "user": "user_tag",
    "project": "project_tag",
}
_TAG_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _groups(values: Iterable[str]) -> tuple[str, ...]:
    groups = tuple(values)
    for group in groups:
        if group in GROUP_COLUMNS:
            continue
        if not (group.startswith("tag:") and _TAG_NAME.match(group[4:])):
            raise InputError(
                f"cannot group by {group!r}; use {', '.join(GROUP_COLUMNS)} or tag:NAME"
            )
    if len(set(groups)) != len(groups):
        raise InputError(f"a group key is repeated in {','.join(groups)}")
    return groups


def _tags(values: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    pairs = tuple(sorted(values.items() if isinstance(values, Mapping) else values))
    for key, _ in pairs:
        if not _TAG_NAME.match(key):
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
        return (self.metered_cost / self.metered_expected).quantize(Decimal("0.0001"))


@attrs.frozen
class Report:
    query: ReportQuery
    rows: tuple[ReportRow, ...]
    total: ReportRow
    budgets: tuple[BudgetStatus, ...] = ()
    series: tuple[tuple[str, str, Decimal], ...] = ()  # (day, model, cost) for the chart


#: The aggregate columns, as SQL over the ``calls`` table (money in nanodollars).
AGGREGATES = (
    "COUNT(*), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), "
    "COALESCE(SUM(cost_nusd), 0), "
    "COALESCE(SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END), 0), "
    "COALESCE(SUM(CASE WHEN status = 'unmetered' THEN 1 ELSE 0 END), 0), "
    "COALESCE(SUM(CASE WHEN status = 'ok' THEN cost_nusd ELSE 0 END), 0), "
    "COALESCE(SUM(CASE WHEN status = 'ok' THEN est_expected_nusd ELSE 0 END), 0), "
    "COALESCE(SUM(CASE WHEN cost_nusd > est_high_nusd THEN 1 ELSE 0 END), 0)"
)


def report_row(key: tuple[str | None, ...], values: Iterable[Any]) -> ReportRow:
    """A row from the nine aggregate values, in AGGREGATES order."""
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
        sum((r.cost for r in rows), Decimal(0)),
        sum(r.errors for r in rows),
        sum(r.unmetered for r in rows),
        sum((r.metered_cost for r in rows), Decimal(0)),
        sum((r.metered_expected for r in rows), Decimal(0)),
        sum(r.over_high for r in rows),
    )


def aggregate_rows(
    rows: Iterable[LedgerRow], query: ReportQuery
) -> tuple[list[ReportRow], ReportRow]:
    """The report computed in Python over rows (the memory ledger; the tests' oracle)."""
    from .schema import calendar_keys

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
            row.status == "unmetered",
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
