"""Test doubles: exercise routing, metering and budgets without a network or a database.

from router import MemoryLedger, Request, Router
from router.testing import FakeClient

client = FakeClient(input_tokens=1200, output_tokens=80)
router = Router(client=client, ledger=MemoryLedger())
result = router.call(Request.from_prompt("hi"), tags={"user": "alice"})
assert client.sent[0]["model"] == result.model
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pricing import Usage

from .gateway.errors import Attempt, GatewayError
from .gateway.response import Completion


class FakeClient:
    """Answers every request in process, the way the gateway would, and records the bodies.

    ``usage`` of None answers without usage (the call is then billed at its worst case).
    ``failures`` are raised, in order, by the first requests (a GatewayError each).
    """

    def __init__(
        self,
        *,
        text: str = "ok",
        input_tokens: int | None = 100,
        output_tokens: int = 20,
        served_model: str | None = None,
        failures: list[GatewayError] | None = None,
    ) -> None:
        self.text = text
        self.usage = None if input_tokens is None else Usage(input_tokens, output_tokens)
        self.served_model = served_model
        self.failures = list(failures or ())
        self.sent: list[Mapping[str, Any]] = []

    def complete(
        self, body: Mapping[str, Any], attempts: list[Attempt], *, seconds: float | None = None
    ) -> Completion:
        self.sent.append(body)
        model = str(body.get("model"))
        if self.failures:
            error = self.failures.pop(0)
            attempts.append(Attempt(model, error.status, error.message, 0.0))
            raise error
        attempts.append(Attempt(model, 200, None, 0.0))
        texts = tuple(self.text for _ in range(int(body.get("n", 1))))
        return Completion(
            texts, ("stop",) * len(texts), self.usage, self.served_model or model, "fake"
        )

    def stream(
        self, body: Mapping[str, Any], attempts: list[Attempt], *, seconds: float | None = None
    ) -> Iterator[Mapping[str, Any]]:
        completion = self.complete(body, attempts)
        for piece in re.findall(r"\S*\s*", completion.text)[:-1] or [""]:  # words with their spaces
            yield {"model": completion.served_model, "choices": [{"index": 0, "text": piece}]}
        if completion.usage is not None:
            usage = completion.usage
            yield {
                "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}
            }
