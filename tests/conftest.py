"""Shared fixtures: the bundled catalog, the CLI run in-process, the shared/ folder when present."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from pricing import Catalog
from router import Ledger, ledger_from_url
from router.cli import main

from .gateway_server import FakeGateway

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load()


@attrs.frozen
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


RunCli = Callable[..., CliResult]


@pytest.fixture
def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> RunCli:
    """Run ``costrouter ARGS`` in this process with a clean environment (the default ledger a
    SQLite file in a temporary data directory); capture its output."""
    for name in (
        "COSTROUTER_CATALOG",
        "COSTROUTER_LEDGER",
        "MEMORIES_API_KEY",
        "MEMORIES_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    """A loopback gateway answering as the seeds document; queue faults on it."""
    with FakeGateway() as server:
        yield server


POSTGRES_URL = os.environ.get("COSTROUTER_TEST_POSTGRES")
REQUIRE_POSTGRES = os.environ.get("COSTROUTER_REQUIRE_POSTGRES") == "1"
BACKENDS = ["memory", "sqlite", "postgres"]


def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards. Skips with a
    reason when no server is configured; in CI (COSTROUTER_REQUIRE_POSTGRES=1) that fails."""
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("COSTROUTER_REQUIRE_POSTGRES=1 but COSTROUTER_TEST_POSTGRES is not set")
        pytest.skip("no PostgreSQL: set COSTROUTER_TEST_POSTGRES=postgresql://user@host/db")
    import psycopg

    schema = f"costrouter_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger of each backend, by URL."""
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/ledger.db"
    else:
        yield from postgres_schema_url()


@pytest.fixture(params=["sqlite", "postgres"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The backends several processes share (memory:// is one process by design)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/ledger.db"
    else:
        yield from postgres_schema_url()


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    opened = ledger_from_url(ledger_url)
    try:
        yield opened
    finally:
        opened.close()
