"""A fleet on one PostgreSQL ledger: 16 processes sharing one hard global budget.

Run: python -m benchmarks.bench_fleet [--workers 16] [--seconds 5] [--postgres URL] [--kill]

Three ways to admit and record a call, measured in the same run, each on a fresh schema:
``floor`` (two bare committing one-row inserts per call: what any ledger that writes a call
before and after sending pays), ``plain`` (``reserve(sent=True)`` + ``settle``: two round
trips, the path of every call today) and ``leased`` (:class:`~router.ledger.leases.LeasedLedger`).
Each call's worst case is $0.01 and its honest cost $0.0045. Then, leased, a $40 limit the
fleet runs into: overspend, the room left unspent when the first call was refused and at the
end, and spent against the sum of the rows (exact, in nanodollars). ``--kill`` SIGKILLs
random workers while they run: what they admitted must still be billed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import signal
import time
import uuid
from decimal import Decimal
from typing import Any

from router import Budget, LedgerRow, ledger_from_url
from router.ledger.leases import LeasedLedger

TAGS = {"model": "gpt:gpt-4o", "family": "gpt:gpt-4o", "provider": "gpt"}
WORST, COST = Decimal("0.01"), Decimal("0.0045")
#: Short leases, so a killed worker's are billed within the run (renewed every 0.1 s anyway).
LEASE_SECONDS = 5.0


def one_row(call: str, now: float) -> LedgerRow:
    return LedgerRow(
        call, now, "gpt:gpt-4o", "gpt:gpt-4o", tuple(sorted(TAGS.items())), 1000, 200, 0, 0,
        Decimal("0.001"), Decimal("0.004"), WORST, COST, "ok", 0.3, 1,
    )  # fmt: skip


def worker(url: str, mode: str, seconds: float, out: Any, ready: Any, served: str) -> None:
    """Admit and record calls for ``seconds``; put (calls, refused, first refusal's unspent)."""
    calls = refused = 0
    unspent_at_refusal: Decimal | None = None
    if mode == "floor":
        import psycopg

        connection = psycopg.connect(url, autocommit=True)
        ready.wait()
        end = time.time() + seconds
        while time.time() < end:
            call = uuid.uuid4().hex
            connection.execute("INSERT INTO floor (id, stage) VALUES (%s, 1)", (call,))
            connection.execute("INSERT INTO floor (id, stage) VALUES (%s, 2)", (call,))
            calls += 1
        out.put((calls, 0, None))
        return
    inner = ledger_from_url(url)
    ledger = LeasedLedger(inner, rate=0, lease_seconds=LEASE_SECONDS) if mode == "leased" else inner
    log = open(served, "a", buffering=1) if served else None  # noqa: SIM115 -- kept to the end
    ready.wait()
    end = time.time() + seconds
    while time.time() < end:
        call, now = uuid.uuid4().hex, time.time()
        try:
            ledger.reserve(call, WORST, TAGS, now, sent=True)
        except Exception:  # BudgetExceededError: the limit is reached
            refused += 1
            if unspent_at_refusal is None:
                (status,) = inner.status(now)
                unspent_at_refusal = status.budget.limit - status.spent
            if refused > 200:
                break
            continue
        if log is not None:  # the gateway served it: written before it is settled
            log.write(f"{call}\n")
        ledger.settle(one_row(call, now), now)
        calls += 1
    ledger.close()
    out.put((calls, refused, unspent_at_refusal))


def run(url: str, mode: str, workers: int, seconds: float, kill: bool = False) -> dict[str, Any]:
    context = multiprocessing.get_context("fork")
    out, ready = context.Queue(), context.Barrier(workers + 1)
    served = f"/tmp/bench-fleet-{uuid.uuid4().hex[:6]}.served" if kill else ""
    processes = [
        context.Process(target=worker, args=(url, mode, seconds, out, ready, served))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    ready.wait()
    start = time.time()
    killed = 0
    if kill:
        for victim in random.sample(processes, workers // 4):
            time.sleep(random.uniform(0.2, seconds / (workers // 4)))
            os.kill(victim.pid or 0, signal.SIGKILL)
            killed += 1
    results = [out.get(timeout=seconds + 120) for _ in range(workers - killed)]
    elapsed = time.time() - start
    for process in processes:
        process.join()
    calls = sum(r[0] for r in results)
    unspent = [r[2] for r in results if r[2] is not None]
    return {
        "rate": calls / min(elapsed, seconds) if not kill else calls / elapsed,
        "calls": calls,
        "refused": sum(r[1] for r in results),
        "unspent_at_first_refusal": max(unspent) if unspent else None,
        "served": served,
        "killed": killed,
    }


def fresh_schema(base: str) -> tuple[str, str]:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
        connection.execute(f"CREATE TABLE {schema}.floor (id TEXT, stage INTEGER)")
    return schema, f"{base}?options=-csearch_path%3D{schema}"


def drop_schema(base: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


def check(url: str, limit: Decimal, served: str, lease_seconds: float) -> str:
    """Spent against the rows and the limit, once every lease is billed or returned."""
    ledger = ledger_from_url(url)
    if served:  # dead workers' leases: billed by the first write after they expire
        time.sleep(lease_seconds + 1)
        ledger.reserve("sweep", Decimal(0), {}, time.time())
        ledger.release("sweep", time.time())
    (status,) = ledger.status(time.time())
    rows = ledger.rows()
    billed = sum(r.cost for r in rows)
    text = (
        f"limit ${limit}, spent ${status.spent} (overspend ${max(status.spent - limit, 0)}), "
        f"rows sum ${billed} ({'equal' if billed == status.spent else 'DIFFERENT'}), "
        f"left unspent ${limit - status.spent}, holds left ${status.reserved}"
    )
    if served:
        with open(served) as lines:
            ids = set(lines.read().split())
        recorded = {r.call_id for r in rows}
        orphans = [r for r in rows if r.status == "orphaned"]
        missing = ids - recorded
        text += (
            f"; served {len(ids)}, {len(missing)} not recorded one by one, covered by "
            f"{len(orphans)} lease bills of ${sum(r.cost for r in orphans)} "
            f"(their worst ${len(missing) * WORST} at most)"
        )
        os.remove(served)
    ledger.close()
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--kill", action="store_true", help="SIGKILL a quarter of the workers")
    args = parser.parse_args()
    print("| path | workers | admitted calls / s |\n|---|---:|---:|")
    for mode in ("floor", "plain", "leased"):
        schema, url = fresh_schema(args.postgres)
        try:
            ledger = ledger_from_url(url)
            ledger.set_budget(Budget.parse("global", "1000000"))
            ledger.close()
            result = run(url, mode, args.workers, args.seconds)
            print(f"| {mode} | {args.workers} | {result['rate']:,.0f} |")
        finally:
            drop_schema(args.postgres, schema)
    limit = Decimal(40)
    schema, url = fresh_schema(args.postgres)
    try:
        ledger = ledger_from_url(url)
        ledger.set_budget(Budget.parse("global", limit))
        ledger.close()
        result = run(url, "leased", args.workers, args.seconds * 2, kill=args.kill)
        print(
            f"\nAt a ${limit} limit, leased: {result['calls']:,} calls admitted, "
            f"{result['refused']:,} refused, {result['killed']} workers killed; unspent when the "
            f"first call was refused ${result['unspent_at_first_refusal']}"
        )
        print(check(url, limit, result["served"], LEASE_SECONDS))
    finally:
        drop_schema(args.postgres, schema)


if __name__ == "__main__":
    main()
