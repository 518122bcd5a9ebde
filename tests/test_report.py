"""Reports from the ledger: exact totals for every grouping on every backend, and formats."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router import Budget, InputError, Ledger, MemoryLedger, Report, ReportQuery
from router.ledger.memory import aggregate_rows
from router.ledger.sql import SQLLedger
from router.report import FORMATS
from router.report.html import to_html

from .conftest import RunCli
from .synthetic import START, rows

ROWS = list(rows(400))
GROUPINGS = [
    (),
    ("day",),
    ("week",),
    ("month",),
    ("model",),
    ("provider",),
    ("user",),
    ("project",),
    ("tag:team",),
    ("user", "project"),
    ("day", "model", "user"),
]
NOW = START + 90 * 86400


@pytest.fixture
def filled(ledger: Ledger) -> Ledger:
    if isinstance(ledger, SQLLedger):
        ledger.insert_rows(ROWS)
    else:
        for row in ROWS:
            ledger.settle(row, row.ts)
    return ledger


@pytest.mark.parametrize("by", GROUPINGS, ids=[",".join(g) or "none" for g in GROUPINGS])
def test_totals_equal_the_rows_for_every_grouping(filled: Ledger, by: tuple[str, ...]) -> None:
    """Group sums and the total equal the ledger rows' sums exactly, whatever the grouping,
    and every group equals the Python oracle's."""
    report = filled.report(ReportQuery(by=by), NOW)
    exact = sum((r.cost for r in ROWS), Decimal(0))
    assert report.total.cost == exact
    assert report.total.calls == len(ROWS)
    assert report.total.input_tokens == sum(r.input_tokens for r in ROWS)
    if by:
        assert sum((g.cost for g in report.rows), Decimal(0)) == exact
        assert sum(g.calls for g in report.rows) == len(ROWS)
    expected_rows, expected_total = aggregate_rows(ROWS, ReportQuery(by=by))
    assert list(report.rows) == expected_rows
    assert report.total == expected_total


def test_filters_by_time_and_tags(filled: Ledger) -> None:
    """since (inclusive) / until (exclusive) UTC days and tag filters select the right rows."""
    since, until = dt.date(2026, 1, 10), dt.date(2026, 1, 20)
    query = ReportQuery(
        by=("user",), since=since, until=until, tags={"project": "atlas", "team": "vision"}
    )
    report = filled.report(query, NOW)
    low = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc).timestamp()
    high = dt.datetime(2026, 1, 20, tzinfo=dt.timezone.utc).timestamp()
    chosen = [
        r
        for r in ROWS
        if low <= r.ts < high
        and r.tag_map.get("project") == "atlas"
        and r.tag_map.get("team") == "vision"
    ]
    assert report.total.calls == len(chosen) > 0
    assert report.total.cost == sum((r.cost for r in chosen), Decimal(0))


def test_estimate_accuracy_and_status_counts(filled: Ledger) -> None:
    """Errors and unmetered calls are counted; accuracy is metered cost over expected estimate;
    no call here cost more than its estimate's high."""
    total = filled.report(ReportQuery(), NOW).total
    ok = [r for r in ROWS if r.status == "ok"]
    assert total.errors == sum(r.status == "error" for r in ROWS)
    assert total.unmetered == sum(r.status == "unmetered" for r in ROWS)
    ratio = sum((r.cost for r in ok), Decimal(0)) / sum(
        (r.estimate_expected for r in ok), Decimal(0)
    )
    assert total.accuracy == ratio.quantize(Decimal("0.0001"))
    assert total.over_high == 0


def test_report_shows_budgets(ledger: Ledger) -> None:
    """The report carries each budget's limit, spent, reserved and remaining."""
    ledger.set_budget(Budget.parse("user=alice", "3"))
    ledger.reserve("x", Decimal("0.5"), {"user": "alice"}, NOW)
    (status,) = ledger.report(ReportQuery(), NOW).budgets
    assert (status.budget.limit, status.reserved, status.remaining) == (
        3,
        Decimal("0.5"),
        Decimal("2.5"),
    )


def test_bad_groupings_are_refused() -> None:
    """Unknown group keys, repeated keys and odd tag names are input errors."""
    for by in (("colour",), ("day", "day"), ("tag:bad name",)):
        with pytest.raises(InputError):
            ReportQuery(by=by)


@pytest.fixture
def memory_report() -> Report:
    from router import MemoryLedger

    ledger = MemoryLedger()
    for row in ROWS:
        ledger.settle(row, row.ts)
    ledger.set_budget(Budget.parse("global", "100"))
    return ledger.report(ReportQuery(by=("model",)), NOW, series=True)


def test_formats(memory_report: Report) -> None:
    """JSON money is strings; CSV has one line per group summing to the total; the table ends
    with TOTAL; HTML is one page with an inline SVG chart and the tables."""
    report = memory_report
    doc = json.loads(FORMATS["json"](report, None))
    assert isinstance(doc["total"]["cost"], str)
    assert Decimal(doc["total"]["cost"]) == sum((r.cost for r in ROWS), Decimal(0))
    assert {"model", "calls", "input_tokens", "output_tokens", "cost"} <= set(doc["rows"][0])
    lines = list(csv.DictReader(io.StringIO(FORMATS["csv"](report, None))))
    assert sum(Decimal(line["cost"]) for line in lines) == Decimal(doc["total"]["cost"])
    assert "TOTAL" in FORMATS["table"](report, None)
    page = FORMATS["html"](report, None)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 1
    assert "Spend over time" in page
    assert "<table>" in page
    assert "http" not in page.split("<svg", 1)[0]  # nothing fetched from elsewhere


def test_html_needs_no_plotting_library(
    memory_report: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chart is drawn by the page itself: with matplotlib hidden it is still there."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    page = to_html(memory_report)
    assert page.count("<svg") == 1
    assert "<rect" in page
    assert "<table>" in page


def test_cli_report(run_cli: RunCli, tmp_path: Path) -> None:
    """`costrouter report` groups, filters and writes each format; bad input exits 2."""
    from router import ledger_from_url

    url = f"sqlite:///{tmp_path}/report.db"
    ledger = ledger_from_url(url)
    assert isinstance(ledger, SQLLedger)
    ledger.insert_rows(ROWS)
    ledger.close()
    doc = run_cli("report", "--by", "day,model", "--ledger", url, "--json").json()
    assert Decimal(doc["total"]["cost"]) == sum((r.cost for r in ROWS), Decimal(0))
    assert set(doc["rows"][0]) >= {"day", "model", "calls", "cost"}
    alice = run_cli(
        "report", "--user", "alice", "--since", "2026-01-05", "--format", "csv", "--ledger", url
    )
    assert alice.code == 0
    assert alice.out.splitlines()[0].startswith("calls,")
    out = f"{tmp_path}/report.html"
    written = run_cli("report", "--by", "model", "--format", "html", "--out", out, "--ledger", url)
    assert written.code == 0
    with open(out, encoding="utf-8") as handle:
        assert "<svg" in handle.read()
    assert run_cli("report", "--by", "colour", "--ledger", url).code == 2
    assert run_cli("report", "--since", "yesterday", "--ledger", url).code == 2


def _big_report(now: float) -> tuple[Report, Any]:
    """20 models over 90 days up to ``now`` and 4 budgets, one over its limit, with insights."""
    import attrs

    from pricing import Catalog
    from router.report.insights import insights

    from .synthetic import rows

    models = tuple(m.id for m in Catalog.bundled() if m.snapshot_of is None)[:20]
    ledger = MemoryLedger()
    for scope, limit, period in (
        ("user=alice", "0.01", "month"), ("global", "500", "month"),
        ("project=atlas", "200", "week"), ("team=vision", "300", "total"),
    ):  # fmt: skip
        ledger.set_budget(Budget.parse(scope, limit, period=period))
    for row in rows(3000, days=90, models=models, start=now - 90 * 86400):
        ledger.settle(row, row.ts)  # budgets first: a settled call counts in their windows
    report = ledger.report(ReportQuery(by=("day", "model")), now, series=True)
    by_model = ledger.report(attrs.evolve(report.query, by=("model",)), now)
    return report, insights(report, by_model, None, (), now)


def test_a_big_html_report_is_self_contained_with_distinct_colours() -> None:
    """20 models over 90 days: the page loads nothing from elsewhere, its chart stacks the top
    nine models and "other" in ten distinct colours named in its legend, and the budget over
    its limit is marked, with the month labelled as a month."""
    import re

    from router.report.html import PALETTE

    report, found = _big_report(NOW - 5.5 * 86400)  # late in a month: its window has spend
    page = to_html(report, found)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page
    assert "<script" not in page
    assert "<link" not in page
    fills = re.findall(r'<rect [^>]*fill="(#[0-9a-f]{6})"', page)
    legend = re.findall(r'<li><i style="background:(#[0-9a-f]{6})"></i>([^<]+)</li>', page)
    assert len(legend) == 10
    assert legend[-1][1] == "other"
    assert len({colour for colour, _ in legend}) == 10
    assert set(fills) == {colour for colour, _ in legend} == set(PALETTE)
    assert page.count('<tr class="over">') == 1
    assert "user=alice" in page.split('<tr class="over">', 1)[1].split("</tr>", 1)[0]
    assert ">2026-" in page  # labels
    doc = json.loads(FORMATS["json"](report, found))
    [over] = [b for b in doc["burn"] if b["over"]]
    assert over["scope"] == "user=alice"
    assert len(over["window"]) == 7  # 2026-01, not 2026-01-01
    assert doc["headline"]["calls"] == report.total.calls
    assert doc["headline"]["dearest_model"] == found.headline.dearest
    table = FORMATS["table"](report, found)
    assert "OVER THE LIMIT" in table
