"""Budgets hold under threads, processes and a killed process (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal

import pytest

from pricing import Catalog
from router import Budget, BudgetExceededError, Estimator, Ledger, ledger_from_url

from .conftest import ROOT
from .gateway_server import FakeGateway, Fault
from .ledger_workers import MODEL, REQUEST

TAGS = {"user": "load", "model": MODEL, "provider": "gpt"}


def test_100_threads_against_room_for_5(ledger: Ledger) -> None:
    """100 threads reserve 1 unit each against a limit of 5: exactly 5 succeed."""
    ledger.set_budget(Budget.parse("global", "5"))
    wins: list[str] = []
    barrier = threading.Barrier(100)

    def reserve(number: int) -> None:
        barrier.wait()
        try:
            ledger.reserve(f"c{number}", Decimal(1), TAGS, time.time())
            wins.append(f"c{number}")
        except BudgetExceededError:
            pass

    threads = [threading.Thread(target=reserve, args=(n,)) for n in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 5
    (status,) = ledger.status(time.time())
    assert status.reserved == 5


@pytest.mark.parametrize("over_report", [0, 3])
def test_16_processes_x_8_threads_never_overspend(shared_url: str, over_report: int) -> None:
    """16 processes x 8 threads x 2 calls through the real router and a loopback gateway:
    spent equals the sum of the ledger rows and never exceeds the limit; against a gateway
    reporting 3 x max_tokens of output, it exceeds the limit by no more than the excess the
    rows flag as reported above their reservation (the library's own accounting never does)."""
    worst = Estimator().estimate(REQUEST, MODEL).cost.high
    limit = worst * 40
    ledger = ledger_from_url(shared_url)
    ledger.set_budget(Budget.parse("user=load", limit, period="total"))
    with FakeGateway(over_report=over_report) as gateway:
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.ledger_workers",
                    "calls",
                    shared_url,
                    gateway.base_url,
                    "8",
                    "2",
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(16)
        ]
        outcomes = {"ok": 0, "refused": 0, "error": 0}
        for worker in workers:
            out, err = worker.communicate(timeout=240)
            assert worker.returncode == 0, err
            for key, value in json.loads(out.strip().splitlines()[-1]).items():
                outcomes[key] += value
    rows = ledger.rows()
    (status,) = ledger.status(time.time())
    ledger.close()
    assert outcomes["error"] == 0
    assert outcomes["ok"] + outcomes["refused"] == 16 * 8 * 2
    assert outcomes["ok"] == len(rows) > 0
    assert status.spent == sum((r.cost for r in rows), Decimal(0))
    flagged = [r for r in rows if r.cost > r.estimate_high]
    assert all("above the reservation" in r.note for r in flagged)
    excess = sum((r.cost - r.estimate_high for r in flagged), Decimal(0))
    assert (len(flagged) > 0) == (over_report > 0)
    assert status.spent - excess <= limit
    assert status.reserved == 0


def spawn(*args: str) -> subprocess.Popen[str]:
    """A ``tests.ledger_workers`` process, talking over pipes."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ledger_workers", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_process_killed_after_sending_is_billed_at_its_worst_case(shared_url: str) -> None:
    """SIGKILL while a sent call waits for its answer: the settled rows survive, the dead
    call's hold keeps counting past its time, and the next write to the ledger bills it as an
    orphaned row at its worst case (the gateway may have charged it): never free."""
    ledger = ledger_from_url(shared_url)
    ledger.set_budget(Budget.parse("global", "1", period="total"))
    with FakeGateway() as gateway:
        worker = spawn("crash", shared_url, gateway.base_url)
        assert worker.stdout is not None
        assert worker.stdin is not None
        assert worker.stdout.readline().strip() == "settled"
        gateway.queue(Fault("slow", seconds=30))  # before the fourth call can leave
        worker.stdin.write("go\n")
        worker.stdin.flush()
        deadline = time.time() + 30
        while len(gateway.received) < 4 and time.time() < deadline:
            time.sleep(0.02)
        assert len(gateway.received) == 4  # the fourth call is reserved and in flight
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=10)
        assert worker.returncode == -signal.SIGKILL
    rows = ledger.rows()
    assert len(rows) == 3
    spent = sum((r.cost for r in rows), Decimal(0))
    worst = Estimator(Catalog.bundled()).estimate(REQUEST, MODEL).cost.high
    later = time.time() + 6  # past the 5 s hold
    (held,) = ledger.status(later)
    assert (held.spent, held.reserved) == (spent, worst)  # still counted: it was sent
    ledger.reserve("next", Decimal(0), {}, later)  # any write bills what outlived its process
    (orphan,) = [r for r in ledger.rows() if r.status == "orphaned"]
    assert (orphan.cost, orphan.requested_model, orphan.estimate_high) == (worst, MODEL, worst)
    (billed,) = ledger.status(later)
    assert (billed.spent, billed.reserved) == (spent + worst, 0)
    assert billed.remaining == Decimal(1) - spent - worst
    ledger.close()


def test_a_process_killed_before_sending_leaves_nothing_billed(shared_url: str) -> None:
    """SIGKILL between reserve and send: the hold counts until its time is up, then frees
    itself, and no row is written (nothing reached the gateway)."""
    ledger = ledger_from_url(shared_url)
    ledger.set_budget(Budget.parse("global", "1", period="total"))
    worker = spawn("reserve", shared_url)
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "reserved"
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=10)
    (held,) = ledger.status(time.time())
    assert held.reserved == Decimal("0.25")
    later = time.time() + 6
    ledger.reserve("next", Decimal(0), {}, later)
    assert ledger.rows() == []
    (freed,) = ledger.status(later)
    assert (freed.spent, freed.reserved) == (0, 0)
    ledger.close()
