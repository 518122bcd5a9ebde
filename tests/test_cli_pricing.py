"""`costrouter models` and `costrouter price`: the JSON contract, tables and exit codes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from .conftest import ROOT, RunCli
from .seed_table import SEED_ROWS


def test_models_json_lists_every_seed_model(run_cli: RunCli) -> None:
    """`models --json` lists all 56 ids with the contract's keys, prices per 1M as strings."""
    result = run_cli("models", "--json")
    assert result.code == 0
    models = result.json()
    assert [m["model"] for m in models] == [row[0] for row in SEED_ROWS]
    keys = {
        "model",
        "provider",
        "context_window",
        "input_price",
        "output_price",
        "tiers",
        "capabilities",
    }
    for entry in models:
        assert keys <= set(entry)
        assert isinstance(entry["input_price"], str)
        Decimal(entry["input_price"])
    plus = next(m for m in models if m["model"] == "qwen:qwen3-vl-plus")
    assert plus["input_price"] == "0.21"  # $0.00021 per 1K is $0.21 per 1M
    assert [t["up_to"] for t in plus["tiers"]] == [32000, 128000, 256000]
    assert plus["tiers"][2]["output_price"] == "5.03"


def test_models_provider_filter_and_table(run_cli: RunCli) -> None:
    """`models --provider gemini` shows only Gemini models, as a readable table."""
    result = run_cli("models", "--provider", "gemini")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].startswith("model")
    assert len(lines) == 2 + 9
    assert all(line.startswith("gemini:") for line in lines[2:])


def test_price_table_shows_tier_and_total(run_cli: RunCli) -> None:
    """The default price output is a table with the tier range and the exact total."""
    result = run_cli("price", "gemini-2.5-pro", "--input-tokens", "200001", "--output-tokens", "10")
    assert result.code == 0
    assert "200001+" in result.out
    assert "exact: 0.5001525" in result.out  # 200,001 × $2.5/1M + 10 × $15/1M


def test_price_with_cached_and_reasoning(run_cli: RunCli) -> None:
    """--cached-tokens and --reasoning-tokens are accepted and validated against the totals."""
    ok = run_cli(
        "price",
        "gpt:o3",
        "--input-tokens",
        "100",
        "--output-tokens",
        "50",
        "--cached-tokens",
        "20",
        "--reasoning-tokens",
        "30",
        "--json",
    )
    assert ok.code == 0
    assert ok.json()["total_cost"] == "0.0006"
    bad = run_cli(
        "price", "gpt:o3", "--input-tokens", "10", "--output-tokens", "0", "--cached-tokens", "20"
    )
    assert bad.code == 2
    assert "cached_tokens" in bad.err


def test_bad_usage_is_one_line_exit_2(run_cli: RunCli) -> None:
    """Missing or malformed arguments exit 2 with one line on stderr."""
    for args in (
        ["price", "gpt:gpt-4o"],
        ["price", "gpt:gpt-4o", "--input-tokens", "-5", "--output-tokens", "1"],
        ["price", "gpt:gpt-4o", "--input-tokens", "many", "--output-tokens", "1"],
        ["frobnicate"],
        [],
    ):
        result = run_cli(*args)
        assert result.code == 2, args
        assert result.err.count("\n") == 1, result.err
        assert result.err.startswith("costrouter: error:")


def test_unknown_model_exit_2_with_suggestion(run_cli: RunCli) -> None:
    """An unknown model exits 2 and suggests the closest ids."""
    result = run_cli("price", "gpt-4o-mni", "--input-tokens", "1", "--output-tokens", "1")
    assert result.code == 2
    assert "gpt:gpt-4o-mini" in result.err


def test_python_dash_m_router_and_console_script() -> None:
    """`python -m router` and the installed `costrouter` script print the same document."""
    args = ["price", "o3", "--input-tokens", "1000000", "--output-tokens", "0", "--json"]
    script = shutil.which("costrouter") or str(Path(sys.executable).with_name("costrouter"))
    outputs = []
    for command in ([sys.executable, "-m", "router", *args], [script, *args]):
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert '"total_cost": "2"' in outputs[0]
