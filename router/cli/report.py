"""``costrouter report``: spend grouped, filtered and formatted."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from typing import Any

import attrs

from pricing import InputError

from ..calibrate import RECENT, learn
from ..ledger.base import LedgerRow
from ..ledger.spend import ReportQuery
from ..report import FORMATS
from ..report.insights import insights, previous_query
from .options import (
    add_ledger_option,
    add_tag_options,
    load_catalog,
    open_ledger,
    tags_from_args,
)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"dates are YYYY-MM-DD, got {text!r}") from None


def _tagged(rows: list[LedgerRow], query: ReportQuery) -> list[LedgerRow]:
    """The rows carrying the query's tags."""
    return [row for row in rows if all(row.tag_map.get(k) == v for k, v in query.tags)]


def cmd_report(args: argparse.Namespace) -> int:
    tags = tags_from_args(args)
    by = [g.strip() for g in args.by.split(",") if g.strip()] if args.by else []
    query = ReportQuery(
        by=by,
        since=_date(args.since) if args.since else None,
        until=_date(args.until) if args.until else None,
        tags=tags,
    )
    fmt = "json" if args.json else args.format
    now = time.time()
    ledger = open_ledger(args, read_only=True)
    try:
        report = ledger.report(query, now, series=fmt == "html")
        found = None
        if fmt != "csv":  # the CSV is the groups alone, for spreadsheets
            by_model = ledger.report(attrs.evolve(query, by=("model",)), now)
            before = previous_query(query, dt.datetime.fromtimestamp(now, dt.timezone.utc).date())
            previous = None if before is None else ledger.report(before, now)
            rows = ledger.rows(query.since_ts, query.until_ts, newest=RECENT)
            _, lessons = learn(_tagged(rows, query), load_catalog(args))
            found = insights(report, by_model, previous, lessons, now)
    finally:
        ledger.close()
    text = FORMATS[fmt](report, found)
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise InputError(f"cannot write {args.out!r}: {exc.strerror}") from None
        print(f"wrote {args.out} ({fmt}, {len(report.rows)} groups, {report.total.calls:,} calls)")
    else:
        sys.stdout.write(text)
    return 0


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    report = commands.add_parser("report", parents=[common], help="spend by day, model, user...")
    report.add_argument(
        "--by",
        metavar="KEYS",
        help="comma-separated: day, week, month, model, provider, user, project, tag:NAME",
    )
    report.add_argument("--since", metavar="DATE", help="first UTC day included (YYYY-MM-DD)")
    report.add_argument("--until", metavar="DATE", help="first UTC day excluded (YYYY-MM-DD)")
    add_tag_options(report, "only calls tagged so")
    report.add_argument("--format", choices=("table", "csv", "json", "html"), default="table")
    report.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    add_ledger_option(report)
    report.set_defaults(handler=cmd_report)
