"""A streamed call: text as it arrives, metered and settled when the stream ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from pricing import Usage

from .gateway.response import Completion, parse_usage
from .routing.policy import Candidate

#: What the stream's ``finish`` makes of it: the Router's :class:`~router.CallResult`.
Result = TypeVar("Result")


class CallStream(Generic[Result]):
    """Iterate the text as it arrives; :attr:`result` is the metered call once it has ended.

    ``finish`` is called once, with what the stream carried, when it ends: it meters and settles
    the call and returns the result (the Router passes it in; the stream knows nothing else of
    the Router). The gateway publishes no final-usage event for streams: when none arrives the
    call is billed at the worst case and marked unmetered.
    """

    def __init__(
        self,
        call_id: str,
        candidate: Candidate,
        first: Mapping[str, Any] | None,
        events: Iterator[Mapping[str, Any]],
        finish: Callable[[Completion], Result],
    ) -> None:
        self.call_id, self.candidate = call_id, candidate
        self._first, self._events, self._finish = first, events, finish
        self._parts: list[str] = []
        self._usage: Usage | None = None
        self._served: str | None = None
        self.result: Result | None = None

    def __iter__(self) -> Iterator[str]:
        if self._first is not None:
            yield from self._take(self._first)
        for event in self._events:
            yield from self._take(event)
        completion = Completion(("".join(self._parts),), (None,), self._usage, self._served, None)
        self.result = self._finish(completion)

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
