"""A :class:`~router.Report` as one self-contained HTML page (no remote loads).

The page carries its chart as inline SVG drawn by matplotlib (the ``report`` extra); without
matplotlib the page has the tables and says how to get the chart.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from collections.abc import Callable

from ..ledger.spend import Report
from .formats import BUDGET_HEADERS, budget_rows, cells, headers

INSTALL_CHART = "pip install 'costrouter[report]'"


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
    total = ["TOTAL", *[""] * (len(by) - 1), *cells(report.total, ())] if by else None
    rows = [cells(r, by) for r in report.rows] if by else [cells(report.total, ())]
    budgets = (
        "<h2>Budgets</h2>" + _html_table(BUDGET_HEADERS, budget_rows(report), {3, 4, 5, 6})
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
{_html_table(headers(by), rows, numeric, total)}
{budgets}
</body></html>
"""
