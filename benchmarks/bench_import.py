"""Whole-process import time of `pricing` and `router` against a bare interpreter.

Run: python benchmarks/bench_import.py [--runs N]
Each sample is a fresh `python -c ...` process. The table gives the median and the fastest of N
runs, each also minus the same figure for `python -c pass` (the fastest is the steadier figure on
a busy machine). Interpreter start-up (site, the editable-install finder) is in both.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

TARGETS = {
    "bare interpreter": "pass",
    "import pricing": "import pricing",
    "import router": "import router",
    "import router.cli": "import router.cli",
    "from router import Estimator, Request": "from router import Estimator, Request",
    "pricing + load bundled catalog": "import pricing; pricing.Catalog.load()",
}


def sample(code: str, runs: int) -> tuple[float, float]:
    """(median, minimum) wall time in ms of a fresh interpreter running ``code``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    runs = parser.parse_args().runs
    results = {name: sample(code, runs) for name, code in TARGETS.items()}
    bare_median, bare_min = results["bare interpreter"]
    print(f"{runs} runs each, Python {sys.version.split()[0]}\n")
    print("| what | median ms | above bare (median) | fastest ms | above bare (fastest) |")
    print("|---|---:|---:|---:|---:|")
    for name, (median, fastest) in results.items():
        print(
            f"| {name} | {median:.1f} | {median - bare_median:+.1f} "
            f"| {fastest:.1f} | {fastest - bare_min:+.1f} |"
        )


if __name__ == "__main__":
    main()
