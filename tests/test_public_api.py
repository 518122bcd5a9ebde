"""The public surface: sorted __all__, version from metadata, an import that loads no I/O."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys

import pytest

import pricing
import router


@pytest.mark.parametrize("package", [pricing, router])
def test_all_is_sorted_and_matches_exports(package: object) -> None:
    """__all__ is sorted and names exactly the public attributes the package defines."""
    names = package.__all__  # type: ignore[attr-defined]  # checked at run time across packages
    assert names == sorted(names)
    for name in names:  # every listed name resolves (router loads them lazily)
        assert getattr(package, name) is not None
    public = {n for n in dir(package) if not n.startswith("_")} | ({"__version__"} & set(names))
    modules = {n for n in public if type(getattr(package, n)).__name__ == "module"}
    assert set(names) == public - modules


def test_version_matches_installed_metadata() -> None:
    """router.__version__ is the version pip installed."""
    assert router.__version__ == importlib.metadata.version("costrouter")


@pytest.mark.parametrize("module", ["pricing", "router"])
def test_import_loads_no_io_libraries(module: str) -> None:
    """Importing the core loads no requests, sqlite3, psycopg or yaml (they load on use)."""
    code = (
        f"import sys, {module}; "
        "print(','.join(m for m in ('requests', 'sqlite3', 'psycopg', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_console_script_is_installed() -> None:
    """The `costrouter` console script is on PATH next to the interpreter and runs."""
    script = shutil.which("costrouter") or str(
        __import__("pathlib").Path(sys.executable).with_name("costrouter")
    )
    out = subprocess.run([script, "--version"], capture_output=True, text=True, check=False)
    assert out.returncode == 0
    assert out.stdout.strip() == f"costrouter {router.__version__}"


def test_core_computation_loads_no_io_libraries() -> None:
    """The estimator, the policy engine and the router's values import no HTTP client or
    database driver (they compute from values passed in)."""
    code = (
        "import sys, router.estimate.estimator, router.routing.selector, router.routing.policy, "
        "router.gateway.wire, router.gateway.response, router.ledger.budgets, router.ledger.spend; "
        "print(','.join(m for m in ('requests', 'sqlite3', 'psycopg') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
