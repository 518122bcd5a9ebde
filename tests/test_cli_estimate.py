"""`costrouter estimate`: the JSON contract, request options and errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from pricing import Catalog
from router import Estimator, Request

from .conftest import ROOT, RunCli

IMAGE = ROOT / "examples" / "chart.png"


def test_estimate_json_contract(run_cli: RunCli) -> None:
    """--json prints model, token and cost ranges (money as strings) and one entry per image."""
    result = run_cli(
        "estimate",
        "--model",
        "gpt-4o",
        "--prompt",
        "What is shown?",
        "--image",
        str(IMAGE),
        "--image",
        "https://example.com/x.png",
        "--json",
    )
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["model"] == "gpt:gpt-4o"
    for key in ("input_tokens", "output_tokens", "cost"):
        assert set(doc[key]) == {"low", "expected", "high"}
    assert all(isinstance(v, str) for v in doc["cost"].values())
    local, remote = doc["images"]
    assert (local["width"], local["height"], local["tokens"]["expected"]) == (1600, 1200, 765)
    assert (remote["width"], remote["height"]) == (None, None)
    assert remote["tokens"] == {"low": 255, "expected": 1445, "high": 1445}


def test_cli_estimate_equals_python_api(run_cli: RunCli) -> None:
    """The CLI's numbers are the Estimator's, to the last digit."""
    result = run_cli(
        "estimate",
        "--model",
        "qwen3-vl-flash",
        "--prompt",
        "Count the shapes.",
        "--image",
        str(IMAGE),
        "--system",
        "Be exact.",
        "--max-tokens",
        "300",
        "--json",
    )
    request = Request.from_prompt("Count the shapes.", [IMAGE], system="Be exact.", max_tokens=300)
    estimate = Estimator(Catalog.bundled()).estimate(request, "qwen:qwen3-vl-flash")
    doc = result.json()
    assert doc["cost"]["high"] == format(estimate.cost.high.normalize(), "f")
    assert doc["input_tokens"]["expected"] == estimate.input_tokens.expected
    assert doc["output_tokens"]["high"] == 300


def test_messages_file_and_stdin_prompt(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--messages reads OpenAI messages; --prompt-file - reads the prompt from stdin."""
    messages = tmp_path / "m.json"
    messages.write_text(json.dumps([{"role": "user", "content": "hello there"}]))
    from_file = run_cli("estimate", "--model", "o3", "--messages", str(messages), "--json")
    assert from_file.code == 0, from_file.err
    monkeypatch.setattr("sys.stdin", io.StringIO("hello there"))
    from_stdin = run_cli("estimate", "--model", "o3", "--prompt-file", "-", "--json")
    assert from_stdin.json()["input_tokens"] == from_file.json()["input_tokens"]


def test_table_output(run_cli: RunCli) -> None:
    """The default output is a table with a row per part and the cost range."""
    result = run_cli(
        "estimate", "--model", "gemini-2.5-pro", "--prompt", "hi", "--image", str(IMAGE)
    )
    assert result.code == 0
    assert "image 1600x1200" in result.out
    assert "cost $" in result.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--image", "README.md"], "message 1, part 1 (README.md): not a readable image"),
        (["--prompt", "x", "--n", "0"], "n must be"),
        ([], "describe the request"),
        (["--messages", "missing.json"], "cannot read"),
    ],
)
def test_bad_requests_exit_2_with_one_line(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    """A corrupt image, bad options or a missing request exit 2 with one line and no traceback."""
    monkeypatch.chdir(ROOT)
    result = run_cli("estimate", "--model", "gpt:gpt-4o", *args)
    assert result.code == 2
    assert message in result.err
    assert result.err.count("\n") == 1


def test_route_json_and_exit_4(run_cli: RunCli) -> None:
    """`route --json` ranks candidates cheapest first with costs as strings; none → exit 4."""
    result = run_cli(
        "route",
        "--prompt",
        "Describe it.",
        "--image",
        str(IMAGE),
        "--provider",
        "gemini",
        "--provider",
        "qwen",
        "--json",
    )
    assert result.code == 0, result.err
    doc = result.json()
    expected = [c["cost"]["expected"] for c in doc["candidates"]]
    assert [float(x) for x in expected] == sorted(float(x) for x in expected)
    assert doc["model"] == doc["candidates"][0]["model"]
    assert all(c["model"].split(":")[0] in ("gemini", "qwen") for c in doc["candidates"])
    assert {r["model"].split(":")[0] for r in doc["rejected"]} >= {"gpt"}
    for candidate in doc["candidates"][:3]:
        single = run_cli(
            "estimate",
            "--model",
            candidate["model"],
            "--prompt",
            "Describe it.",
            "--image",
            str(IMAGE),
            "--json",
        ).json()
        assert single["cost"]["expected"] == candidate["cost"]["expected"]
        assert single["cost"]["high"] == candidate["cost"]["high"]
    none = run_cli("route", "--prompt", "hi", "--max-cost", "0.00000001", "--json")
    assert none.code == 4
    assert len(none.json()["rejected"]) == 56
    assert none.err.count("\n") == 1


def test_route_table_and_bad_policy(run_cli: RunCli) -> None:
    """The default route output is a ranked table; a bad requirement or cost exits 2."""
    table = run_cli("route", "--prompt", "hi", "--require", "json,thinking")
    assert table.code == 0
    assert table.out.splitlines()[0].split()[:2] == ["#", "model"]
    assert "rejected:" in table.out
    assert run_cli("route", "--prompt", "hi", "--require", "telepathy").code == 2
    assert run_cli("route", "--prompt", "hi", "--max-cost", "lots").code == 2
