"""``costrouter estimate`` and ``costrouter route``: the cost before sending, and the ranking."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import attrs

import pricing
from pricing import usd_display

from ..estimate.estimator import Estimate, Estimator
from ..estimate.text import CHAT_OVERHEAD
from ..ledger.base import Ledger, LedgerError
from ..ledger.budgets import UNITS, call_tags, remaining_for
from ..report.table import render_table
from ..routing.policy import Decision, NoModelQualifiesError, Room
from ..routing.selector import Selector
from .documents import estimate_document, print_json, rejection_document, route_document
from .options import (
    add_ledger_option,
    add_policy_options,
    add_request_options,
    add_tag_options,
    estimator_from_args,
    load_catalog,
    open_ledger,
    policy_from_args,
    request_from_args,
    tags_from_args,
)


def _calibrated(args: argparse.Namespace, catalog: pricing.Catalog, ledger: Ledger) -> Estimator:
    """The options' estimator with the ledger's calibration in force, if any (lowering worst
    cases too with ``--trust-calibration``)."""
    calibration = ledger.calibration()
    if calibration is not None and args.trust_calibration:
        calibration = attrs.evolve(calibration, trust_high=True)
    return attrs.evolve(estimator_from_args(args, catalog), calibration=calibration)


def cmd_estimate(args: argparse.Namespace) -> int:
    catalog = load_catalog(args)
    model = catalog.get(args.model)
    request = request_from_args(args)
    note = None
    try:
        ledger = open_ledger(args, read_only=True)
    except LedgerError as exc:  # an estimate needs no ledger: go on with the catalog's figures
        note = f"costrouter: calibration not read ({exc})"
        estimator = estimator_from_args(args, catalog)
    else:
        try:
            estimator = _calibrated(args, catalog, ledger)
        finally:
            ledger.close()
    estimate = estimator.estimate(request, model, tags_from_args(args))
    if note is not None:  # said once the estimate stands (an error is the only line otherwise)
        print(note, file=sys.stderr)
    if args.json:
        print_json(estimate_document(estimate))
        return 0
    rows = [
        [
            f"message {p.message} part {p.part}",
            p.kind + (f" {p.width}x{p.height}" if p.width else ""),
            p.tokens.low,
            p.tokens.expected,
            p.tokens.high,
        ]
        for p in estimate.parts
    ]
    rows.append(["chat template", "", estimate.overhead, estimate.overhead, estimate.overhead])
    for name, tokens in (("input", estimate.input_tokens), ("output", estimate.output_tokens)):
        rows.append([f"{name} tokens", "", tokens.low, tokens.expected, tokens.high])
    cost = estimate.cost
    rows.append(
        ["cost $", "", usd_display(cost.low), usd_display(cost.expected), usd_display(cost.high)]
    )
    print(f"{model.id}")
    print(render_table(["", "", "low", "expected", "high"], rows, right={2, 3, 4}))
    print("\n".join(estimate_notes(estimate, model)))
    return 0


def estimate_notes(estimate: Estimate, model: pricing.ModelSpec) -> list[str]:
    """What the table's figures rest on: how text was counted, the template's source, and
    whether the high bound may pass what the model takes."""
    family = model.tokenizer
    if estimate.text_counted_by is not None:
        text = f"text: counted exactly ({family}, {estimate.text_counted_by})"
    elif any(p.kind == "text" for p in estimate.parts):
        text = f"text: estimated from its characters ({family}): a range"
    else:
        text = "text: none"
    notes = [text, f"chat template: {CHAT_OVERHEAD[family].source}"]
    if estimate.high_may_not_fit:
        notes.append(
            f"the high bound ({estimate.input_tokens.high:,} input tokens) may pass the "
            f"{estimate.input_limit:,} {model.id} takes: the worst case is priced at "
            f"{estimate.input_limit:,}"
        )
    return notes


def cmd_route(args: argparse.Namespace) -> int:
    catalog = load_catalog(args)
    request = request_from_args(args)
    tags = tags_from_args(args)
    ledger = open_ledger(args, read_only=True)
    try:
        statuses = ledger.status(time.time())  # read once; each model's allowance derives from it
        estimator = _calibrated(args, catalog, ledger)
    finally:
        ledger.close()

    def allowance(spec: pricing.ModelSpec) -> Room:
        tagged = call_tags(tags, spec.id, spec.snapshot_of)
        return Room(**{unit: remaining_for(statuses, tagged, unit) for unit in UNITS})

    try:
        selector = Selector(catalog, estimator=estimator)
        decision = selector.route(request, policy_from_args(args), allowance, tags)
    except NoModelQualifiesError as exc:
        rejected = [rejection_document(r) for r in exc.rejected]
        if args.json:
            print_json({"model": None, "cost": None, "candidates": [], "rejected": rejected})
        else:
            print(render_table(["rejected", "why"], [[r["model"], r["reason"]] for r in rejected]))
        raise
    if args.json:
        print_json(route_document(decision))
    else:
        print(route_table(decision, catalog))
    return 0


def route_table(decision: Decision, catalog: pricing.Catalog) -> str:
    """The ranked candidates, then every rejection with its reason."""
    rows = [
        [
            rank,
            c.model,
            usd_display(c.estimate.cost.expected),
            usd_display(c.estimate.cost.high),
            f"{c.estimate.input_tokens.expected:,}",
            catalog.get(c.model).quality,
        ]
        for rank, c in enumerate(decision.candidates, start=1)
    ]
    headers = ["#", "model", "expected $", "worst $", "input tokens", "quality"]
    rejected = render_table(["model", "why"], [[r.model, r.reason] for r in decision.rejected])
    risks = [f"  {c.model}: {risk}" for c in decision.candidates for risk in c.risks]
    risky = "\n\nrisks:\n" + "\n".join(risks) if risks else ""
    return (
        f"{render_table(headers, rows, right={0, 2, 3, 4})}{risky}\n\n"
        f"{len(decision.rejected)} rejected:\n{rejected}"
    )


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    estimate = commands.add_parser(
        "estimate", parents=[common], help="tokens and cost of a request before sending it"
    )
    estimate.add_argument("--model", required=True, help="the model to estimate for")
    add_request_options(estimate)
    add_tag_options(estimate, "use the output learned for calls tagged so")
    add_ledger_option(estimate)
    estimate.set_defaults(handler=cmd_estimate)
    route = commands.add_parser(
        "route", parents=[common], help="rank the models that can do the job by cost"
    )
    add_request_options(route)
    add_policy_options(route)
    add_tag_options(route, "check the budgets of calls tagged so")
    add_ledger_option(route)
    route.set_defaults(handler=cmd_route)
