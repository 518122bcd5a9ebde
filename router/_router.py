"""The Router: estimate → route → send → meter, falling back along the ranked candidates.

A call is priced from the usage the gateway reports, at the snapshot that served it. A
response without usage is billed at the estimate's worst case and marked unmetered: never free.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import attrs

from pricing import Catalog, ModelSpec, Usage, price

from ._client import DEFAULT_BASE_URL, Attempt, GatewayClient
from ._estimate import Estimate
from ._gateway_errors import GatewayError
from ._policy import Allowance, Candidate, Decision, Policy
from ._request import Request
from ._response import Completion, parse_usage
from ._route import Selector
from ._wire import request_body


@attrs.frozen
class CallResult:
    """A finished call: what was asked, what answered, what it cost, and every attempt."""

    call_id: str
    model: str
    served_model: str
    texts: tuple[str, ...]
    finish_reasons: tuple[str | None, ...]
    usage: Usage | None
    cost: Decimal
    metered: bool
    estimate: Estimate
    attempts: tuple[Attempt, ...]
    seconds: float
    request_id: str | None = None

    @property
    def text(self) -> str:
        return self.texts[0] if self.texts else ""

    @property
    def status(self) -> str:
        """``ok`` when the gateway's usage priced the call, ``unmetered`` when it had none."""
        return "ok" if self.metered else "unmetered"


class Router:
    """Routes, sends and meters calls. Every collaborator can be passed in (tests, fleets)."""

    def __init__(
        self,
        *,
        catalog: Catalog | None = None,
        client: GatewayClient | None = None,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        selector: Selector | None = None,
        clock: Callable[[], float] = time.monotonic,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.catalog = catalog if catalog is not None else Catalog.bundled()
        self.selector = selector if selector is not None else Selector(self.catalog)
        self._client = client
        self._api_key = api_key
        self._base_url = base_url
        self._clock = clock
        self._new_id = new_id

    def __repr__(self) -> str:
        return f"Router(base_url={self._base_url!r}, models={len(self.catalog)})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> Router:
        """Configured from ``MEMORIES_API_KEY`` and ``MEMORIES_BASE_URL`` (arguments win)."""
        env = os.environ if environ is None else environ
        kwargs.setdefault("api_key", env.get("MEMORIES_API_KEY"))
        kwargs.setdefault("base_url", env.get("MEMORIES_BASE_URL") or DEFAULT_BASE_URL)
        return cls(**kwargs)

    @property
    def client(self) -> GatewayClient:
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
    ) -> Decision:
        """The route decision; ``model`` pins one model (the policy's checks still apply)."""
        policy = policy if policy is not None else Policy()
        if model is not None:
            policy = attrs.evolve(policy, models=frozenset({model}))
        return self.selector.route(request, policy, allowance)

    def call(
        self,
        request: Request,
        policy: Policy | None = None,
        *,
        model: str | None = None,
        allowance: Allowance | None = None,
    ) -> CallResult:
        """Send to the best candidate; on a failure worth it, the next one; meter the answer."""
        decision = self.plan(request, policy, model=model, allowance=allowance)
        call_id, started = self._new_id(), self._clock()
        attempts: list[Attempt] = []
        last_error: GatewayError | None = None
        for candidate in decision.candidates:
            spec = self.catalog.get(candidate.model)
            try:
                completion = self.client.complete(request_body(request, spec), attempts)
            except GatewayError as exc:
                exc.attempts = tuple(attempts)
                if not exc.fallback:
                    raise
                last_error = exc
                continue
            return self.meter(call_id, candidate, completion, attempts, self._clock() - started)
        assert last_error is not None  # decision.candidates is never empty
        raise last_error

    def meter(
        self,
        call_id: str,
        candidate: Candidate,
        completion: Completion,
        attempts: list[Attempt],
        seconds: float,
    ) -> CallResult:
        """Price the completion at the snapshot that served it, or at the worst case."""
        served = self._served(candidate.model, completion.served_model)
        if completion.usage is not None:
            cost, metered = price(served, completion.usage).total, True
        else:
            cost, metered = candidate.estimate.cost.high, False
        return CallResult(
            call_id=call_id,
            model=candidate.model,
            served_model=served.id,
            texts=completion.texts,
            finish_reasons=completion.finish_reasons,
            usage=completion.usage,
            cost=cost,
            metered=metered,
            estimate=candidate.estimate,
            attempts=tuple(attempts),
            seconds=seconds,
            request_id=completion.request_id,
        )

    def _served(self, requested: str, served_name: str | None) -> ModelSpec:
        if served_name and served_name in self.catalog:
            return self.catalog.get(served_name)
        return self.catalog.get(requested)

    def stream(
        self,
        request: Request,
        policy: Policy | None = None,
        *,
        model: str | None = None,
        allowance: Allowance | None = None,
    ) -> CallStream:
        """Start a streamed call (falling back only before the first byte)."""
        decision = self.plan(request, policy, model=model, allowance=allowance)
        attempts: list[Attempt] = []
        last_error: GatewayError | None = None
        for candidate in decision.candidates:
            body = request_body(request, self.catalog.get(candidate.model), stream=True)
            events = self.client.stream(body, attempts)
            try:
                first = next(events, None)
            except GatewayError as exc:
                exc.attempts = tuple(attempts)
                if not exc.fallback:
                    raise
                last_error = exc
                continue
            return CallStream(
                self, self._new_id(), candidate, first, events, attempts, self._clock()
            )
        assert last_error is not None
        raise last_error


class CallStream:
    """Iterate the text as it arrives; :attr:`result` is the metered call once it has ended.

    The gateway publishes no final-usage event for streams: when none arrives the call is
    billed at the worst case and marked unmetered.
    """

    def __init__(
        self,
        router: Router,
        call_id: str,
        candidate: Candidate,
        first: Mapping[str, Any] | None,
        events: Iterator[Mapping[str, Any]],
        attempts: list[Attempt],
        started: float,
    ) -> None:
        self._router, self.call_id, self.candidate = router, call_id, candidate
        self._first, self._events, self._attempts, self._started = first, events, attempts, started
        self._parts: list[str] = []
        self._usage: Usage | None = None
        self._served: str | None = None
        self.result: CallResult | None = None

    def __iter__(self) -> Iterator[str]:
        if self._first is not None:
            yield from self._take(self._first)
        for event in self._events:
            yield from self._take(event)
        completion = Completion(("".join(self._parts),), (None,), self._usage, self._served, None)
        seconds = self._router._clock() - self._started
        self.result = self._router.meter(
            self.call_id, self.candidate, completion, self._attempts, seconds
        )

    def _take(self, event: Mapping[str, Any]) -> Iterator[str]:
        if isinstance(event.get("model"), str):
            self._served = event["model"]
        usage = parse_usage(event.get("usage"))
        if usage is not None:
            self._usage = usage
        for choice in event.get("choices") or ():
            if not isinstance(choice, Mapping):
                continue
            delta = choice.get("delta")
            text = delta.get("content") if isinstance(delta, Mapping) else choice.get("text")
            if isinstance(text, str) and text:
                self._parts.append(text)
                yield text
