"""The JSON documents commands print with ``--json`` (their shapes are the CLI's contract)."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any

from pricing import ModelSpec, Range, money, usd_text

from ..estimate.estimator import Estimate
from ..estimate.text import CHAT_OVERHEAD
from ..metering import CallResult
from ..routing.policy import Decision, Rejection

PER_MILLION = 1_000_000


def print_json(document: object) -> None:
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def tokens_document(tokens: Range[int]) -> dict[str, int]:
    return {"low": tokens.low, "expected": tokens.expected, "high": tokens.high}


def cost_document(cost: Range[Decimal]) -> dict[str, str]:
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
        "chat_overhead_source": CHAT_OVERHEAD[estimate.tokenizer].source,
        "text_counted_by": estimate.text_counted_by,
        "input_limit": estimate.input_limit,
        "high_may_not_fit": estimate.high_may_not_fit,
    }


def model_document(model: ModelSpec) -> dict[str, Any]:
    """The JSON shape of one model in ``costrouter models --json`` (prices per 1M tokens)."""
    first = model.tiers[0]
    return {
        "model": model.id,
        "provider": model.provider,
        "context_window": model.context_window,
        "max_output_tokens": model.max_output_tokens,
        "input_price": per_million(first.input_rate),
        "output_price": per_million(first.output_rate),
        "tiers": [
            {
                "up_to": tier.up_to,
                "input_price": per_million(tier.input_rate),
                "output_price": per_million(tier.output_rate),
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


def rejection_document(rejection: Rejection) -> dict[str, str]:
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
                "risks": list(c.risks),
            }
            for c in decision.candidates
        ],
        "rejected": [rejection_document(r) for r in decision.rejected],
    }


def call_document(result: CallResult, tags: dict[str, str]) -> dict[str, Any]:
    """The JSON shape of ``costrouter call --json``."""
    usage = result.usage
    return {
        "call_id": result.call_id,
        "model": result.model,
        "served_model": result.served_model,
        "text": result.text,
        "usage": None
        if usage is None
        else {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cached_tokens": usage.cached_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
        },
        "cost": usd_text(result.cost),
        "status": result.status,
        "estimate": estimate_document(result.estimate),
        "attempts": [
            {
                "model": a.model,
                "status": a.status,
                "error": a.error,
                "seconds": round(a.seconds, 4),
                "cost": None if a.cost is None else usd_text(a.cost),
            }
            for a in result.attempts
        ],
        "note": result.note,
        "tags": tags,
    }


def per_million(rate: Decimal) -> str:
    return usd_text(money.multiply(rate, PER_MILLION))


def tier_range(model: ModelSpec, index: int) -> str:
    low = 0 if index == 0 else (model.tiers[index - 1].up_to or 0) + 1
    high = model.tiers[index].up_to
    return f"{low}-{high}" if high is not None else f"{low}+"
