"""A :class:`~router.Report` as a terminal table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from pricing import usd_display, usd_text

from ..ledger.budgets import BudgetStatus
from ..ledger.spend import Report, ReportRow
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
        "window": status.window,
        "limit": usd_text(status.budget.limit),
        "spent": usd_text(status.spent),
        "reserved": usd_text(status.reserved),
        "remaining": usd_text(status.remaining),
        "soft": status.budget.soft,
        "tz": status.budget.tz,
    }


def to_json(report: Report) -> str:
    by = report.query.by
    document = {
        "rows": [_row_document(r, by) for r in report.rows],
        "total": _row_document(report.total, ()),
        "budgets": [budget_document(s) for s in report.budgets],
    }
    return json.dumps(document, indent=2) + "\n"


def to_csv(report: Report) -> str:
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


def budget_rows(report: Report) -> list[list[object]]:
    return [
        [
            s.budget.scope_text,
            s.budget.period,
            s.window,
            usd_display(s.budget.limit),
            usd_display(s.spent),
            usd_display(s.reserved),
            usd_display(s.remaining),
        ]
        for s in report.budgets
    ]


BUDGET_HEADERS = ["budget", "period", "window", "limit $", "spent $", "reserved $", "remaining $"]


def to_table(report: Report) -> str:
    by = report.query.by
    numbers = set(range(len(by), len(by) + 8))
    rows = [cells(r, by) for r in report.rows]
    rows.append(
        ["TOTAL", *[""] * (len(by) - 1), *cells(report.total, ())]
        if by
        else cells(report.total, ())
    )
    parts = [render_table(headers(by), rows, right=numbers)]
    if report.budgets:
        parts.append(render_table(BUDGET_HEADERS, budget_rows(report), right={3, 4, 5, 6}))
    return "\n\n".join(parts) + "\n"
