"""``costrouter call``: route, send, meter and settle one call."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from pricing import usd_display, usd_text

from ..errors import InputError
from .budget import open_ledger
from .common import _print_json, estimate_document, load_catalog
from .plan import policy_from_args
from .request_options import request_from_args

if TYPE_CHECKING:
    from ..request import Request
    from ..router import CallResult, Router
    from ..routing.policy import Policy


def add_tag_options(parser: argparse.ArgumentParser, purpose: str) -> None:
    """--user, --project and --tag K=V (repeatable); ``purpose`` ends each help line."""
    parser.add_argument("--user", help=f"user=U: {purpose}")
    parser.add_argument("--project", help=f"project=P: {purpose}")
    parser.add_argument(
        "--tag", action="append", default=[], metavar="K=V", help=f"any tag: {purpose}"
    )


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
            {"model": a.model, "status": a.status, "error": a.error, "seconds": round(a.seconds, 4)}
            for a in result.attempts
        ],
        "tags": tags,
    }


def cmd_call(args: argparse.Namespace) -> int:
    from ..gateway.client import DEFAULT_BASE_URL, GatewayClient, RetryPolicy
    from ..router import Router
    from ..routing.selector import Selector
    from .request_options import estimator_from_args

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
    ledger = open_ledger(args)
    selector = Selector(catalog, estimator=estimator_from_args(args, catalog))
    router = Router(
        catalog=catalog, client=client, base_url=base_url, ledger=ledger, selector=selector
    )
    policy = policy_from_args(args)
    try:
        result = _send(router, request, policy, tags, args)
    finally:
        ledger.close()
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


def _send(
    router: Router, request: Request, policy: Policy, tags: dict[str, str], args: argparse.Namespace
) -> CallResult:
    if args.stream:
        stream = router.stream(request, policy, tags=tags)
        for text in stream:
            if not args.json:
                sys.stdout.write(text)
                sys.stdout.flush()
        assert stream.result is not None
        if not args.json:
            sys.stdout.write("\n")
        return stream.result
    return router.call(request, policy, tags=tags)


def add_call_command(commands: Any, common: argparse.ArgumentParser) -> None:
    from .budget import add_ledger_option
    from .plan import add_policy_options
    from .request_options import add_request_options

    call = commands.add_parser("call", parents=[common], help="route, send and meter a call")
    add_request_options(call)
    add_policy_options(call)
    add_tag_options(call, "tag the call (budgets and reports match on tags)")
    add_ledger_option(call)
    call.add_argument(
        "--base-url", metavar="URL", help="gateway base URL (default: $MEMORIES_BASE_URL)"
    )
    call.add_argument("--stream", action="store_true", help="print the answer as it arrives")
    call.add_argument(
        "--fit-budget",
        action="store_true",
        help="if a budget cannot cover the cheapest model, take the cheapest it can",
    )
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
