"""The Python examples of the README and of docs/ run as written (from the repository root)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from .conftest import ROOT, RunCli

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [
    (f"{page.name}:{number}", code)
    for page in PAGES
    for number, code in enumerate(
        re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    )
]


def test_the_readme_and_the_guide_have_examples() -> None:
    """The pages are found and hold examples (so the test below cannot pass on nothing)."""
    names = {name.partition(":")[0] for name, _ in BLOCKS}
    assert {"README.md", "guide.md"} <= names


@pytest.mark.parametrize(("name", "code"), BLOCKS, ids=[name for name, _ in BLOCKS])
def test_python_block_runs(
    name: str, code: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each ```python block of README.md and docs/*.md executes without error (a default
    ledger it opens lands in a temporary data directory)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("COSTROUTER_LEDGER", raising=False)
    namespace: dict[str, object] = {}
    exec(compile(code, name, "exec"), namespace)
    assert set(namespace) - {"__builtins__"}  # the block defined names of its own


def test_the_main_job_prints_what_the_readme_shows(run_cli: RunCli) -> None:
    """The README's install-and-run line, run from its first `costrouter` command on (with a
    fresh default ledger), prints exactly the output the README shows, up to its "...\""""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Install and run") :]
    command, shown = re.findall(r"```sh\n(.*?)\n```\n\n```\n(.*?)\n```", section, re.S)[0]
    printed = []
    for step in command.split(" && "):
        words = shlex.split(step)
        if words[0] == "costrouter":
            result = run_cli(*words[1:])
            assert result.code == 0, result.err
            printed += result.out.splitlines()
    expected = shown.splitlines()
    assert expected[-1] == "..."
    assert printed[: len(expected) - 1] == expected[:-1]
