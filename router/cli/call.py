"""``costrouter call``: route, send, meter and settle one call."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from pricing import InputError, usd_display

from ..gateway.client import DEFAULT_BASE_URL, GatewayClient, RetryPolicy
from ..gateway.errors import Attempt
from ..ledger.base import UnrecordedCallError
from ..metering import CallResult
from ..request import Request
from ..router import Router
from ..routing.policy import Policy
from ..routing.selector import Selector
from .documents import call_document, print_json
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


def cmd_call(args: argparse.Namespace) -> int:
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
        catalog=catalog,
        client=client,
        base_url=base_url,
        ledger=ledger,
        selector=selector,
        on_attempt=None if args.json else _print_failed_attempt,
        trust_calibration=args.trust_calibration,
    )
    policy = policy_from_args(args)
    try:
        result = _send(router, request, policy, tags, args)
    except UnrecordedCallError as exc:  # show the answer, then say what was not recorded
        _show(exc.result, tags, args)
        raise
    finally:
        ledger.close()
    shown = _show(result, tags, args)
    router.alerts.drain(ALERT_WAIT)  # after the answer is shown: the alerts' last chance
    return shown


#: Seconds `call` waits, after showing its answer, for the alerts it fired to be delivered.
ALERT_WAIT = 10.0


def _show(result: CallResult, tags: dict[str, str], args: argparse.Namespace) -> int:
    if args.json:
        print_json(call_document(result, tags))
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


def _print_failed_attempt(attempt: Attempt) -> None:
    """One stderr line per failed attempt, as it happens (the answer, if any, goes to stdout)."""
    if attempt.error is None:
        return
    status = f"HTTP {attempt.status}" if attempt.status is not None else "no answer"
    print(
        f"costrouter: {attempt.model}: {status}: {attempt.error} ({attempt.seconds:.2f} s)",
        file=sys.stderr,
        flush=True,
    )


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
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
        "--max-models",
        type=int,
        default=3,
        metavar="N",
        help="try at most N of the ranked models before giving up (default 3)",
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
