"""The Router: route → reserve → send → meter → settle, falling back along the ranked candidates.

Every attempt the gateway may have charged is recorded once, never free: a reservation is
marked sent as it is made, before its request leaves; an answer is metered (``metering``) and settled; an
answer lost after sending is billed at its worst case and the call moves on under a new
reservation; a failure the gateway did not process frees its hold. One deadline, shorter than
a hold, bounds the whole call.
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from pricing import Catalog, InputError, ModelSpec

from .alerts import AlertSender
from .gateway.client import DEFAULT_BASE_URL, GatewayClient, Transport
from .gateway.errors import Attempt, GatewayError
from .gateway.response import Completion
from .gateway.wire import request_body
from .ledger.alerts import Alert
from .ledger.base import (
    DEFAULT_HOLD_SECONDS,
    Ledger,
    LedgerError,
    UnrecordedCallError,
)
from .ledger.budgets import Budget, BudgetExceededError, BudgetStatus, call_tags, check_tags
from .ledger.urls import default_ledger_url, ledger_from_url
from .metering import CallResult, error_row, ledger_row, meter
from .request import Request
from .routing.policy import DEFAULT_POLICY, Allowance, Candidate, Decision, Policy
from .routing.selector import Selector
from .stream import CallStream

log = logging.getLogger("costrouter.router")
#: Seconds a call may take, every retry and fallback included (well below a hold's 300).
DEFAULT_DEADLINE = 120.0
#: Called with a soft budget a call crosses and the call's worst case in the budget's unit.
SoftLimitHook = Callable[[BudgetStatus, Decimal], None]
_Sent = TypeVar("_Sent", "CallResult", "CallStream[CallResult]")


@attrs.define
class _Call:
    """One call in progress: its id, when it started (monotonic clock, for durations, and wall
    clock, the one instant that dates it in budget windows and reports), every attempt."""

    id: str
    started: float
    now: float
    attempts: _Attempts
    deadline: float
    #: The number of the reservation in use: it moves on after an attempt that was billed.
    attempt: int = 1

    def left(self, clock: Callable[[], float]) -> float:
        """Seconds left of the call's deadline."""
        return self.started + self.deadline - clock()


def catalog_from_env(environ: Mapping[str, str]) -> Catalog:
    """The bundled catalog overlaid by the files ``COSTROUTER_CATALOG`` lists (``os.pathsep``
    between them), as the command line reads it."""
    overlays = [path for path in environ.get("COSTROUTER_CATALOG", "").split(os.pathsep) if path]
    return Catalog.load(overlays) if overlays else Catalog.bundled()


class _Attempts(list[Attempt]):
    """A call's attempts, each handed to ``on_attempt`` as it is recorded (the CLI prints a
    line per failed one as it happens)."""

    def __init__(self, on_attempt: Callable[[Attempt], None] | None) -> None:
        super().__init__()
        self.on_attempt = on_attempt

    def append(self, attempt: Attempt) -> None:
        super().append(attempt)
        if self.on_attempt is not None:
            self.on_attempt(attempt)


class Router:
    """Routes, sends and meters calls. Every collaborator can be passed in (tests, fleets).

    With a ledger, estimates follow the calibration stored in it (``costrouter calibrate
    --apply``), and budgets' alerts fire after the calls that cross them; both are read again
    every ``calibration_seconds``. ``trust_calibration`` lets the calibration lower worst cases
    too (see :mod:`router.estimate.calibration` for what that risks). Alerts go to
    ``on_alert`` and the budget's webhook from a background thread (``alerts``, an
    :class:`~router.alerts.AlertSender`), never from the call's."""

    def __init__(
        self,
        *,
        catalog: Catalog | None = None,
        client: Transport | None = None,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        selector: Selector | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        ledger: Ledger | None = None,
        hold_seconds: float = DEFAULT_HOLD_SECONDS,
        on_soft_limit: SoftLimitHook | None = None,
        deadline: float | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
        calibration_seconds: float = 60.0,
        trust_calibration: bool = False,
        on_alert: Callable[[Alert], None] | None = None,
        alerts: AlertSender | None = None,
    ) -> None:
        if deadline is None:  # 120 s, or less when holds are short: it must end before them
            deadline = min(DEFAULT_DEADLINE, hold_seconds / 2)
        if not 0 < deadline < hold_seconds:
            raise InputError(
                f"a call's deadline ({deadline} s) must be above 0 and below how long its hold "
                f"lasts ({hold_seconds} s), so no hold expires under a running call"
            )
        if selector is None:
            selector = Selector(catalog)
        elif catalog is not None and catalog is not selector.catalog:
            raise InputError(
                "the router's catalog and its selector's differ: pass one of them (the router "
                "prices calls with the catalog its selector estimates with)"
            )
        self.selector = selector
        self._client = client
        self._api_key = api_key
        self._base_url = base_url
        self._clock = clock
        self._wall_clock = wall_clock
        self._new_id = new_id
        self.ledger = ledger
        self.hold_seconds = hold_seconds
        self.on_soft_limit = on_soft_limit
        self.deadline = deadline
        self.on_attempt = on_attempt
        self.calibration_seconds = calibration_seconds
        self.trust_calibration = trust_calibration
        self._calibration_read = -math.inf
        self.alerts = alerts if alerts is not None else AlertSender(on_alert)
        self._alerting: tuple[Budget, ...] = ()

    def __repr__(self) -> str:
        return f"Router(base_url={self._base_url!r}, models={len(self.catalog)})"

    @property
    def catalog(self) -> Catalog:
        """The catalog calls are routed over and priced with: the selector's."""
        return self.selector.catalog

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> Router:
        """Configured as the command line is (arguments win): the key and base URL from
        ``MEMORIES_API_KEY`` and ``MEMORIES_BASE_URL``, the catalog overlaid by
        ``COSTROUTER_CATALOG``'s files, and the ledger ``COSTROUTER_LEDGER`` names, else the
        default SQLite file, so calls made here are budgeted and reported like the CLI's."""
        env = os.environ if environ is None else environ
        kwargs.setdefault("api_key", env.get("MEMORIES_API_KEY"))
        kwargs.setdefault("base_url", env.get("MEMORIES_BASE_URL") or DEFAULT_BASE_URL)
        if "catalog" not in kwargs and "selector" not in kwargs:
            kwargs["catalog"] = catalog_from_env(env)
        if "ledger" not in kwargs:
            kwargs["ledger"] = ledger_from_url(default_ledger_url(env))
        return cls(**kwargs)

    @property
    def client(self) -> Transport:
        if self._client is None:
            self._client = GatewayClient(self._api_key or "", self._base_url)
        return self._client

    def plan(
        self,
        request: Request,
        policy: Policy | None = None,
        *,
        model: str | None = None,
        allowance: Allowance | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Decision:
        """The route decision; ``model`` pins one model (the policy's checks still apply).
        With a ledger, estimates use the calibration stored in it (re-read every
        ``calibration_seconds``); ``tags`` pick its learned output per tag."""
        policy = policy if policy is not None else DEFAULT_POLICY
        if model is not None:
            policy = attrs.evolve(policy, models=frozenset({model}))
        self._follow_calibration()
        return self.selector.route(request, policy, allowance, tags)

    def _follow_calibration(self) -> None:
        """Take the ledger's newest calibration into the estimator when its version changed,
        and note which budgets have alerts."""
        now = self._clock()
        if self.ledger is None or now - self._calibration_read < self.calibration_seconds:
            return
        self._calibration_read = now
        self._alerting = tuple(b for b in self.ledger.budgets() if b.alerts)
        stored = self.ledger.calibration()
        if stored is not None and self.trust_calibration:
            stored = attrs.evolve(stored, trust_high=True)
        estimator = self.selector.estimator
        current = estimator.calibration
        if (stored and stored.version) != (current and current.version):
            self.selector.estimator = attrs.evolve(estimator, calibration=stored)

    def call(
        self,
        request: Request,
        policy: Policy | None = None,
        *,
        model: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> CallResult:
        """Reserve, send, fall back, meter and settle one call.

        With a ledger, each candidate's worst case is reserved against every budget its tags
        match before anything is sent: a hard budget that cannot cover the cheapest candidate
        raises :class:`BudgetExceededError` (nothing sent) unless ``policy.fit_budget``, which
        takes the cheapest candidate it can cover. A fallback re-reserves for its own model.
        """

        def send(call: _Call, candidate: Candidate, tags: dict[str, str]) -> CallResult:
            body = request_body(request, self.catalog.get(candidate.model))
            completion = self.client.complete(body, call.attempts, seconds=call.left(self._clock))
            return self._finish(call, candidate, tags, completion)

        return self._fallback(request, policy, model, tags, send)

    def stream(
        self,
        request: Request,
        policy: Policy | None = None,
        *,
        model: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> CallStream[CallResult]:
        """Start a streamed call: reserved like :meth:`call`, falling back only before the
        first byte, settled when the stream ends."""

        def send(call: _Call, candidate: Candidate, tags: dict[str, str]) -> CallStream[CallResult]:
            body = request_body(request, self.catalog.get(candidate.model), stream=True)
            events = self.client.stream(body, call.attempts, seconds=call.left(self._clock))
            first = next(events, None)  # a failure before the first byte raises here

            def finish(completion: Completion, note: str) -> CallResult:
                return self._finish(call, candidate, tags, completion, note)

            return CallStream(call.id, candidate, first, events, finish)

        return self._fallback(request, policy, model, tags, send)

    def _fallback(
        self,
        request: Request,
        policy: Policy | None,
        model: str | None,
        tags: Mapping[str, str] | None,
        send: Callable[[_Call, Candidate, dict[str, str]], _Sent],
    ) -> _Sent:
        """The one fallback loop of :meth:`call` and :meth:`stream`: ``send`` each reserved
        candidate in turn, at most ``policy.max_models`` of them and within the call's
        deadline, until one answers. A gateway error is billed at the attempt's worst case when
        the gateway may have charged it, else frees its hold (``_failed``), then moves on, or
        stops the call: when every model would fail alike, when the deadline has passed,
        and when the gateway asks to wait longer than the deadline leaves (a long Retry-After
        is the account's, not the model's). When none answers, the last failure is recorded as
        the call's error row and raised."""
        policy = policy if policy is not None else DEFAULT_POLICY
        tags = check_tags(tags or {})
        decision = self.plan(request, policy, model=model, tags=tags)
        attempts = _Attempts(self.on_attempt)
        call = _Call(self._new_id(), self._clock(), self._wall_clock(), attempts, self.deadline)
        last: tuple[Candidate, dict[str, str], GatewayError] | None = None
        for candidate, tagged in self._reserved(decision, policy, call, tags):
            try:
                return send(call, candidate, tagged)
            except GatewayError as exc:
                self._failed(call, candidate, tagged, exc)
                last = (candidate, tagged, exc)
                left = call.left(self._clock)
                if not exc.fallback or left <= 0 or (exc.retry_after or 0) >= left:
                    break
        assert last is not None  # _reserved raises when it yields nothing
        failed, failed_tags, error = last
        if self.ledger is not None:
            row = error_row(
                failed,
                failed_tags,
                call_id=call.id,
                attempt=call.attempt,
                started=call.now,
                seconds=self._clock() - call.started,
                attempts=len(call.attempts),
            )
            self.ledger.release(call.id, call.now, row, attempt=call.attempt)
        raise error

    def _failed(
        self, call: _Call, candidate: Candidate, tags: dict[str, str], error: GatewayError
    ) -> None:
        """Account for a failed attempt: one the gateway may have charged (the request was
        sent and its answer lost or unusable) is recorded at its worst case, and the call's
        next attempt gets a reservation of its own; one it did not charge frees its hold."""
        if error.charged:
            lost = Completion((), (), None, None, None)
            self._finish(call, candidate, tags, lost, f"no usable answer: {error.message}")
            call.attempt += 1
        else:
            self._set_cost(call, Decimal(0))
            if self.ledger is not None:
                self.ledger.release(call.id, call.now, attempt=call.attempt)
        error.attempts = tuple(call.attempts)

    @staticmethod
    def _set_cost(call: _Call, cost: Decimal) -> None:
        """What the call's latest attempt was billed, on its Attempt record; the tries before
        it on the same reservation were retried because nothing reached the gateway: 0."""
        for index, attempt in enumerate(call.attempts):
            if attempt.cost is None:
                last = index == len(call.attempts) - 1
                call.attempts[index] = attrs.evolve(attempt, cost=cost if last else Decimal(0))

    def _finish(
        self,
        call: _Call,
        candidate: Candidate,
        tags: dict[str, str],
        completion: Completion,
        note: str = "",
    ) -> CallResult:
        """Meter the answer (or the lost one, at the worst case) and settle its attempt."""
        result = self._meter(call, candidate, completion, tags, note)
        self._set_cost(call, result.cost)
        result = attrs.evolve(result, attempts=tuple(call.attempts))
        if self.ledger is not None:
            try:
                self.ledger.settle(ledger_row(result, call.now), call.now)
            except LedgerError as exc:  # the answer is not lost with the record
                raise UnrecordedCallError(result, exc) from exc
            self._fire_alerts(tags, call.now)
        return result

    def _fire_alerts(self, tags: Mapping[str, str], now: float) -> None:
        """Claim the alerts the settled call may have crossed and hand them to the sender; a
        failing check is logged, never the call's failure."""
        budgets = {b.key for b in self._alerting if b.applies_to(tags)}
        if not budgets or self.ledger is None:
            return
        try:
            self.alerts.send(self.ledger.claim_alerts(now, budgets))
        except LedgerError as exc:
            log.warning("budget alerts not checked after a call: %s", exc)

    def _reserved(
        self, decision: Decision, policy: Policy, call: _Call, tags: Mapping[str, str]
    ) -> Iterator[tuple[Candidate, dict[str, str]]]:
        """The candidates to try, in order, at most ``policy.max_models`` of them, each with
        its worst case reserved (with a ledger).

        A budget refusing the first candidate raises, unless ``policy.fit_budget``; refused
        fallbacks are skipped. If none could be reserved, the first refusal is raised."""
        refused: BudgetExceededError | None = None
        tried = 0
        for index, candidate in enumerate(decision.candidates):
            if tried == policy.max_models:
                return
            spec = self.catalog.get(candidate.model)
            tagged = call_tags(tags, spec.id, spec.snapshot_of)
            if self.ledger is not None:
                try:
                    self._reserve(call, candidate, tagged)
                except BudgetExceededError as exc:
                    if index == 0 and not policy.fit_budget:
                        raise
                    refused = refused or exc
                    continue
            tried += 1
            yield candidate, tagged
        if tried == 0 and refused is not None:
            raise refused

    def _reserve(self, call: _Call, candidate: Candidate, tags: Mapping[str, str]) -> None:
        """Hold the candidate's worst case in the budget windows of the call's instant; the hold
        lasts ``hold_seconds`` from now, so a fallback's hold is dated from its own reservation.
        It is marked sent as it is made (the request leaves next, with nothing between that
        can fail but building its body): one round trip a call, and a process killed in that
        instant is billed the worst case of a call it never sent, never the reverse."""
        assert self.ledger is not None
        held_for = self.hold_seconds + (self._wall_clock() - call.now)
        estimate = candidate.estimate
        worst, tokens = estimate.cost.high, estimate.input_tokens.high + estimate.output_tokens.high
        reservation = self.ledger.reserve(
            call.id, worst, tags, call.now, held_for, attempt=call.attempt, sent=True, tokens=tokens
        )
        for status in reservation.warnings:
            budget, amount = status.budget, status.budget.charge(worst, tokens)
            log.warning(
                "soft budget %s (%s) crossed: limit %s, spent %s, reserved %s, this call up to %s",
                budget.scope_text,
                budget.period_text,
                budget.show(budget.limit),
                budget.show(status.spent),
                budget.show(status.reserved),
                budget.show(amount),
            )
            if self.on_soft_limit is not None:
                self.on_soft_limit(status, amount)

    def _meter(
        self,
        call: _Call,
        candidate: Candidate,
        completion: Completion,
        tags: Mapping[str, str],
        note: str = "",
    ) -> CallResult:
        served = self._served(candidate.model, completion.served_model)
        return meter(
            completion,
            candidate,
            served,
            call_id=call.id,
            attempt=call.attempt,
            tags=tags,
            attempts=tuple(call.attempts),
            seconds=self._clock() - call.started,
            note=note,
        )

    def _served(self, requested: str, served_name: str | None) -> ModelSpec:
        if served_name and served_name in self.catalog:
            return self.catalog.get(served_name)
        return self.catalog.get(requested)
