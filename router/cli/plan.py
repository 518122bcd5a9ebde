"""``costrouter estimate`` and ``costrouter route``."""

from __future__ import annotations

import argparse
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pricing
from pricing import usd_display, usd_text

from ..errors import InputError
from ..report.table import render_table
from .common import (
    _print_json,
    cost_document,
    estimate_document,
    load_catalog,
    tokens_document,
)
from .request_options import estimator_from_args, request_from_args

if TYPE_CHECKING:
    from ..routing.policy import Decision, Policy, Rejection


def cmd_estimate(args: argparse.Namespace) -> int:
    catalog = load_catalog(args)
    model = catalog.get(args.model)
    request = request_from_args(args)
    estimate = estimator_from_args(args, catalog).estimate(request, model)
    if args.json:
        _print_json(estimate_document(estimate))
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
    return 0


def _comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def policy_from_args(args: argparse.Namespace) -> Policy:
    """The routing policy the options describe."""
    from ..routing.policy import Policy

    try:
        max_cost = None if args.max_cost is None else Decimal(args.max_cost)
    except ArithmeticError:
        raise InputError(
            f"--max-cost must be a decimal amount in USD, got {args.max_cost!r}"
        ) from None
    return Policy(
        require=[name for text in args.require for name in _comma_list(text)],
        providers=args.provider,
        models=args.model,
        exclude=args.exclude,
        snapshots=args.snapshots,
        max_cost=max_cost,
        ceiling=args.ceiling,
        objective=args.objective,
        min_quality=args.min_quality,
        fit_budget=getattr(args, "fit_budget", False),
    )


def cmd_route(args: argparse.Namespace) -> int:
    from ..ledger.budgets import call_tags, remaining_for
    from ..routing.policy import NoModelQualifiesError
    from ..routing.selector import Selector
    from .budget import open_ledger
    from .call import tags_from_args

    catalog = load_catalog(args)
    request = request_from_args(args)
    tags = tags_from_args(args)
    ledger = open_ledger(args)
    try:
        statuses = ledger.status(time.time())  # read once; each model's allowance derives from it
    finally:
        ledger.close()

    def allowance(spec: pricing.ModelSpec) -> Decimal | None:
        return remaining_for(statuses, call_tags(tags, spec.id))

    try:
        selector = Selector(catalog, estimator=estimator_from_args(args, catalog))
        decision = selector.route(request, policy_from_args(args), allowance)
    except NoModelQualifiesError as exc:
        rejected = [_rejection(r) for r in exc.rejected]
        if args.json:
            _print_json({"model": None, "cost": None, "candidates": [], "rejected": rejected})
        else:
            print(render_table(["rejected", "why"], [[r["model"], r["reason"]] for r in rejected]))
        raise
    if args.json:
        _print_json(route_document(decision))
    else:
        print(route_table(decision, catalog))
    return 0


def _rejection(rejection: Rejection) -> dict[str, str]:
    return {"model": rejection.model, "code": rejection.code, "reason": rejection.reason}


def route_document(decision: Decision) -> dict[str, Any]:
    """The JSON shape of ``costrouter route --json``."""
    chosen = decision.chosen
    return {
        "model": chosen.model,
        "cost": cost_document(chosen.estimate.cost),
        "input_tokens": tokens_document(chosen.estimate.input_tokens),
        "candidates": [
            {
                "model": c.model,
                "cost": {
                    "expected": usd_text(c.estimate.cost.expected),
                    "high": usd_text(c.estimate.cost.high),
                },
                "input_tokens": tokens_document(c.estimate.input_tokens),
            }
            for c in decision.candidates
        ],
        "rejected": [_rejection(r) for r in decision.rejected],
    }


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
    return (
        f"{render_table(headers, rows, right={0, 2, 3, 4})}\n\n"
        f"{len(decision.rejected)} rejected:\n{rejected}"
    )


def add_policy_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("routing policy")
    group.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="CAPS",
        help="comma-separated: vision, json, thinking, video, reasoning",
    )
    group.add_argument(
        "--provider",
        action="append",
        default=[],
        choices=pricing.PROVIDERS,
        help="allow only this provider (repeatable)",
    )
    group.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="MODEL",
        help="allow only this model (repeatable; pins a dated snapshot)",
    )
    group.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="MODEL",
        help="never this model (repeatable)",
    )
    group.add_argument("--snapshots", action="store_true", help="also route among dated snapshots")
    group.add_argument("--max-cost", metavar="USD", help="cost ceiling per call")
    group.add_argument(
        "--ceiling",
        choices=("expected", "worst"),
        default="worst",
        help="which cost --max-cost caps (default: worst)",
    )
    group.add_argument(
        "--objective",
        choices=("expected", "worst"),
        default="expected",
        help="rank by expected or worst-case cost (default: expected)",
    )
    group.add_argument("--min-quality", metavar="CLASS", help="quality floor, e.g. balanced")


def add_plan_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """``estimate`` and ``route``."""
    from .budget import add_ledger_option
    from .call import add_tag_options
    from .request_options import add_request_options

    estimate = commands.add_parser(
        "estimate", parents=[common], help="tokens and cost of a request before sending it"
    )
    estimate.add_argument("--model", required=True, help="the model to estimate for")
    add_request_options(estimate)
    estimate.set_defaults(handler=cmd_estimate)
    route = commands.add_parser(
        "route", parents=[common], help="rank the models that can do the job by cost"
    )
    add_request_options(route)
    add_policy_options(route)
    add_tag_options(route, "check the budgets of calls tagged so")
    add_ledger_option(route)
    route.set_defaults(handler=cmd_route)
