"""A :class:`Report` as a terminal table, CSV, JSON or one self-contained HTML page.

The HTML page carries its chart as inline SVG drawn by matplotlib (the ``report`` extra); without
matplotlib the page has the tables and says how to get the chart.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
from collections.abc import Callable
from typing import Any

from pricing import usd_display, usd_text

from ..ledger.budgets import BudgetStatus
from ..ledger.spend import Report, ReportRow
from .table import render_table

INSTALL_CHART = "pip install 'costrouter[report]'"


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


def _cells(row: ReportRow, by: tuple[str, ...]) -> list[object]:
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


def _headers(by: tuple[str, ...]) -> list[str]:
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


def _budget_rows(report: Report) -> list[list[object]]:
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
    rows = [_cells(r, by) for r in report.rows]
    rows.append(
        ["TOTAL", *[""] * (len(by) - 1), *_cells(report.total, ())]
        if by
        else _cells(report.total, ())
    )
    parts = [render_table(_headers(by), rows, right=numbers)]
    if report.budgets:
        parts.append(render_table(BUDGET_HEADERS, _budget_rows(report), right={3, 4, 5, 6}))
    return "\n\n".join(parts) + "\n"


def chart_svg(report: Report) -> str | None:
    """Spend per day stacked by model, as an SVG element; None without matplotlib or data."""
    if not report.series:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    days = sorted({day for day, _, _ in report.series})
    models = sorted({model for _, model, _ in report.series})
    cost = {(day, model): float(value) for day, model, value in report.series}  # drawing only
    figure, axes = plt.subplots(figsize=(10, 4.2), dpi=100)
    bottom = [0.0] * len(days)
    positions = range(len(days))
    for model in models:
        heights = [cost.get((day, model), 0.0) for day in days]
        axes.bar(positions, heights, bottom=bottom, label=model, width=0.8)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    step = max(1, len(days) // 12)
    axes.set_xticks(list(positions)[::step], days[::step], rotation=30, ha="right", fontsize=8)
    axes.set_ylabel("USD per day")
    axes.set_title("Spend over time, by model")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #ddd; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; border-top: 2px solid #999; }
.note { color: #666; } .chart svg { max-width: 100%; height: auto; }
"""


def _html_table(
    headers: list[str],
    rows: list[list[object]],
    numeric: set[int],
    total: list[object] | None = None,
) -> str:
    def line(cells: list[object], tag: str, css: str = "") -> str:
        items = "".join(
            f"<{tag}{' class=n' if i in numeric else ''}>{html.escape(str(c))}</{tag}>"
            for i, c in enumerate(cells)
        )
        return f"<tr{css}>{items}</tr>"

    body = [line(r, "td") for r in rows]
    if total is not None:
        body.append(line(total, "td", ' class="total"'))
    return (
        f"<table><thead>{line(list(headers), 'th')}</thead><tbody>{''.join(body)}</tbody></table>"
    )


def to_html(
    report: Report, now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)
) -> str:
    by = report.query.by
    query = report.query
    span = f"{query.since or 'the start'} to {query.until or 'now'}"
    filters = ", ".join(f"{k}={v}" for k, v in query.tags) or "none"
    svg = chart_svg(report)
    chart = (
        f'<div class="chart">{svg}</div>'
        if svg is not None
        else f'<p class="note">No chart: {"no spend in this range" if not report.series else "install matplotlib with <code>" + html.escape(INSTALL_CHART) + "</code>"}.</p>'
    )
    numeric = set(range(len(by), len(by) + 8))
    total = ["TOTAL", *[""] * (len(by) - 1), *_cells(report.total, ())] if by else None
    rows = [_cells(r, by) for r in report.rows] if by else [_cells(report.total, ())]
    budgets = (
        "<h2>Budgets</h2>" + _html_table(BUDGET_HEADERS, _budget_rows(report), {3, 4, 5, 6})
        if report.budgets
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>costrouter spend report</title>
<style>{STYLE}</style></head><body>
<h1>Spend report</h1>
<p class="note">Calls from {html.escape(span)}; filters: {html.escape(filters)}; grouped by
{html.escape(", ".join(by) or "nothing")}. Generated {now():%Y-%m-%d %H:%M} UTC. Money is exact USD,
shown rounded to 8 places; "actual/expected" compares metered cost with the estimate made before the call.</p>
{chart}
<h2>Spend</h2>
{_html_table(_headers(by), rows, numeric, total)}
{budgets}
</body></html>
"""


FORMATS: dict[str, Callable[[Report], str]] = {
    "table": to_table,
    "csv": to_csv,
    "json": to_json,
    "html": to_html,
}
