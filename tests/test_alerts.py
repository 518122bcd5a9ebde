"""Budget alerts: thresholds and a forecast, each fired once per window across every process,
delivered to a callback and a webhook off the call path."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from router import Budget, Ledger, LedgerRow, Request, Router, ledger_from_url
from router.alerts import AlertSender
from router.ledger.alerts import Alert
from router.testing import FakeClient

from .conftest import RunCli

DAY = 1_764_633_600.0  # 2025-12-02 00:00 UTC


def _row(call_id: str, cost: str, ts: float) -> LedgerRow:
    return LedgerRow(
        call_id=call_id, ts=ts, requested_model="gpt:gpt-4o", served_model="gpt:gpt-4o",
        tags=(), input_tokens=1, output_tokens=1, cached_tokens=0, reasoning_tokens=0,
        estimate_low=Decimal(0), estimate_expected=Decimal(0), estimate_high=Decimal(1),
        cost=Decimal(cost), status="ok", latency=0.1, attempts=1,
    )  # fmt: skip


def test_thresholds_fire_once_per_window(ledger: Ledger) -> None:
    """50 % and 80 % of a $1 daily budget: each fires when settled spend reaches it, once;
    the next day's window starts over."""
    ledger.set_budget(Budget.parse("global", "1", period="day", alerts="50,80,100"))
    noon = DAY + 43_200
    ledger.settle(_row("a", "0.30", noon), noon)
    assert ledger.claim_alerts(noon) == []
    ledger.settle(_row("b", "0.30", noon), noon)
    [half] = ledger.claim_alerts(noon)
    assert (half.alert, half.spent, half.window) == ("50", Decimal("0.6"), "2025-12-02")
    assert ledger.claim_alerts(noon) == []  # once per window
    ledger.settle(_row("c", "0.25", noon), noon)
    assert [a.alert for a in ledger.claim_alerts(noon)] == ["80"]
    assert [a.alert for a in ledger.fired_alerts(noon)] == ["50", "80"]
    tomorrow = noon + 86_400
    assert ledger.fired_alerts(tomorrow) == []
    ledger.settle(_row("d", "0.55", tomorrow), tomorrow)
    assert [a.alert for a in ledger.claim_alerts(tomorrow)] == ["50"]


def test_the_forecast_alert_fires_when_the_pace_would_run_out(ledger: Ledger) -> None:
    """At 06:00, $0.30 spent of a $1 day: the pace would reach $1.20 by midnight, so the
    forecast fires (once); at the same spend by 20:00 it would not."""
    ledger.set_budget(Budget.parse("global", "1", period="day", alerts="forecast"))
    morning = DAY + 6 * 3600
    ledger.settle(_row("a", "0.30", morning), morning)
    [alert] = ledger.claim_alerts(morning)
    assert alert.alert == "forecast"
    assert ledger.claim_alerts(morning) == []
    other = Budget.parse("user=slow", "1", period="day", alerts="forecast")
    ledger.set_budget(other)
    evening = DAY + 86_400 + 20 * 3600
    ledger.settle(attrs_evolve(_row("b", "0.30", evening), tags=(("user", "slow"),)), evening)
    assert [a for a in ledger.claim_alerts(evening) if a.budget.scope_text == "user=slow"] == []


def attrs_evolve(row: LedgerRow, **changes: Any) -> LedgerRow:
    import attrs

    return attrs.evolve(row, **changes)


def _cross(url: str, index: int, start: Any, out: Any) -> None:
    """One process: settle a call that, with the others, crosses 80 %, then claim alerts."""
    ledger = ledger_from_url(url)
    start.wait()
    noon = DAY + 43_200
    ledger.settle(_row(f"p{index}", "0.06", noon), noon)
    claimed = ledger.claim_alerts(noon)
    ledger.close()
    out.put([a.alert for a in claimed])


def test_sixteen_processes_crossing_80_percent_fire_one_alert(shared_url: str) -> None:
    """16 processes settle at once into a $1 budget with alerts at 50 % and 80 % ($0.96 in
    all): each alert fires in exactly one of them, whichever it is."""
    setup = ledger_from_url(shared_url)
    setup.set_budget(Budget.parse("global", "1", period="day", alerts="50,80"))
    setup.close()
    context = multiprocessing.get_context("fork")
    start, out = context.Barrier(16), context.Queue()
    workers = [context.Process(target=_cross, args=(shared_url, i, start, out)) for i in range(16)]
    for worker in workers:
        worker.start()
    fired = [alert for _ in workers for alert in out.get(timeout=60)]
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(fired) == ["50", "80"]
    check = ledger_from_url(shared_url)
    assert sorted(a.alert for a in check.fired_alerts(DAY + 43_200)) == ["50", "80"]
    check.close()


class _Receiver:
    """A loopback webhook: records each POST; can hang or fail first."""

    def __init__(self, *, hang: float = 0.0, fail: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail = fail
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(hang)
                if receiver.fail > 0:
                    receiver.fail -= 1
                    self.send_response(500)
                else:
                    receiver.received.append(body)
                    self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> _Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_hanging_webhook_does_not_delay_the_call(ledger: Ledger) -> None:
    """The receiver takes 2 s to answer: the call that fires the alert returns well before;
    the callback and the webhook get the alert after, from the sender's thread."""
    with _Receiver(hang=2.0) as receiver:
        ledger.set_budget(
            Budget.parse(
                "global", "0.000001", period="day", soft=True, alerts="100", webhook=receiver.url
            )
        )
        got: list[Alert] = []
        router = Router(
            client=FakeClient(input_tokens=50_000, output_tokens=5_000),
            ledger=ledger,
            on_alert=got.append,
            calibration_seconds=0,
        )
        router.call(Request.from_prompt("warm up"), model="gpt:gpt-4o-mini")  # crosses 100 %
        assert router.alerts.drain(10)
        got.clear()
        receiver.received.clear()
        ledger.delete_budget("global")  # a fresh budget: its 100 % alert not fired yet
        ledger.set_budget(
            Budget.parse(
                "user=ann", "0.000001", period="day", soft=True, alerts="100", webhook=receiver.url
            )
        )
        started = time.monotonic()
        router.call(Request.from_prompt("hi"), model="gpt:gpt-4o-mini", tags={"user": "ann"})
        took = time.monotonic() - started
        assert took < 1.5, took
        assert router.alerts.drain(10)
        assert [a.alert for a in got] == ["100"]
        assert [body["alert"] for body in receiver.received] == ["100"]
        assert receiver.received[0]["scope"] == "user=ann"


def test_a_failing_webhook_is_retried_then_given_up(caplog: pytest.LogCaptureFixture) -> None:
    """A receiver answering 500 twice gets the alert on the third try; one failing three
    times is given up with one warning; neither raises anywhere."""
    budget = Budget.parse("global", "1", alerts="80")
    waits: list[float] = []
    with _Receiver(fail=2) as receiver:
        sender = AlertSender(sleep=waits.append)
        hooked = Budget.parse("global", "1", alerts="80", webhook=receiver.url)
        sender.send([Alert(hooked, "2025-12", "80", Decimal("0.9"), DAY)])
        assert sender.drain(10)
        assert len(receiver.received) == 1
        assert waits == [0.5, 1.0]
    with _Receiver(fail=3) as receiver:
        sender = AlertSender(sleep=waits.append)
        hooked = Budget.parse("global", "1", alerts="80", webhook=receiver.url)
        sender.send([Alert(hooked, "2025-12", "80", Decimal("0.9"), DAY)])
        assert sender.drain(10)
        assert receiver.received == []
    assert any(
        "not delivered to its webhook after 3 tries" in r.getMessage() for r in caplog.records
    )
    assert budget.webhook is None


def test_cli_budget_alerts(tmp_path: Path, run_cli: RunCli) -> None:
    """`budget set --alert` stores the thresholds (a bad one is exit 2); `budget list` shows
    which fired this window."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    bad = run_cli(
        "budget", "set", "global", "--limit", "1", "--alert", "50,eighty", "--ledger", url
    )
    assert bad.code == 2
    assert "budget alert 'eighty'" in bad.err
    done = run_cli(
        "budget", "set", "global", "--limit", "1", "--period", "day", "--alert", "80,50",
        "--webhook", "http://127.0.0.1:9/hook", "--ledger", url,
    )  # fmt: skip
    assert done.code == 0, done.err
    assert "alerts at 50, 80" in done.out
    ledger = ledger_from_url(url)
    now = time.time()
    ledger.settle(_row("a", "0.6", now), now)
    ledger.claim_alerts(now)
    ledger.close()
    listed = run_cli("budget", "list", "--ledger", url, "--json").json()
    assert listed[0]["alerts"] == ["50", "80"]
    assert listed[0]["fired"] == ["50"]
    assert "50" in run_cli("budget", "list", "--ledger", url).out
