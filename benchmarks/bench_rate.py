"""A per-minute request limit shared by 8 processes, on the real clock.

Run: python -m benchmarks.bench_rate [--workers 8] [--limit 600] [--seconds 150]
     [--pace 25] [--postgres URL] [--sqlite]

Every worker asks to send ``--pace`` calls a second (8 × 25 = 200 a second against a limit of
600 a minute: demand is 20 times the limit), each reserved (``sent=True``) against one global
budget of ``--limit`` requests a minute and settled at once, as a Router does. The run starts
mid-minute, so its first window is cut short. Reported per UTC clock minute: calls admitted
(their rows), refused, how far into the minute the first and the last admission came, and the
ledger's count for the window; then the most calls admitted in any 60 s span (not a clock
minute), which is where a fixed window's edge shows: a window's calls near its end and the next
window's near its start fall in one span.
"""

from __future__ import annotations

import argparse
import bisect
import multiprocessing
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from router import Budget, BudgetExceededError, ledger_from_url
from router.ledger.calendar import window_key

from .bench_fleet import drop_schema, fresh_schema, one_row

TAGS = {"model": "gpt:gpt-4o", "family": "gpt:gpt-4o", "provider": "gpt"}


def worker(url: str, seconds: float, pace: float, out: Any, ready: Any) -> None:
    """Try ``pace`` calls a second for ``seconds``; put the refusals' times."""
    ledger = ledger_from_url(url)
    refused: list[float] = []
    ready.wait()
    start = time.time()
    tries = 0
    while (now := time.time()) < start + seconds:
        time.sleep(max(start + tries / pace - now, 0))
        tries += 1
        call, now = uuid.uuid4().hex, time.time()
        try:
            ledger.reserve(call, Decimal("0.01"), TAGS, now, sent=True)
        except BudgetExceededError:
            refused.append(now)
            continue
        ledger.settle(one_row(call, now), now)
    ledger.close()
    out.put(refused)


def run(url: str, workers: int, limit: int, seconds: float, pace: float) -> None:
    ledger = ledger_from_url(url)
    ledger.set_budget(Budget.parse("global", str(limit), period="minute", unit="requests"))
    ledger.close()
    context = multiprocessing.get_context("fork")
    out, ready = context.Queue(), context.Barrier(workers + 1)
    processes = [
        context.Process(target=worker, args=(url, seconds, pace, out, ready))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    ready.wait()
    refusals = [t for _ in processes for t in out.get(timeout=seconds + 120)]
    for process in processes:
        process.join()
    ledger = ledger_from_url(url)
    rows = ledger.rows()
    counts: dict[str, Decimal] = {}
    for window in sorted({window_key("minute", "UTC", r.ts) for r in rows}):
        at = min(r.ts for r in rows if window_key("minute", "UTC", r.ts) == window)
        (status,) = ledger.status(at)
        counts[window] = status.spent
    ledger.close()
    admitted: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        admitted[window_key("minute", "UTC", r.ts)].append(r.ts)
    refused = Counter(window_key("minute", "UTC", t) for t in refusals)
    print(
        f"{workers} workers × {pace:g} tries/s, limit {limit} requests a minute, {seconds:g} s\n"
        "| UTC minute | admitted | refused | first admitted at | last admitted at | "
        "ledger's count |\n|---|---:|---:|---:|---:|---:|"
    )
    for window, times in sorted(admitted.items()):
        first, last = min(times) % 60, max(times) % 60
        print(
            f"| {window[11:]} | {len(times):,} | {refused[window]:,} | {first:.2f} s | "
            f"{last:.2f} s | {int(counts[window]):,} |"
        )
    stamps = sorted(r.ts for r in rows)
    span = max(bisect.bisect_left(stamps, t + 60) - i for i, t in enumerate(stamps))
    print(f"\nmost admitted in any 60 s span: {span:,} (limit {limit:,} per clock minute)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--limit", type=int, default=600)
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--pace", type=float, default=25.0, help="tries a second per worker")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead")
    args = parser.parse_args()
    if args.sqlite:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{folder}/ledger.db", args.workers, args.limit, args.seconds, args.pace)
        return
    schema, url = fresh_schema(args.postgres)
    try:
        run(url, args.workers, args.limit, args.seconds, args.pace)
    finally:
        drop_schema(args.postgres, schema)


if __name__ == "__main__":
    main()
