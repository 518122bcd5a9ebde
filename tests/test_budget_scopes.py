"""Budget scopes and housekeeping: a family budget covers a model and its dated snapshots,
an exact-model budget only the id; budgets can be deleted, on every backend and from the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from router import Budget, BudgetExceededError, Ledger, Request, Router
from router.testing import FakeClient

from .conftest import RunCli

SNAPSHOT = "qwen:qwen3-vl-plus-2025-09-23"
FAMILY = "qwen:qwen3-vl-plus"


def test_a_family_budget_caps_every_snapshot(ledger: Ledger) -> None:
    """family=qwen:qwen3-vl-plus counts a call pinned to a dated snapshot; model=... (the exact
    id) does not; a family budget too small for the snapshot's worst case refuses it."""
    ledger.set_budget(Budget.parse(f"family={FAMILY}", "5", period="day"))
    ledger.set_budget(Budget.parse(f"model={FAMILY}", "5", period="day"))
    router = Router(client=FakeClient(input_tokens=1000, output_tokens=50), ledger=ledger)
    result = router.call(Request.from_prompt("hi"), model=SNAPSHOT)
    assert result.model == SNAPSHOT
    spent = {s.budget.scope_text: s.spent for s in ledger.status(result_time(ledger))}
    assert spent[f"family={FAMILY}"] == result.cost > 0
    assert spent[f"model={FAMILY}"] == 0
    ledger.set_budget(Budget.parse(f"family={FAMILY}", "0.0000001", period="day"))
    with pytest.raises(BudgetExceededError, match=f"family={FAMILY}"):
        router.call(Request.from_prompt("hi"), model=SNAPSHOT)


def result_time(ledger: Ledger) -> float:
    return ledger.rows()[-1].ts + 1


def test_a_budget_is_deleted_by_scope_and_period(ledger: Ledger) -> None:
    """delete_budget removes one period's budget, or every period of a scope; counts them."""
    for period in ("day", "month"):
        ledger.set_budget(Budget.parse("user=alice", "5", period=period))
    ledger.set_budget(Budget.parse("global", "50"))
    assert ledger.delete_budget("user=alice", "day") == 1
    assert [(b.scope_text, b.period) for b in ledger.budgets()] == [
        ("global", "month"),
        ("user=alice", "month"),
    ]
    assert ledger.delete_budget("user=alice") == 1
    assert ledger.delete_budget("user=alice") == 0
    assert [b.scope_text for b in ledger.budgets()] == ["global"]


def test_cli_budget_delete(tmp_path: Path, run_cli: RunCli) -> None:
    """`budget delete` removes what it names and says so; a budget not there is exit 2."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    assert run_cli("budget", "set", "project=atlas", "--limit", "3", "--ledger", url).code == 0
    done = run_cli("budget", "delete", "project=atlas", "--period", "month", "--ledger", url)
    assert done.code == 0, done.err
    assert "deleted 1 budget(s) project=atlas (month)" in done.out
    assert run_cli("budget", "list", "--ledger", url, "--json").json() == []
    again = run_cli("budget", "delete", "project=atlas", "--ledger", url)
    assert again.code == 2
    assert "no budget project=atlas" in again.err
