"""``costrouter models`` and ``costrouter price``: the catalog and its exact prices."""

from __future__ import annotations

import argparse
from typing import Any

import pricing
from pricing import InputError, Usage, usd_display, usd_text

from ..report.table import render_table
from .documents import model_document, per_million, print_json, tier_range
from .options import load_catalog, whole_number


def cmd_models(args: argparse.Namespace) -> int:
    catalog = load_catalog(args)
    models = [m for m in catalog if args.provider is None or m.provider == args.provider]
    if args.json:
        print_json([model_document(m) for m in models])
        return 0
    rows = []
    for m in models:
        prices = " / ".join(
            f"{per_million(t.input_rate)}|{per_million(t.output_rate)}" for t in m.tiers
        )
        tiers = (
            " / ".join(tier_range(m, i) for i in range(len(m.tiers))) if len(m.tiers) > 1 else ""
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
    except InputError:
        raise
    cost = pricing.price(model, usage)
    document = {
        "model": model.id,
        "tier": cost.tier,
        "tier_input_tokens": tier_range(model, cost.tier),
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
        print_json(document)
        return 0
    rows = [
        ["model", model.id],
        ["tier", f"{cost.tier} ({tier_range(model, cost.tier)} input tokens)"],
        ["input", f"{usage.input_tokens:,} tokens  ${usd_display(cost.input_cost)}"],
        ["output", f"{usage.output_tokens:,} tokens  ${usd_display(cost.output_cost)}"],
        ["total", f"${usd_display(cost.total)}  (exact: {usd_text(cost.total)})"],
    ]
    print(render_table(["", model.provider], rows))
    return 0


_non_negative = whole_number(0)


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
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
