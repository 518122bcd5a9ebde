"""Deliver fired budget alerts off the call path: to a Python callback and to the budget's
webhook (a JSON POST with a timeout, retried), from one background thread per sender.

The ledger decides which process fires an alert (once per window across all of them); this
only delivers what it was given, in order. A callback that raises is logged and skipped; a
webhook that hangs or fails costs its own thread time, never a call's.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .ledger.alerts import Alert

log = logging.getLogger("costrouter.alerts")

#: Seconds a webhook may take to answer, and how many times it is tried (waiting 0.5 s, 1 s...).
WEBHOOK_TIMEOUT = 5.0
WEBHOOK_ATTEMPTS = 3


class AlertSender:
    """Queues alerts and delivers them from a daemon thread started on the first alert.

    ``post(url, document, timeout)`` sends a webhook and returns its HTTP status; by default a
    ``requests`` POST. ``sleep`` waits between retries (tests pass their own)."""

    def __init__(
        self,
        on_alert: Callable[[Alert], None] | None = None,
        *,
        post: Callable[[str, dict[str, Any], float], int] | None = None,
        timeout: float = WEBHOOK_TIMEOUT,
        attempts: int = WEBHOOK_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.on_alert = on_alert
        self._post = post or _post
        self.timeout = timeout
        self.attempts = attempts
        self._sleep = sleep
        self._queue: queue.Queue[Alert] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, alerts: Iterable[Alert]) -> None:
        """Queue ``alerts`` for delivery; returns at once."""
        for alert in alerts:
            self._queue.put(alert)
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="costrouter-alerts", daemon=True
                    )
                    self._thread.start()

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every queued alert to be delivered (a command
        that exits after its call uses it); True if none is left."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._queue.unfinished_tasks

    def _run(self) -> None:
        while True:
            alert = self._queue.get()
            try:
                self._deliver(alert)
            finally:
                self._queue.task_done()

    def _deliver(self, alert: Alert) -> None:
        if self.on_alert is not None:
            try:
                self.on_alert(alert)
            except Exception:  # a user's callback: logged, never fatal to the sender
                log.exception("alert callback failed for %s", alert.budget.scope_text)
        url = alert.budget.webhook
        if url is None:
            return
        document = alert.document()
        for attempt in range(self.attempts):
            try:
                status = self._post(url, document, self.timeout)
            except OSError as exc:  # requests' errors are OSErrors
                problem = str(exc)
            else:
                if status < 300:
                    return
                problem = f"HTTP {status}"
            if attempt + 1 < self.attempts:
                self._sleep(0.5 * 2**attempt)
        log.warning(
            "alert %s of %s not delivered to its webhook after %d tries: %s",
            alert.alert,
            alert.budget.scope_text,
            self.attempts,
            problem,
        )


def _post(url: str, document: dict[str, Any], timeout: float) -> int:
    import requests

    response = requests.post(url, json=document, timeout=timeout)
    return int(response.status_code)
