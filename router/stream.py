"""A streamed call: text as it arrives, metered and settled when the stream ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from pricing import Usage

from .gateway.errors import GatewayError
from .gateway.response import Completion, parse_usage
from .routing.policy import Candidate

#: What the stream's ``finish`` makes of it: the Router's :class:`~router.CallResult`.
Result = TypeVar("Result")


class CallStream(Generic[Result]):
    """Iterate the text as it arrives; :attr:`result` is the metered call once it has ended.

    ``finish(completion, note)`` is called once, with what the stream carried, when it ends:
    it meters and settles the call and returns the result (the Router passes it in; the stream
    knows nothing else of the Router). The gateway publishes no final-usage event for streams:
    when none arrives the call is billed at the worst case and marked unmetered. A stream cut
    short, or closed (``close()``, or leaving a ``with`` block) before its end, is settled the
    same way at once, with a note saying so; one dropped unread is billed when its hold's time
    is up. Use it as a context manager.
    """

    def __init__(
        self,
        call_id: str,
        candidate: Candidate,
        first: Mapping[str, Any] | None,
        events: Iterator[Mapping[str, Any]],
        finish: Callable[[Completion, str], Result],
    ) -> None:
        self.call_id, self.candidate = call_id, candidate
        self._first, self._events, self._finish = first, events, finish
        self._parts: list[str] = []
        self._usage: Usage | None = None
        self._served: str | None = None
        self.result: Result | None = None

    def __iter__(self) -> Iterator[str]:
        if self.result is not None:
            return
        try:
            if self._first is not None:
                yield from self._take(self._first)
            for event in self._events:
                yield from self._take(event)
        except GatewayError as exc:  # cut after it began: the text so far, at the worst case
            self._end(f"the stream was cut: {exc.message}", usage=False)
            raise
        self._end("")

    def close(self) -> None:
        """End the stream now; if it had not ended, it is settled at its worst case."""
        if self.result is None:
            close = getattr(self._events, "close", None)
            if close is not None:
                close()
            self._end("closed before its end", usage=False)

    def __enter__(self) -> CallStream[Result]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _end(self, note: str, *, usage: bool = True) -> None:
        if self.result is None:
            text = "".join(self._parts)
            completion = Completion(
                (text,), (None,), self._usage if usage else None, self._served, None
            )
            self.result = self._finish(completion, note)

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
