"""Helpers every command shares: the catalog option, JSON output, value documents."""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NoReturn

from pricing import Catalog, ModelSpec, usd_text

from ..errors import InputError

if TYPE_CHECKING:
    from ..estimate.estimator import Estimate
    from ..values import CostRange, TokenRange

PER_MILLION = 1_000_000


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one line and exit 2, like every other input error."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{message} (see `{self.prog} --help`)")


def _environment_catalogs() -> list[str]:
    value = os.environ.get("COSTROUTER_CATALOG", "")
    return [path for path in value.split(os.pathsep) if path]


def load_catalog(args: argparse.Namespace) -> Catalog:
    """The bundled catalog overlaid by ``--catalog`` files, else by ``COSTROUTER_CATALOG``."""
    overlays = args.catalog if args.catalog else _environment_catalogs()
    return Catalog.load(overlays)


def _print_json(document: object) -> None:
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def tokens_document(tokens: TokenRange) -> dict[str, int]:
    return {"low": tokens.low, "expected": tokens.expected, "high": tokens.high}


def cost_document(cost: CostRange) -> dict[str, str]:
    return {
        "low": usd_text(cost.low),
        "expected": usd_text(cost.expected),
        "high": usd_text(cost.high),
    }


def estimate_document(estimate: Estimate) -> dict[str, Any]:
    """The JSON shape of ``costrouter estimate --json``."""
    return {
        "model": estimate.model,
        "input_tokens": tokens_document(estimate.input_tokens),
        "output_tokens": tokens_document(estimate.output_tokens),
        "cost": cost_document(estimate.cost),
        "images": [
            {
                "source": p.source,
                "width": p.width,
                "height": p.height,
                "tokens": tokens_document(p.tokens),
            }
            for p in estimate.images
        ],
        "parts": [
            {
                "message": p.message,
                "part": p.part,
                "kind": p.kind,
                "tokens": tokens_document(p.tokens),
            }
            for p in estimate.parts
        ],
        "chat_overhead_tokens": estimate.overhead,
    }


def _per_million(rate: Decimal) -> str:
    return usd_text(rate * PER_MILLION)


def _tier_range(model: ModelSpec, index: int) -> str:
    low = 0 if index == 0 else (model.tiers[index - 1].up_to or 0) + 1
    high = model.tiers[index].up_to
    return f"{low}-{high}" if high is not None else f"{low}+"
