"""A :class:`~router.Report` as a terminal table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

from pricing import usd_display, usd_text

from ..ledger.budgets import Budget, BudgetStatus
from ..ledger.calendar import window_label
from ..ledger.spend import Report, ReportRow
from .insights import Insights, insights
from .table import render_table


def _row_document(row: ReportRow, by: tuple[str, ...]) -> dict[str, Any]:
    accuracy = row.accuracy
    return {
        **dict(zip(by, row.key, strict=True)),
        "calls": row.calls,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cost": usd_text(row.cost),
        "errors": row.errors,
        "unmetered": row.unmetered,
        "accuracy": None if accuracy is None else str(accuracy),
        "over_high": row.over_high,
    }


def budget_document(status: BudgetStatus) -> dict[str, Any]:
    """The JSON shape of one budget in its current window (``budget list``, reports)."""
    return {
        "scope": status.budget.scope_text,
        "period": status.budget.period,
        "unit": status.budget.unit,
        "window": status.window,
        "limit": usd_text(status.budget.limit),
        "spent": usd_text(status.spent),
        "reserved": usd_text(status.reserved),
        "remaining": usd_text(status.remaining),
        "soft": status.budget.soft,
        "tz": status.budget.tz,
    }


def _ratio(value: float | Decimal | None, places: int = 4) -> str | None:
    return None if value is None else str(round(Decimal(str(value)), places))


def insights_document(found: Insights) -> dict[str, Any]:
    """The headline, the budgets' burn and the estimates' accuracy, as JSON values."""
    h = found.headline
    return {
        "headline": {
            "spend": usd_text(h.spend),
            "calls": h.calls,
            "per_call": None if h.per_call is None else usd_text(h.per_call),
            "dearest_model": h.dearest,
            "dearest_spend": usd_text(h.dearest_spend),
            "previous_spend": None if h.previous is None else usd_text(h.previous),
            "change": None if h.change is None else str(h.change),
        },
        "burn": [
            {
                "scope": b.status.budget.scope_text,
                "period": b.status.budget.period,
                "unit": b.status.budget.unit,
                "window": b.label,
                "over": b.over,
                "runs_out": b.runs_out_text,
            }
            for b in found.burns
        ],
        "accuracy": [
            {
                "model": a.model,
                "calls": a.calls,
                "actual_over_expected": None
                if a.actual_over_expected is None
                else str(a.actual_over_expected),
                "over_high": a.over_high,
                "input_error": _ratio(a.input_error),
                "calibrated_input_error": _ratio(a.calibrated_error),
            }
            for a in found.accuracy
        ],
    }


def to_json(report: Report, found: Insights | None = None) -> str:
    by = report.query.by
    document = {
        "rows": [_row_document(r, by) for r in report.rows],
        "total": _row_document(report.total, ()),
        "budgets": [budget_document(s) for s in report.budgets],
        **insights_document(found or insights(report)),
    }
    return json.dumps(document, indent=2) + "\n"


def to_csv(report: Report, found: Insights | None = None) -> str:
    """One line per group (no total line, so a spreadsheet's sums are right)."""
    buffer = io.StringIO()
    by = report.query.by
    fields = [
        *by,
        "calls",
        "input_tokens",
        "output_tokens",
        "cost",
        "errors",
        "unmetered",
        "accuracy",
        "over_high",
    ]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    rows = report.rows if by else (report.total,)
    for row in rows:
        writer.writerow(_row_document(row, by))
    return buffer.getvalue()


def cells(row: ReportRow, by: tuple[str, ...]) -> list[object]:
    accuracy = row.accuracy
    key = [v if v is not None else "-" for v in row.key] if by else []
    return [
        *key,
        f"{row.calls:,}",
        f"{row.input_tokens:,}",
        f"{row.output_tokens:,}",
        usd_display(row.cost),
        row.errors,
        row.unmetered,
        "-" if accuracy is None else str(accuracy),
        row.over_high,
    ]


def headers(by: tuple[str, ...]) -> list[str]:
    return [
        *by,
        "calls",
        "input",
        "output",
        "cost $",
        "errors",
        "unmetered",
        "actual/expected",
        "over high",
    ]


#: A budget's limit, spend, holds and what is left, in a table: USD as amounts, tokens and
#: requests as counts that say their unit.
AMOUNT_HEADERS = ["limit", "spent", "reserved", "remaining"]


def amount_cells(status: BudgetStatus) -> list[str]:
    amounts = (status.budget.limit, status.spent, status.reserved, status.remaining)
    return [amount_display(status.budget, amount) for amount in amounts]


def amount_display(budget: Budget, amount: Decimal) -> str:
    """``$0.25000000`` for USD (rounded for reading), ``1,200 tokens``, ``3 requests``."""
    return f"${usd_display(amount)}" if budget.unit == "usd" else budget.show(amount)


def budget_rows(report: Report) -> list[list[object]]:
    return [
        [
            s.budget.scope_text,
            s.budget.period,
            window_label(s.budget.period, s.window),
            *amount_cells(s),
        ]
        for s in report.budgets
    ]


BUDGET_HEADERS = ["budget", "period", "window", *AMOUNT_HEADERS]


def to_table(report: Report, found: Insights | None = None) -> str:
    found = found or insights(report)
    h = found.headline
    change = "" if h.change is None else f", {float(h.change) * 100:+.1f} % vs the previous period"
    lines = [
        f"spend ${usd_display(h.spend)} in {h.calls:,} calls"
        + ("" if h.per_call is None else f" (${usd_display(h.per_call)} per call)")
        + change
        + (
            ""
            if h.dearest is None
            else f"; dearest model {h.dearest} (${usd_display(h.dearest_spend)})"
        )
    ]
    for b in found.burns:
        s = b.status
        state = (
            "OVER THE LIMIT"
            if b.over
            else (
                f"runs out ~{b.runs_out_text} at this pace"
                if b.runs_out is not None
                else "lasts this window at this pace"
            )
        )
        unit = "" if s.budget.unit == "usd" else f", {s.budget.unit}"
        lines.append(f"budget {s.budget.scope_text} ({b.label}{unit}): {state}")
    by = report.query.by
    numbers = set(range(len(by), len(by) + 8))
    rows = [cells(r, by) for r in report.rows]
    rows.append(
        ["TOTAL", *[""] * (len(by) - 1), *cells(report.total, ())]
        if by
        else cells(report.total, ())
    )
    parts = ["\n".join(lines), render_table(headers(by), rows, right=numbers)]
    if report.budgets:
        parts.append(render_table(BUDGET_HEADERS, budget_rows(report), right={3, 4, 5, 6}))
    measured = [a for a in found.accuracy if a.calls]
    if measured:
        parts.append(
            render_table(
                ["model", "actual/expected", "above high", "input error", "calibrated"],
                [
                    [
                        a.model,
                        "-" if a.actual_over_expected is None else f"{a.actual_over_expected:.3f}",
                        a.over_high,
                        "-" if a.input_error is None else f"{a.input_error * 100:.1f} %",
                        "-" if a.calibrated_error is None else f"{a.calibrated_error * 100:.1f} %",
                    ]
                    for a in measured
                ],
                right={1, 2, 3, 4},
            )
        )
    return "\n\n".join(parts) + "\n"
