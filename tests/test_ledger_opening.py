"""Opening ledgers as users expect: read-only commands create nothing and wait for no writer,
a bad PostgreSQL URL fails at once naming the cause, and the library reads the environment the
way the command line does."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from router import Budget, LedgerError, Router, SQLiteLedger, ledger_from_url

from .conftest import RunCli


def test_read_only_commands_create_no_ledger(run_cli: RunCli, tmp_path: Path) -> None:
    """`budget list`, `report` and `route --user` on a machine without a ledger answer as for
    an empty one and leave no file behind; `budget set` then creates it."""
    default = tmp_path / "data" / "costrouter" / "ledger.db"
    assert run_cli("budget", "list").out.startswith("no budgets")
    assert run_cli("report", "--json").json()["total"]["calls"] == 0
    assert run_cli("route", "--prompt", "hi", "--user", "ann").code == 0
    assert not default.exists()
    assert run_cli("budget", "set", "user=ann", "--limit", "1").code == 0
    assert default.exists()


def test_a_read_only_ledger_never_waits_for_a_writer(tmp_path: Path) -> None:
    """While another connection holds the write lock, a read-only ledger's status returns at
    once (a read-write open would wait for the lock); writing through it is refused."""
    path = tmp_path / "ledger.db"
    writer = SQLiteLedger(str(path))
    writer.set_budget(Budget.parse("global", "5"))
    writer.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        reader = ledger_from_url(f"sqlite:///{path}", read_only=True)
        (status,) = reader.status(time.time())
        assert status.budget.limit == 5
        assert time.monotonic() - started < 2
        with pytest.raises(LedgerError, match="read-only"):
            reader.set_budget(Budget.parse("global", "6"))
    finally:
        holder.rollback()
        holder.close()


def test_sqlite_urls_are_relative_with_three_slashes_and_absolute_with_four(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sqlite:///x.db` is x.db in the working directory; `sqlite:////abs/x.db` is absolute
    (the convention SQLAlchemy made common; docs/guide.md says so)."""
    monkeypatch.chdir(tmp_path)
    relative = ledger_from_url("sqlite:///rel/x.db")
    absolute = ledger_from_url(f"sqlite:///{tmp_path}/abs/x.db")
    assert (tmp_path / "rel" / "x.db").exists()
    assert (tmp_path / "abs" / "x.db").exists()
    relative.close()
    absolute.close()


def test_a_bad_postgresql_url_fails_at_once_naming_the_cause() -> None:
    """A server that is not there fails within seconds with the driver's reason, not after
    the pool's retries (psycopg is part of the test extras)."""
    pytest.importorskip("psycopg", reason="pip install 'costrouter[postgres]'")
    started = time.monotonic()
    with pytest.raises(LedgerError, match="Connection refused"):
        ledger_from_url("postgresql://nobody@127.0.0.1:1/none", connect_timeout=2)
    assert time.monotonic() - started < 5


def test_the_library_reads_the_environment_as_the_cli_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Router.from_env takes the ledger from COSTROUTER_LEDGER (else the default file) and
    overlays COSTROUTER_CATALOG, so library calls are budgeted and reported."""
    overlay = tmp_path / "prices.yaml"
    overlay.write_text('models:\n  gpt:gpt-4o:\n    input: "7"\n', encoding="utf-8")
    environ = {
        "COSTROUTER_LEDGER": f"sqlite:///{tmp_path}/env.db",
        "COSTROUTER_CATALOG": str(overlay),
        "MEMORIES_API_KEY": "sk-test",
    }
    router = Router.from_env(environ)
    assert isinstance(router.ledger, SQLiteLedger)
    assert router.ledger.path == f"{tmp_path}/env.db"
    assert router.catalog.get("gpt:gpt-4o").tiers[0].input_rate * 1_000_000 == 7
    defaulted = Router.from_env({"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert isinstance(defaulted.ledger, SQLiteLedger)
    assert defaulted.ledger.path == str(tmp_path / "xdg" / "costrouter" / "ledger.db")
