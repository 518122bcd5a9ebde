"""Worker processes for the concurrency and crash tests (run as ``python -m tests.ledger_workers``).

``calls URL BASE THREADS CALLS``: THREADS threads each make CALLS calls through a Router on the
ledger at URL and the gateway at BASE; prints a JSON count of outcomes.
``crash URL BASE``: settles three calls, prints ``settled``, waits for a line on stdin, then
starts a fourth (the test's gateway stalls it); the test kills the process there.
``reserve URL``: reserves a call's worst case without sending it, prints ``reserved`` and
waits; the test kills the process before anything is sent.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from decimal import Decimal

from router import BudgetExceededError, GatewayClient, Request, RetryPolicy, Router, ledger_from_url

from .gateway_server import API_KEY

MODEL = "gpt:gpt-4o-mini"
REQUEST = Request.from_prompt("Count to three.", max_tokens=100)


def make_router(url: str, base: str, hold_seconds: float = 300.0) -> Router:
    client = GatewayClient(API_KEY, base, timeout=(10.0, 60.0), retry=RetryPolicy(attempts=1))
    return Router(client=client, ledger=ledger_from_url(url), hold_seconds=hold_seconds)


def calls(url: str, base: str, threads: int, per_thread: int) -> None:
    router = make_router(url, base)
    counts = {"ok": 0, "refused": 0, "error": 0}
    lock = threading.Lock()

    def work() -> None:
        for _ in range(per_thread):
            try:
                router.call(REQUEST, model=MODEL, tags={"user": "load"})
                outcome = "ok"
            except BudgetExceededError:
                outcome = "refused"
            except Exception:
                outcome = "error"
            with lock:
                counts[outcome] += 1

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps(counts), flush=True)


def crash(url: str, base: str) -> None:
    router = make_router(url, base, hold_seconds=5.0)
    for _ in range(3):
        router.call(REQUEST, model=MODEL)
    print("settled", flush=True)
    sys.stdin.readline()  # the test queues the stall, then says go
    router.call(REQUEST, model=MODEL)  # the gateway stalls this one; the test kills us


def reserve(url: str) -> None:
    ledger = ledger_from_url(url)
    ledger.reserve("unsent", Decimal("0.25"), {"model": MODEL, "provider": "gpt"}, time.time(), 5.0)
    print("reserved", flush=True)
    sys.stdin.readline()  # never answered: the test kills us here


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "calls":
        calls(args[0], args[1], int(args[2]), int(args[3]))
    elif command == "reserve":
        reserve(args[0])
    else:
        crash(args[0], args[1])
