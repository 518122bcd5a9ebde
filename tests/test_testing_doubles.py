"""The shipped test doubles let users test budget logic with no network and no database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from router import Budget, BudgetExceededError, MemoryLedger, Request, Router, ServerError
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
