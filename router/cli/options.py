"""The options commands share, and what they build: catalog, request, policy, tags, ledger.

Each ``add_*`` puts a group of options on a parser; each ``*_from_args`` turns the parsed options
into the library's value, raising :class:`InputError` that says what to fix.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NoReturn

from pricing import PROVIDERS, Catalog, InputError

from ..estimate.counters import local_counter
from ..estimate.estimator import Estimator
from ..estimate.text import TextEstimator
from ..fetch import fetch_images
from ..ledger.base import Ledger
from ..ledger.budgets import check_tags
from ..ledger.urls import default_ledger_url, ledger_from_url
from ..request import DETAILS, MEDIA_RESOLUTIONS, Request
from ..router import catalog_from_env
from ..routing.policy import Policy


class Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one line and exit 2, like every other input error."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{message} (see `{self.prog} --help`)")


def common_options() -> Parser:
    """``--catalog`` and ``--json``, which every command takes."""
    common = Parser(add_help=False)
    common.add_argument(
        "--catalog",
        action="append",
        metavar="FILE",
        help="YAML overlay on the bundled catalog (repeatable; default: $COSTROUTER_CATALOG)",
    )
    common.add_argument("--json", action="store_true", help="print one JSON document")
    return common


def load_catalog(args: argparse.Namespace) -> Catalog:
    """The bundled catalog overlaid by ``--catalog`` files, else by ``COSTROUTER_CATALOG``."""
    return Catalog.load(args.catalog) if args.catalog else catalog_from_env(os.environ)


def add_request_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the request")
    text = group.add_mutually_exclusive_group()
    text.add_argument("--prompt", metavar="TEXT", help="the user prompt")
    text.add_argument("--prompt-file", metavar="FILE", help="read the prompt from FILE (- = stdin)")
    text.add_argument("--messages", metavar="FILE", help="OpenAI-style messages JSON (- = stdin)")
    group.add_argument("--system", metavar="TEXT", help="a system message before the prompt")
    group.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="SRC",
        help="an image: a path, an http(s) URL or a data URL (repeatable)",
    )
    group.add_argument("--detail", choices=DETAILS, default="auto", help="OpenAI image detail")
    group.add_argument(
        "--media-resolution", choices=MEDIA_RESOLUTIONS, help="Gemini 3 image resolution"
    )
    group.add_argument("--max-tokens", type=int, metavar="N", help="default: the provider's")
    group.add_argument("--n", type=int, default=1, metavar="N", help="completions to generate")
    group.add_argument("--json-output", action="store_true", help="ask the model for JSON")
    group.add_argument("--thinking", action="store_true", help="ask the model to think")
    group.add_argument(
        "--fetch-images",
        action="store_true",
        help="download http(s) images to measure them (default: estimate them as a range)",
    )
    group.add_argument(
        "--fetch-private",
        action="store_true",
        help="with --fetch-images, also fetch from loopback, link-local and private addresses",
    )
    counting = group.add_mutually_exclusive_group()
    counting.add_argument(
        "--exact-text",
        action="store_true",
        help="count text exactly (the default: splintr-rs's bundled tokenizers, or the "
        "files COSTROUTER_VOCAB_<FAMILY> names; a family without one is estimated)",
    )
    group.add_argument(
        "--trust-calibration",
        action="store_true",
        help="let the ledger's calibration lower worst cases too (reservations then follow "
        "observed bills, and an unusual call may cost more than it reserved)",
    )
    counting.add_argument(
        "--estimate-text",
        action="store_true",
        help="estimate text from its characters instead of counting it (a range)",
    )


def estimator_from_args(args: argparse.Namespace, catalog: Catalog) -> Estimator:
    """The estimator the options ask for: exact counts where possible (the bundled engines, or
    the files ``COSTROUTER_VOCAB_<FAMILY>`` names), unless ``--estimate-text``."""
    if args.estimate_text:
        return Estimator(catalog, text=TextEstimator(None))
    return Estimator(catalog, text=TextEstimator(local_counter()))


def _read(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        what = "standard input" if path == "-" else repr(path)
        raise InputError(f"cannot read {what} ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path!r} is not UTF-8 text") from None


def request_from_args(args: argparse.Namespace) -> Request:
    """Build the request the options describe; bad input raises InputError saying what to fix."""
    options: dict[str, Any] = {
        "max_tokens": args.max_tokens,
        "n": args.n,
        "json_output": args.json_output,
        "thinking": args.thinking,
    }
    request = _build(args, options)
    if args.fetch_images:
        request = fetch_images(request, allow_private=args.fetch_private)
    return request


def _build(args: argparse.Namespace, options: dict[str, Any]) -> Request:
    if args.messages is not None:
        if args.image or args.system:
            raise InputError(
                "--messages already holds the whole conversation: drop --image/--system"
            )
        try:
            messages = json.loads(_read(args.messages))
        except json.JSONDecodeError as exc:
            raise InputError(f"--messages is not valid JSON: {exc}") from None
        return Request.from_openai(messages, **options)
    prompt = (
        args.prompt
        if args.prompt is not None
        else (_read(args.prompt_file) if args.prompt_file is not None else "")
    )
    if not prompt and not args.image:
        raise InputError(
            "describe the request: give --prompt, --prompt-file, --messages or --image"
        )
    return Request.from_prompt(
        prompt,
        args.image,
        system=args.system,
        detail=args.detail,
        media_resolution=args.media_resolution,
        **options,
    )


def _comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def policy_from_args(args: argparse.Namespace) -> Policy:
    """The routing policy the options describe."""
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
        max_models=getattr(args, "max_models", 3),
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
        choices=PROVIDERS,
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
    if args.user is not None:
        tags["user"] = args.user
    if args.project is not None:
        tags["project"] = args.project
    return check_tags(tags)


def whole_number(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``least``, else a one-line error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"expected a number >= {least}, got {value}")
        return value

    return parse


def add_ledger_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ledger",
        metavar="URL",
        help="sqlite:///path, postgresql://..., memory:// (default: $COSTROUTER_LEDGER, else a "
        "SQLite file in the user's data directory)",
    )


def open_ledger(args: argparse.Namespace, *, read_only: bool = False) -> Ledger:
    """The ledger ``--ledger`` (else ``COSTROUTER_LEDGER``, else the default file) names;
    ``read_only`` for commands that only read: they create nothing and never wait for a writer."""
    return ledger_from_url(args.ledger or default_ledger_url(), read_only=read_only)
