"""Reserve + settle pairs per second on the SQLite and PostgreSQL ledgers, 1 and 8 workers.

Run: python -m benchmarks.bench_ledger [--pairs N] [--postgres URL]
Each pair reserves a call's worst case against two matching budgets (global and per user) and
settles its row, as the router does for every call. Workers are processes (the way a fleet or
a multi-process server shares one ledger); each opens its own connection. The PostgreSQL run
uses a fresh schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
import uuid
from decimal import Decimal
from typing import Any

from router import Budget, LedgerRow, ledger_from_url

TAGS = {"user": "bench", "model": "gpt:gpt-4o", "provider": "gpt"}


def one_row(call: str, now: float) -> LedgerRow:
    return LedgerRow(
        call,
        now,
        "gpt:gpt-4o",
        "gpt:gpt-4o",
        tuple(sorted(TAGS.items())),
        1000,
        200,
        0,
        0,
        Decimal("0.001"),
        Decimal("0.004"),
        Decimal("0.01"),
        Decimal("0.0045"),
        "ok",
        0.3,
        1,
    )


def pairs(url: str, count: int, worker: int, spans: Any, ready: Any, sent: str = "") -> None:
    ledger = ledger_from_url(url)
    ready.wait()  # every worker connected: start together
    start = time.time()
    for n in range(count):
        call = f"w{worker}-{n}-{uuid.uuid4().hex[:6]}"
        now = time.time()
        ledger.reserve(call, Decimal("0.01"), TAGS, now, sent=sent == "folded")
        if sent == "marked":  # a separate mark before sending, as the Router did until 0.3
            ledger.mark_sent(call, now)
        ledger.settle(one_row(call, now), now)
    spans.put((start, time.time()))
    ledger.close()


def run(url: str, workers: int, count: int, sent: str = "") -> float:
    ledger = ledger_from_url(url)
    ledger.set_budget(Budget.parse("global", "1000000000"))
    ledger.set_budget(Budget.parse("user=bench", "1000000000"))
    ledger.close()
    context = multiprocessing.get_context("spawn")
    spans, ready = context.Queue(), context.Barrier(workers)
    processes = [
        context.Process(target=pairs, args=(url, count, w, spans, ready, sent))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    times = [spans.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    assert all(p.exitcode == 0 for p in processes)
    elapsed: float = max(end for _, end in times) - min(start for start, _ in times)
    return workers * count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=3000, help="pairs per worker")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--sent-only", action="store_true", help="only the cost of marking calls sent"
    )
    args = parser.parse_args()
    sent_overhead(args.postgres, args.pairs)
    if args.sent_only:
        return
    print("| backend | workers | reserve + settle pairs / s |")
    print("|---|---:|---:|")
    with tempfile.TemporaryDirectory() as directory:
        for workers in (1, 8):
            url = f"sqlite:///{directory}/bench-{workers}.db"
            print(f"| SQLite (WAL, file) | {workers} | {run(url, workers, args.pairs):,.0f} |")
    import psycopg

    for label, options in (("", ""), (", synchronous_commit=off", "%20-csynchronous_commit%3Doff")):
        for workers in (1, 8):
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.postgres, autocommit=True) as connection:
                connection.execute(f"CREATE SCHEMA {schema}")
            try:
                url = f"{args.postgres}?options=-csearch_path%3D{schema}{options}"
                rate = run(url, workers, args.pairs // 2)
                print(f"| PostgreSQL 15 (local{label}) | {workers} | {rate:,.0f} |")
            finally:
                with psycopg.connect(args.postgres, autocommit=True) as connection:
                    connection.execute(f"DROP SCHEMA {schema} CASCADE")


def sent_overhead(postgres: str, count: int) -> None:
    """What "never free" costs a call: reserve + settle, against the same with the reservation
    marked sent as it is made (what the Router does), and with a separate mark_sent round trip
    (what it did before); one worker, alternated three times, the best of each."""
    import psycopg

    ways = ("", "folded", "marked")
    print(
        "| backend | reserve + settle, µs a call | marked sent in the reservation | + separate mark_sent |"
    )
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as directory:
        best = dict.fromkeys(ways, 0.0)
        for round_ in range(3):
            for sent in ways:
                url = f"sqlite:///{directory}/sent-{round_}-{sent}.db"
                best[sent] = max(best[sent], run(url, 1, count, sent))
        print("| SQLite (WAL, file) | " + " | ".join(f"{1e6 / best[w]:.0f}" for w in ways) + " |")
    best = dict.fromkeys(ways, 0.0)
    for _ in range(3):
        for sent in ways:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(postgres, autocommit=True) as connection:
                connection.execute(f"CREATE SCHEMA {schema}")
            try:
                url = f"{postgres}?options=-csearch_path%3D{schema}"
                best[sent] = max(best[sent], run(url, 1, count // 2, sent))
            finally:
                with psycopg.connect(postgres, autocommit=True) as connection:
                    connection.execute(f"DROP SCHEMA {schema} CASCADE")
    print("| PostgreSQL 15 (local) | " + " | ".join(f"{1e6 / best[w]:.0f}" for w in ways) + " |\n")


if __name__ == "__main__":
    main()
