"""A :class:`~router.Report` as one self-contained HTML page: nothing is loaded from elsewhere,
and it reads at 1280 px and on a phone-width screen.

Headline figures first, then every budget's burn (over-limit ones marked), spend over time as an
inline SVG drawn here (no plotting library: the page is the same wherever it is made), how good
the estimates were, and the table the query asked for. The chart stacks the top models and
"other" in colours that stay distinct (at most :data:`PALETTE`'s ten series).
"""

from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from collections.abc import Callable, Sequence
from decimal import Decimal

from pricing import usd_display

from ..ledger.spend import Report
from .formats import amount_cells, cells, headers
from .insights import Insights, insights

#: Ten colours told apart in print and by most colour-blind readers (Tableau 10); the last one,
#: grey, is kept for "other".
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
OTHER = "other"

STYLE = """
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; padding: 1.2rem; max-width: 1200px;
  color: #1d1d1f; }
h1 { font-size: 1.5rem; margin: 0 0 .2rem; } h2 { font-size: 1.15rem; margin: 1.8rem 0 .5rem; }
.note { color: #555; font-size: .9rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: .7rem; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: .6rem .8rem; }
.card b { display: block; font-size: 1.3rem; font-variant-numeric: tabular-nums;
  overflow-wrap: anywhere; }
.card span { color: #555; font-size: .85rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .3rem 0; min-width: 100%; }
th, td { padding: .3rem .6rem; border-bottom: 1px solid #e3e3e3; text-align: left;
  white-space: nowrap; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; border-top: 2px solid #999; }
tr.over td { background: #fde8e8; } tr.over td:first-child { border-left: 4px solid #c62828; }
.flag { color: #c62828; font-weight: 600; }
.meter { width: 8rem; height: .7rem; background: #eee; border-radius: 4px; overflow: hidden; }
.meter i { display: block; height: 100%; background: #4e79a7; }
.meter i.over { background: #c62828; }
.chart { overflow-x: auto; } .chart svg { width: 100%; min-width: 640px; height: auto;
  display: block; }
@media (max-width: 500px) { body { padding: .8rem; } .card b { font-size: 1.05rem; } }
.legend { display: flex; flex-wrap: wrap; gap: .3rem 1.1rem; margin: .4rem 0; padding: 0;
  list-style: none; font-size: .9rem; }
.legend i { display: inline-block; width: .9rem; height: .9rem; border-radius: 2px;
  margin-right: .35rem; vertical-align: -2px; }
"""


def series_colours(report: Report) -> tuple[list[str], dict[str, str]]:
    """The chart's series (models by spend, the tail folded into "other") and their colours."""
    spend: dict[str, Decimal] = defaultdict(Decimal)
    for _, model, cost in report.series:
        spend[model] += cost
    ranked = sorted(spend, key=lambda m: (-spend[m], m))
    if len(ranked) > len(PALETTE):
        ranked = [*ranked[: len(PALETTE) - 1], OTHER]
    colours = {model: PALETTE[i] for i, model in enumerate(ranked)}
    if OTHER in colours:
        colours[OTHER] = PALETTE[-1]
    return ranked, colours


def chart_svg(report: Report) -> str | None:
    """Spend per day stacked by series, as an inline SVG element; None without spend."""
    if not report.series:
        return None
    ranked, colours = series_colours(report)
    days = sorted({day for day, _, _ in report.series})
    per_day: dict[tuple[str, str], float] = defaultdict(float)
    for day, model, cost in report.series:
        per_day[day, model if model in colours else OTHER] += float(cost)  # drawing only
    tallest = max(sum(per_day[d, m] for m in ranked) for d in days) or 1.0
    width, height, left, bottom = 1000.0, 320.0, 70.0, 40.0
    plot_w, plot_h = width - left - 10, height - bottom - 10
    step = plot_w / len(days)
    bars = []
    for index, day in enumerate(days):
        y = height - bottom
        for model in ranked:
            value = per_day[day, model]
            if value <= 0:
                continue
            h = value / tallest * plot_h
            y -= h
            bars.append(
                f'<rect x="{left + index * step + step * 0.1:.1f}" y="{y:.1f}" '
                f'width="{step * 0.8:.1f}" height="{h:.1f}" fill="{colours[model]}">'
                f"<title>{html.escape(day)} {html.escape(model)}: ${value:.6f}</title></rect>"
            )
    ticks = []
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        y = height - bottom - fraction * plot_h
        ticks.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">${tallest * fraction:.4g}</text>'
        )
    every = max(1, len(days) // 8)
    labels = [
        f'<text x="{left + i * step + step / 2:.1f}" y="{height - bottom + 18}" '
        f'text-anchor="middle">{html.escape(day[5:])}</text>'
        for i, day in enumerate(days)
        if i % every == 0
    ]
    return (
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="spend per day by model" '
        f'font-size="13" font-family="system-ui, sans-serif">{"".join(ticks)}{"".join(bars)}'
        f"{''.join(labels)}</svg>"
    )


def _table(
    headers: list[str],
    rows: Sequence[Sequence[object]],
    numeric: set[int],
    *,
    total: list[object] | None = None,
    classes: list[str] | None = None,
) -> str:
    def line(items: Sequence[object], tag: str, css: str = "") -> str:
        cells_ = "".join(
            f"<{tag}{' class=n' if i in numeric else ''}>{c if isinstance(c, _Raw) else html.escape(str(c))}</{tag}>"
            for i, c in enumerate(items)
        )
        return f"<tr{css}>{cells_}</tr>"

    body = [
        line(r, "td", f' class="{classes[i]}"' if classes and classes[i] else "")
        for i, r in enumerate(rows)
    ]
    if total is not None:
        body.append(line(total, "td", ' class="total"'))
    head = line(list(headers), "th")
    return f'<div class="scroll"><table><thead>{head}</thead><tbody>{"".join(body)}</tbody></table></div>'


class _Raw(str):
    """Markup made here (a meter), put in a cell as it is."""


def _percent(value: float | Decimal | None) -> str:
    return "-" if value is None else f"{float(value) * 100:+.1f} %"


def _cards(found: Insights) -> str:
    h = found.headline
    change = "no previous period" if h.change is None else f"{_percent(h.change)} vs previous"
    items = [
        ("spend", f"${usd_display(h.spend)}", change),
        ("calls", f"{h.calls:,}", ""),
        ("per call", "-" if h.per_call is None else f"${usd_display(h.per_call)}", ""),
        (
            "dearest model",
            h.dearest or "-",
            f"${usd_display(h.dearest_spend)}" if h.dearest else "",
        ),
    ]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><span>{html.escape(name)}</span><b>{html.escape(value)}</b>'
            f"<span>{html.escape(note)}</span></div>"
            for name, value, note in items
        )
        + "</div>"
    )


def _burns(found: Insights) -> str:
    if not found.burns:
        return '<p class="note">No budgets.</p>'
    rows, classes = [], []
    for b in found.burns:
        s = b.status
        share = float(s.spent / s.budget.limit) if s.budget.limit else 1.0
        meter = _Raw(
            f'<div class="meter" title="{share * 100:.0f} % spent"><i class="{"over" if b.over else ""}" '
            f'style="width:{min(share, 1.0) * 100:.0f}%"></i></div>'
        )
        if b.over:
            forecast = "over the limit"
        elif b.runs_out is not None:
            forecast = f"~{b.runs_out_text} at this pace"
        else:
            forecast = "lasts this window"
        limit, spent, reserved, remaining = amount_cells(s)
        name = s.budget.scope_text + ("" if s.budget.unit == "usd" else f" ({s.budget.unit})")
        rows.append([name, spent, limit, meter, forecast, remaining, reserved, b.label])
        classes.append("over" if b.over else "")
    # What matters first, for a phone's width: spent against the limit and the forecast.
    heads = ["budget", "spent", "limit", "used", "runs out", "remaining", "reserved"]
    heads.append("window")
    return (
        _table(heads, rows, {1, 2, 5, 6}, classes=classes)
        + '<p class="note">"Runs out" is a straight-line forecast from the window\'s spend so far.</p>'
    )


def _accuracy(found: Insights) -> str:
    rows = [
        [
            a.model, f"{a.calls:,}",
            "-" if a.actual_over_expected is None else f"{a.actual_over_expected:.3f}",
            _Raw(f'<span class="flag">{a.over_high}</span>') if a.over_high else 0,
            "-" if a.input_error is None else f"{a.input_error * 100:.1f} %",
            "-" if a.calibrated_error is None else f"{a.calibrated_error * 100:.1f} %",
        ]
        for a in found.accuracy
    ]  # fmt: skip
    heads = ["model", "calls", "actual ÷ expected", "above high", "input error", "calibrated"]
    return _table(heads, rows, {1, 2, 3, 4, 5}) + (
        '<p class="note">"Above high": calls that cost more than their estimate\'s worst case '
        '(none is right). "Calibrated": the input error those calls would have had with what '
        "<code>costrouter calibrate</code> learns from them.</p>"
    )


def to_html(
    report: Report,
    found: Insights | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
) -> str:
    found = found or insights(report)
    by, query = report.query.by, report.query
    span = f"{query.since or 'the start'} to {query.until or 'now'}"
    filters = ", ".join(f"{k}={v}" for k, v in query.tags) or "none"
    svg = chart_svg(report)
    if svg is None:
        chart = '<p class="note">No spend in this range.</p>'
    else:
        ranked, colours = series_colours(report)
        legend = "".join(
            f'<li><i style="background:{colours[m]}"></i>{html.escape(m)}</li>' for m in ranked
        )
        chart = f'<div class="chart">{svg}</div><ul class="legend">{legend}</ul>'
    numeric = set(range(len(by), len(by) + 8))
    total = ["TOTAL", *[""] * (len(by) - 1), *cells(report.total, ())] if by else None
    rows = [cells(r, by) for r in report.rows] if by else [cells(report.total, ())]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>costrouter spend report</title><style>{STYLE}</style></head><body>
<h1>Spend report</h1>
<p class="note">Calls from {html.escape(span)}; filters: {html.escape(filters)}. Generated
{now():%Y-%m-%d %H:%M} UTC. Money is exact USD, shown to 8 places.</p>
{_cards(found)}
<h2>Budgets</h2>
{_burns(found)}
<h2>Spend over time</h2>
{chart}
<h2>Estimate accuracy</h2>
{_accuracy(found)}
<h2>Spend by {html.escape(", ".join(by) or "total")}</h2>
{_table(headers(by), rows, numeric, total=total)}
</body></html>
"""
