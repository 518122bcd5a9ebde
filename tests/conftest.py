"""Shared fixtures: the bundled catalog, the CLI run in-process, the shared/ folder when present."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from pricing import Catalog
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
