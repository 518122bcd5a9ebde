"""The ``costrouter`` command line (contract: shared/spec/CLI.md).

Every command prints a table by default and one JSON document with ``--json``. A user error is
one line on stderr and an exit status from the error's class: 2 bad input, 3 budget, 4 no model
qualifies, 5 gateway, 1 anything else. Flags override the environment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NoReturn

import pricing
from pricing import Catalog, ModelSpec, Usage, usd_display, usd_text

from ._cli_request import add_request_options, request_from_args
from ._errors import InputError, RouterError
from ._table import render_table

if TYPE_CHECKING:
    from ._estimate import Estimate
    from ._values import CostRange, TokenRange
from ._version import __version__

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


def _per_million(rate: Decimal) -> str:
    return usd_text(rate * PER_MILLION)


def _tier_range(model: ModelSpec, index: int) -> str:
    low = 0 if index == 0 else (model.tiers[index - 1].up_to or 0) + 1
    high = model.tiers[index].up_to
    return f"{low}-{high}" if high is not None else f"{low}+"


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


def cmd_estimate(args: argparse.Namespace) -> int:
    from ._estimate import Estimator

    catalog = load_catalog(args)
    model = catalog.get(args.model)
    request = request_from_args(args)
    estimate = Estimator(catalog).estimate(request, model)
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


def policy_from_args(args: argparse.Namespace) -> Any:
    """The routing policy the options describe."""
    from ._policy import Policy

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
    )


def cmd_route(args: argparse.Namespace) -> int:
    from ._policy import NoModelQualifiesError
    from ._route import Selector

    catalog = load_catalog(args)
    request = request_from_args(args)
    try:
        decision = Selector(catalog).route(request, policy_from_args(args))
    except NoModelQualifiesError as exc:
        rejected = [{"model": r.model, "code": r.code, "reason": r.reason} for r in exc.rejected]
        if args.json:
            _print_json({"model": None, "cost": None, "candidates": [], "rejected": rejected})
        else:
            print(render_table(["rejected", "why"], [[r["model"], r["reason"]] for r in rejected]))
        raise
    chosen = decision.chosen
    if args.json:
        _print_json(
            {
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
                "rejected": [
                    {"model": r.model, "code": r.code, "reason": r.reason}
                    for r in decision.rejected
                ],
            }
        )
        return 0
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
    print(
        render_table(
            ["#", "model", "expected $", "worst $", "input tokens", "quality"],
            rows,
            right={0, 2, 3, 4},
        )
    )
    print(f"\n{len(decision.rejected)} rejected:")
    print(render_table(["model", "why"], [[r.model, r.reason] for r in decision.rejected]))
    return 0


def tags_from_args(args: argparse.Namespace) -> dict[str, str]:
    """--user, --project and --tag K=V as one mapping of tags."""
    tags: dict[str, str] = {}
    for item in args.tag:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(f"--tag takes KEY=VALUE, got {item!r}")
        tags[key.strip()] = value.strip()
    if args.user:
        tags["user"] = args.user
    if args.project:
        tags["project"] = args.project
    return tags


def call_document(result: Any, tags: dict[str, str]) -> dict[str, Any]:
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
            {"model": a.model, "status": a.status, "error": a.error, "seconds": round(a.seconds, 4)}
            for a in result.attempts
        ],
        "tags": tags,
    }


def cmd_call(args: argparse.Namespace) -> int:
    from ._client import DEFAULT_BASE_URL, GatewayClient, RetryPolicy
    from ._router import Router

    catalog = load_catalog(args)
    request = request_from_args(args)
    tags = tags_from_args(args)
    api_key = os.environ.get("MEMORIES_API_KEY")
    if not api_key:
        raise InputError("set MEMORIES_API_KEY to your gateway key (`call` sends the request)")
    base_url = args.base_url or os.environ.get("MEMORIES_BASE_URL") or DEFAULT_BASE_URL
    client = GatewayClient(
        api_key, base_url, timeout=(3.05, args.timeout), retry=RetryPolicy(attempts=args.retries)
    )
    router = Router(catalog=catalog, client=client, base_url=base_url)
    policy = policy_from_args(args)
    if args.stream:
        stream = router.stream(request, policy)
        for text in stream:
            if not args.json:
                sys.stdout.write(text)
                sys.stdout.flush()
        result = stream.result
        assert result is not None
        if not args.json:
            sys.stdout.write("\n")
    else:
        result = router.call(request, policy)
    if args.json:
        _print_json(call_document(result, tags))
        return 0
    if not args.stream:
        print(result.text)
    usage = result.usage
    used = (
        "no usage reported"
        if usage is None
        else f"{usage.input_tokens:,} in / {usage.output_tokens:,} out"
    )
    print(
        f"\n-- {result.served_model} ({result.status}): {used}, ${usd_display(result.cost)}, "
        f"{len(result.attempts)} attempt(s), call {result.call_id}",
        file=sys.stderr,
    )
    return 0


def _print_json(document: object) -> None:
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


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
    route.set_defaults(handler=cmd_route)

    call = commands.add_parser("call", parents=[common], help="route, send and meter a call")
    add_request_options(call)
    add_policy_options(call)
    call.add_argument("--user", help="tag the call with user=U")
    call.add_argument("--project", help="tag the call with project=P")
    call.add_argument(
        "--tag", action="append", default=[], metavar="K=V", help="any tag (repeatable)"
    )
    call.add_argument(
        "--base-url", metavar="URL", help="gateway base URL (default: $MEMORIES_BASE_URL)"
    )
    call.add_argument("--stream", action="store_true", help="print the answer as it arrives")
    call.add_argument(
        "--retries",
        type=int,
        default=4,
        metavar="N",
        help="attempts per model on 429, 5xx and connection errors (default 4)",
    )
    call.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="read timeout per attempt (default 60)",
    )
    call.set_defaults(handler=cmd_call)
    return parser


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
