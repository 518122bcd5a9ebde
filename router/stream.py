"""A streamed call: text as it arrives, metered and settled when the stream ends."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pricing import Usage

from .gateway.client import Attempt
from .gateway.response import Completion, parse_usage
from .routing.policy import Candidate

if TYPE_CHECKING:
    from .router import CallResult, Router


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
        tags: Mapping[str, str],
    ) -> None:
        self._router, self.call_id, self.candidate, self._tags = router, call_id, candidate, tags
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
            self.call_id, self.candidate, completion, self._attempts, seconds, self._tags
        )
        if self._router.ledger is not None:
            self._router.ledger.settle(self._router.row(self.result), self._router._wall_clock())

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
