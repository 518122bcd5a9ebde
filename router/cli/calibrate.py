"""``costrouter calibrate``: learn from the ledger's metered calls; store with ``--apply``."""

from __future__ import annotations

import argparse
import time
from typing import Any

from ..calibrate import MIN_CALLS, RECENT, Lesson, learn, lessons_document
from ..report.table import render_table
from .documents import print_json
from .options import add_ledger_option, load_catalog, open_ledger, whole_number


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f} %"


def _learned(lesson: Lesson) -> str:
    learned = lesson.learned
    said = []
    if learned.template is not None:
        t = learned.template
        said.append(f"template {t.per_message}/message + {t.reply}")
    if learned.images is not None:
        fit = learned.images
        said.append(
            f"images at the {fit.bound} bound" + ("" if fit.scale == 1.0 else f" × {fit.scale:g}")
        )
    if learned.output:
        said.append(f"output per choice {learned.output.get('', '?')} ({len(learned.output)} tags)")
    return "; ".join(said)


def cmd_calibrate(args: argparse.Namespace) -> int:
    catalog = load_catalog(args)
    ledger = open_ledger(args)
    try:
        if args.reset:
            removed = ledger.reset_calibration()
            if args.json:
                print_json({"reset": removed})
            else:
                print(
                    f"removed {removed} calibration version(s): estimates use the catalog's figures"
                )
            return 0
        recent = ledger.rows(newest=RECENT)
        calibration, lessons = learn(recent, catalog, min_calls=args.min_calls)
        stored = ledger.store_calibration(calibration, time.time()) if args.apply else None
        current = ledger.calibration()
    finally:
        ledger.close()
    if args.json:
        document: dict[str, Any] = {
            "applied": stored is not None,
            "version": None if current is None else current.version,
            "models": lessons_document(lessons),
        }
        print_json(document)
        return 0
    rows = [
        [
            lesson.model,
            lesson.calls,
            _learned(lesson),
            f"{_percent(lesson.input_before)} → {_percent(lesson.input_after)}",
            ""
            if lesson.output_before is None
            else f"{_percent(lesson.output_before)} → {_percent(lesson.output_after)}",
        ]
        for lesson in lessons
    ]
    headers = ["model", "calls", "learned", "input error", "output error"]
    print(render_table(headers, rows, right={1}) if rows else "nothing to learn yet")
    if stored is not None:
        print(f"stored as calibration version {stored.version}: estimates use it from now on")
    else:
        version = "none" if current is None else f"version {current.version}"
        print(f"dry run (in force: {version}); --apply stores it")
    return 0


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "calibrate",
        parents=[common],
        help="learn template, image and output tokens from metered calls",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--apply", action="store_true", help="store what was learned")
    action.add_argument("--reset", action="store_true", help="remove every stored calibration")
    parser.add_argument(
        "--min-calls",
        type=whole_number(1),
        default=MIN_CALLS,
        metavar="N",
        help=f"metered calls a lesson needs (default {MIN_CALLS})",
    )
    add_ledger_option(parser)
    parser.set_defaults(handler=cmd_calibrate)
