"""The shipped test doubles let users test budget logic with no network and no database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from router import (
    Budget,
    BudgetExceededError,
    GatewayError,
    MemoryLedger,
    Request,
    Router,
    ServerError,
)
from router.testing import FakeClient


def test_fake_client_and_memory_ledger_meter_a_call() -> None:
    """A call through FakeClient is priced from its usage and recorded in the memory ledger."""
    client = FakeClient(input_tokens=1000, output_tokens=100)
    ledger = MemoryLedger()
    router = Router(client=client, ledger=ledger)
    result = router.call(Request.from_prompt("hi"), model="gpt:gpt-4o", tags={"user": "ann"})
    assert client.sent[0]["model"] == "gpt:gpt-4o"
    assert result.cost == Decimal("0.0025") + Decimal("0.001")
    (row,) = ledger.rows()
    assert (row.cost, row.tag_map["user"]) == (result.cost, "ann")


def test_fake_failures_drive_fallback_and_budgets_refuse() -> None:
    """Scripted failures make the router fall back; a tiny budget refuses before sending."""
    client = FakeClient(failures=[ServerError("down", status=500)])
    router = Router(client=client, ledger=MemoryLedger())
    result = router.call(Request.from_prompt("hi"))
    assert len(client.sent) == 2
    assert result.model == client.sent[1]["model"] != client.sent[0]["model"]
    assert router.ledger is not None
    router.ledger.set_budget(Budget.parse("global", "0.000000001"))
    with pytest.raises(BudgetExceededError):
        router.call(Request.from_prompt("hi"))
    assert len(client.sent) == 2


@pytest.mark.parametrize("text", ["one two three", "  spaced\n out  ", "x", ""])
def test_fake_stream_keeps_the_text_like_the_real_client(text: str) -> None:
    """FakeClient streams word by word, each word with its spaces, so the pieces join to the
    text a completed call would return (as the gateway's stream does)."""
    client = FakeClient(text=text)
    stream = Router(client=client).stream(Request.from_prompt("hi"), model="gpt:gpt-4o")
    pieces = list(stream)
    assert "".join(pieces) == text
    assert all(len(piece.split()) <= 1 for piece in pieces)  # one word a piece
    assert stream.result is not None
    assert stream.result.text == text


def test_fake_stream_and_missing_usage() -> None:
    """FakeClient streams word by word; without usage the call bills its worst case."""
    router = Router(client=FakeClient(text="one two three", input_tokens=None))
    stream = router.stream(Request.from_prompt("hi"), model="qwen:qwen3-vl-flash")
    assert "".join(stream) == "one two three"
    assert stream.result is not None
    assert stream.result.cost == stream.result.estimate.cost.high


def test_a_reused_call_id_is_refused_before_sending() -> None:
    """A Router whose new_id repeats itself sends the first call and refuses the second before
    anything is sent, so no answer goes unrecorded."""
    from router import InputError

    client = FakeClient()
    ledger = MemoryLedger()
    router = Router(client=client, ledger=ledger, new_id=lambda: "same")
    router.call(Request.from_prompt("hi"), model="gpt:gpt-4o")
    with pytest.raises(InputError, match="already recorded"):
        router.call(Request.from_prompt("hi again"), model="gpt:gpt-4o")
    assert len(client.sent) == 1
    assert [r.call_id for r in ledger.rows()] == ["same"]


def _failing(error: GatewayError, times: int = 40) -> FakeClient:
    return FakeClient(failures=[error] * times)


def test_a_call_tries_at_most_max_models() -> None:
    """Against a gateway failing everywhere, a call tries policy.max_models models (3 by
    default), reports each attempt as it happens, and records one error row."""
    from router import Policy

    seen: list[str] = []
    client = _failing(ServerError("down", status=500))
    ledger = MemoryLedger()
    router = Router(client=client, ledger=ledger, on_attempt=lambda a: seen.append(a.model))
    with pytest.raises(ServerError) as info:
        router.call(Request.from_prompt("hi"))
    assert len({body["model"] for body in client.sent}) == 3
    assert seen == [body["model"] for body in client.sent] == [a.model for a in info.value.attempts]
    assert [r.status for r in ledger.rows()] == ["error"]
    client = _failing(ServerError("down", status=500))
    with pytest.raises(ServerError):
        Router(client=client).call(Request.from_prompt("hi"), Policy(max_models=1))
    assert len(client.sent) == 1


def test_errors_that_every_model_would_repeat_are_not_fanned_out() -> None:
    """Invalid parameters (400) and a Retry-After longer than the call's deadline stop the
    call at the first model."""
    from router import InvalidParametersError, RateLimitError

    for error in (
        InvalidParametersError("invalid parameters", status=400),
        RateLimitError("slow down", status=429, retry_after=3600),
    ):
        client = _failing(error)
        with pytest.raises(type(error)):
            Router(client=client).call(Request.from_prompt("hi"))
        assert len(client.sent) == 1, error


def test_no_fallback_starts_after_the_deadline() -> None:
    """Once the call's deadline has passed, a failure is final: no other model is tried."""
    from router import Policy

    now = [0.0]

    class Slow(FakeClient):
        def complete(self, body: Any, attempts: Any, *, seconds: float | None = None) -> Any:
            now[0] += 50.0  # each try takes 50 s of the call's 120
            return super().complete(body, attempts, seconds=seconds)

    client = Slow(failures=[ServerError("down", status=500)] * 5)
    with pytest.raises(ServerError):
        Router(client=client, clock=lambda: now[0]).call(
            Request.from_prompt("hi"), Policy(max_models=5)
        )
    assert len(client.sent) == 3  # at 150 s, past the deadline: the fourth is not tried


def test_a_fallbacks_hold_lasts_from_its_own_reservation() -> None:
    """A fallback reserved 200 s into a call holds for hold_seconds from then, not from the
    call's start (its hold would otherwise lapse while it runs)."""
    wall = [1_000.0]

    class Late(FakeClient):
        def stream(self, body: Any, attempts: Any, *, seconds: float | None = None) -> Any:
            wall[0] += 200.0
            return super().stream(body, attempts, seconds=seconds)

    ledger = MemoryLedger()
    ledger.set_budget(Budget.parse("global", "100"))
    router = Router(
        client=Late(failures=[ServerError("down", status=500)]),
        ledger=ledger,
        wall_clock=lambda: wall[0],
    )
    stream = router.stream(Request.from_prompt("hi"))  # the second model answers; unread
    (status,) = ledger.status(1_000.0 + 300 + 50)  # past the first hold's end
    assert status.reserved == stream.candidate.estimate.cost.high
    list(stream)
    (status,) = ledger.status(1_000.0)
    assert status.reserved == 0
