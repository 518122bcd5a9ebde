"""The ``costrouter`` command line (contract: shared/spec/CLI.md).

Every command prints a table by default and one JSON document with ``--json``. A user error is
one line on stderr and an exit status from the error's class: 2 bad input, 3 budget, 4 no model
qualifies, 5 gateway, 1 anything else. Flags override the environment.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pricing
from pricing import ModelSpec, Usage, usd_display, usd_text

from .._version import __version__
from ..errors import InputError, RouterError
from ..report.table import render_table
from .budget import add_budget_commands
from .call import add_call_command
from .common import _Parser, _per_million, _print_json, _tier_range, load_catalog
from .plan import add_plan_commands
from .report import add_report_command


def model_document(model: ModelSpec) -> dict[str, Any]:
    """The JSON shape of one model in ``costrouter models --json`` (prices per 1M tokens)."""
    first = model.tiers[0]
    return {
        "model": model.id,
        "provider": model.provider,
        "context_window": model.context_window,
        "max_output_tokens": model.max_output_tokens,
        "input_price": _per_million(first.input_rate),
        "output_price": _per_million(first.output_rate),
        "tiers": [
            {
                "up_to": tier.up_to,
                "input_price": _per_million(tier.input_rate),
                "output_price": _per_million(tier.output_rate),
            }
            for tier in model.tiers
        ],
        "capabilities": sorted(model.capabilities),
        "quality": model.quality,
        "snapshot_of": model.snapshot_of,
        "tokenizer": model.tokenizer,
        "price_source": model.price_source,
        "as_of": model.as_of,
    }


def cmd_models(args: argparse.Namespace) -> int:
    catalog = load_catalog(args)
    models = [m for m in catalog if args.provider is None or m.provider == args.provider]
    if args.json:
        _print_json([model_document(m) for m in models])
        return 0
    rows = []
    for m in models:
        prices = " / ".join(
            f"{_per_million(t.input_rate)}|{_per_million(t.output_rate)}" for t in m.tiers
        )
        tiers = (
            " / ".join(_tier_range(m, i) for i in range(len(m.tiers))) if len(m.tiers) > 1 else ""
        )
        rows.append(
            [
                m.id,
                f"{m.context_window:,}",
                prices,
                tiers,
                m.quality,
                ",".join(sorted(m.capabilities)),
            ]
        )
    headers = ["model", "context", "$/1M in|out", "tiers (input tokens)", "quality", "capabilities"]
    print(render_table(headers, rows, right={1}))
    return 0


def cmd_price(args: argparse.Namespace) -> int:
    catalog = load_catalog(args)
    model = catalog.get(args.model)
    try:
        usage = Usage(
            args.input_tokens, args.output_tokens, args.cached_tokens, args.reasoning_tokens
        )
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    cost = pricing.price(model, usage)
    document = {
        "model": model.id,
        "tier": cost.tier,
        "tier_input_tokens": _tier_range(model, cost.tier),
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "input_cost": usd_text(cost.input_cost),
        "output_cost": usd_text(cost.output_cost),
        "total_cost": usd_text(cost.total),
        "currency": catalog.currency,
    }
    if args.json:
        _print_json(document)
        return 0
    rows = [
        ["model", model.id],
        ["tier", f"{cost.tier} ({_tier_range(model, cost.tier)} input tokens)"],
        ["input", f"{usage.input_tokens:,} tokens  ${usd_display(cost.input_cost)}"],
        ["output", f"{usage.output_tokens:,} tokens  ${usd_display(cost.output_cost)}"],
        ["total", f"${usd_display(cost.total)}  (exact: {usd_text(cost.total)})"],
    ]
    print(render_table(["", model.provider], rows))
    return 0


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--catalog",
        action="append",
        metavar="FILE",
        help="YAML overlay on the bundled catalog (repeatable; default: $COSTROUTER_CATALOG)",
    )
    common.add_argument("--json", action="store_true", help="print one JSON document")
    parser = _Parser(prog="costrouter", description="Cost-aware routing and billing for VLM calls.")
    parser.add_argument("--version", action="version", version=f"costrouter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    models = commands.add_parser("models", parents=[common], help="list the catalog's models")
    models.add_argument("--provider", choices=pricing.PROVIDERS)
    models.set_defaults(handler=cmd_models)

    price = commands.add_parser("price", parents=[common], help="price a usage on one model")
    price.add_argument("model", help="prefixed id, served snapshot name or unambiguous bare name")
    price.add_argument("--input-tokens", type=_non_negative, required=True, metavar="N")
    price.add_argument("--output-tokens", type=_non_negative, required=True, metavar="M")
    price.add_argument("--cached-tokens", type=_non_negative, default=0, metavar="C")
    price.add_argument("--reasoning-tokens", type=_non_negative, default=0, metavar="R")
    price.set_defaults(handler=cmd_price)

    add_plan_commands(commands, common)
    add_call_command(commands, common)
    add_budget_commands(commands, common)
    add_report_command(commands, common)
    return parser


def exit_code_for(exc: BaseException) -> int:
    """The documented exit status for an error (click's ``exit_code`` habit)."""
    if isinstance(exc, RouterError):
        return exc.exit_code
    if isinstance(exc, pricing.PricingError):
        return 2
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except (RouterError, pricing.PricingError) as exc:
        print(f"costrouter: error: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    except BrokenPipeError:
        return 1
