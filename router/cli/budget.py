"""``costrouter budget set | delete | list``: limits on spend, tokens or requests, and what they
leave."""

from __future__ import annotations

import argparse
import time
from typing import Any

from pricing import InputError

from ..ledger.budgets import UNITS, Budget
from ..ledger.calendar import PERIODS
from ..report.formats import AMOUNT_HEADERS, amount_cells, budget_document
from ..report.table import render_table
from .documents import print_json
from .options import add_ledger_option, open_ledger


def cmd_budget_set(args: argparse.Namespace) -> int:
    budget = Budget.parse(
        args.scope,
        args.limit,
        period=args.period,
        soft=args.soft,
        tz=args.tz,
        alerts=args.alert or (),
        webhook=args.webhook,
        unit=args.unit,
    )
    ledger = open_ledger(args)
    try:
        ledger.set_budget(budget)
    finally:
        ledger.close()
    kind = "soft" if budget.soft else "hard"
    alerts = f"; alerts at {', '.join(budget.alerts)}" if budget.alerts else ""
    print(
        f"budget {budget.scope_text}: {budget.show(budget.limit)} per {budget.period} "
        f"({kind}, {budget.tz}){alerts}"
    )
    return 0


def cmd_budget_delete(args: argparse.Namespace) -> int:
    scope = Budget.parse(args.scope, "1").scope_text  # the scope as budgets are keyed
    ledger = open_ledger(args)
    try:
        deleted = ledger.delete_budget(scope, args.period, args.unit)
    finally:
        ledger.close()
    given = ", ".join(v for v in (args.period, args.unit) if v)
    which = f"{scope} ({given})" if given else scope
    if not deleted:
        raise InputError(f"no budget {which}: `costrouter budget list` shows the budgets")
    print(f"deleted {deleted} budget(s) {which}; spend already counted stays in its windows")
    return 0


def cmd_budget_list(args: argparse.Namespace) -> int:
    now = time.time()
    ledger = open_ledger(args, read_only=True)
    try:
        statuses = ledger.status(now)
        fired = ledger.fired_alerts(now)
    finally:
        ledger.close()
    by_budget: dict[tuple[str, str], list[str]] = {}
    for alert in fired:
        by_budget.setdefault(alert.budget.key, []).append(alert.alert)
    documents: list[dict[str, Any]] = [
        {
            **budget_document(s),
            "alerts": list(s.budget.alerts),
            "fired": by_budget.get(s.budget.key, []),
        }
        for s in statuses
    ]
    if args.json:
        print_json(documents)
        return 0
    rows = [
        [
            d["scope"],
            d["period"],
            d["window"],
            *amount_cells(s),
            "soft" if s.budget.soft else "hard",
            ", ".join(d["fired"]) or ("none yet" if d["alerts"] else ""),
        ]
        for d, s in zip(documents, statuses, strict=True)
    ]
    headers = ["scope", "period", "window", *AMOUNT_HEADERS, "", "alerts fired"]
    print(
        render_table(headers, rows, right={3, 4, 5, 6})
        if rows
        else "no budgets: add one with `costrouter budget set`"
    )
    return 0


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    budget = commands.add_parser("budget", help="set and list spending limits")
    actions = budget.add_subparsers(dest="action", required=True, parser_class=type(budget))
    set_ = actions.add_parser("set", parents=[common], help="create or replace a budget")
    set_.add_argument("scope", help="global, or comma-joined tags: user=alice,project=atlas")
    set_.add_argument("--limit", required=True, metavar="AMOUNT", help="in --unit (USD by default)")
    set_.add_argument("--period", choices=PERIODS, default="month")
    set_.add_argument(
        "--unit",
        choices=UNITS,
        default="usd",
        help="what the limit counts: usd, tokens (input + output) or requests; a scope and "
        "period can have one budget of each",
    )
    set_.add_argument("--soft", action="store_true", help="warn instead of refusing")
    set_.add_argument("--tz", default="UTC", help="time zone of the calendar periods (IANA name)")
    set_.add_argument(
        "--alert",
        metavar="LIST",
        help="alert once per window at these percentages of the limit and/or 'forecast' "
        "(runs out before the window ends at its pace): e.g. 50,80,100,forecast",
    )
    set_.add_argument("--webhook", metavar="URL", help="POST each alert as JSON to this URL")
    add_ledger_option(set_)
    set_.set_defaults(handler=cmd_budget_set)
    delete = actions.add_parser("delete", parents=[common], help="remove a budget")
    delete.add_argument("scope", help="the budget's scope, as set")
    delete.add_argument(
        "--period", choices=PERIODS, help="only this period's budget (default: every period)"
    )
    delete.add_argument(
        "--unit", choices=UNITS, help="only this unit's budget (default: every unit)"
    )
    add_ledger_option(delete)
    delete.set_defaults(handler=cmd_budget_delete)
    list_ = actions.add_parser("list", parents=[common], help="limits, spend and what is left")
    add_ledger_option(list_)
    list_.set_defaults(handler=cmd_budget_list)
