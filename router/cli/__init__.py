"""The ``costrouter`` command line (its contract: docs/cli.md).

Every command prints a table by default and one JSON document with ``--json``. A user error is
one line on stderr and an exit status from the error's class: 2 bad input, 3 budget, 4 no model
qualifies, 5 gateway, 1 anything else. Flags override the environment.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from pricing import RouterError

from .._version import __version__
from . import budget, calibrate, call, catalog, plan, report
from .options import Parser, common_options


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = Parser(prog="costrouter", description="Cost-aware routing and billing for VLM calls.")
    parser.add_argument("--version", action="version", version=f"costrouter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in (catalog, plan, call, budget, report, calibrate):
        command.add_commands(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except RouterError as exc:
        print(f"costrouter: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 1
