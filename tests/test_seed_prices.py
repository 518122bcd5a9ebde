"""The bundled catalog reproduces the gateway's published price tables exactly."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from pricing import Catalog, NoTierError, Usage, price

from .conftest import SHARED, RunCli
from .seed_table import SEED_ROWS

UNITS = {"1K": 1_000, "1M": 1_000_000}
_ROW = re.compile(r"^\| ([\w.\-]+) \| (\$[^|]+) \| (\$[^|]+) \|$")
_PRICE = re.compile(r"\$([\d.]+)/(1K|1M)(?: tokens)?(?: \(([^)]*)\))?")
PREFIX = {"000": "qwen", "001": "gpt", "002": "gemini"}


def _bound(label: str | None) -> int | None:
    if label is None or label.startswith(">"):
        return None
    return int(label.lstrip("≤").split("-")[-1].rstrip("K")) * 1000


def parse_seed_pages() -> list[tuple[str, str, list[tuple[int | None, str, str]]]]:
    """Every price row of the three seed pages, read from the pages themselves."""
    rows = []
    for page in sorted((SHARED / "seeds").glob("*.txt")):
        provider = PREFIX[page.name[:3]]
        for line in page.read_text(encoding="utf-8").splitlines():
            match = _ROW.match(line)
            if not match:
                continue
            name, inputs, outputs = match.groups()
            ins, outs = _PRICE.findall(inputs), _PRICE.findall(outputs)
            unit = ins[0][1]
            tiers = [(_bound(i[2] or None), i[0], o[0]) for i, o in zip(ins, outs, strict=True)]
            rows.append((f"{provider}:{name}", unit, tiers))
    return rows


def test_catalog_holds_exactly_the_56_seed_models(catalog: Catalog) -> None:
    """Every seed model is in the bundled catalog, under its prefixed id, and nothing else."""
    assert len(SEED_ROWS) == 56
    assert sorted(catalog.ids) == sorted(row[0] for row in SEED_ROWS)


@pytest.mark.skipif(not (SHARED / "seeds").is_dir(), reason="shared/seeds is not beside the repo")
def test_seed_table_matches_the_seed_pages() -> None:
    """The test's transcription of the seeds equals what the seed pages print."""
    assert parse_seed_pages() == SEED_ROWS


def _expected(unit: str, amount: str, tokens: int) -> Decimal:
    return Decimal(amount) * tokens / UNITS[unit]


def _counts(tiers: list[tuple[int | None, str, str]]) -> list[tuple[int, int]]:
    """Token counts to probe: 1, each bound, each bound + 1 (tier index each falls in)."""
    counts = [(1, 0)]
    for index, (up_to, _, _) in enumerate(tiers):
        if up_to is not None:
            counts += [(up_to, index), (up_to + 1, index + 1)]
    return [(n, t) for n, t in counts if t < len(tiers)]


@pytest.mark.parametrize(("model_id", "unit", "tiers"), SEED_ROWS, ids=[r[0] for r in SEED_ROWS])
def test_price_command_reproduces_seed_row(
    run_cli: RunCli, model_id: str, unit: str, tiers: list[tuple[int | None, str, str]]
) -> None:
    """`costrouter price --json` equals seed price × tokens ÷ unit at every tier boundary."""
    for input_tokens, tier in _counts(tiers):
        result = run_cli(
            "price",
            model_id,
            "--input-tokens",
            str(input_tokens),
            "--output-tokens",
            "777",
            "--json",
        )
        assert result.code == 0, result.err
        document = result.json()
        _, inp, out = tiers[tier]
        assert document["tier"] == tier
        assert Decimal(document["input_cost"]) == _expected(unit, inp, input_tokens)
        assert Decimal(document["output_cost"]) == _expected(unit, out, 777)
        total = _expected(unit, inp, input_tokens) + _expected(unit, out, 777)
        assert Decimal(document["total_cost"]) == total
        assert document["currency"] == "USD"


@pytest.mark.parametrize(
    ("model", "input_tokens", "tier"),
    [
        ("qwen:qwen3-vl-plus", 32_000, 0),
        ("qwen:qwen3-vl-plus", 32_001, 1),
        ("qwen:qwen3-vl-plus", 128_000, 1),
        ("qwen:qwen3-vl-plus", 128_001, 2),
        ("qwen:qwen3-vl-flash", 256_000, 2),
        ("gemini:gemini-2.5-pro", 200_000, 0),
        ("gemini:gemini-2.5-pro", 200_001, 1),
        ("gemini:gemini-3-pro-preview", 200_001, 1),
        ("gemini:gemini-3-pro-preview", 5_000_000, 1),
    ],
)
def test_tier_bound_is_inclusive_and_prices_whole_request(
    catalog: Catalog, model: str, input_tokens: int, tier: int
) -> None:
    """The tier is picked by input tokens with an inclusive bound and prices output too."""
    spec = catalog.get(model)
    cost = price(spec, Usage(input_tokens, 1000))
    assert cost.tier == tier
    assert cost.output_cost == 1000 * spec.tiers[tier].output_rate


def test_qwen_at_32001_is_priced_whole_at_second_tier(catalog: Catalog) -> None:
    """32,001 input tokens on qwen3-vl-plus cost 32,001 × $0.00031/1K, not marginal brackets."""
    cost = price(catalog.get("qwen3-vl-plus"), Usage(32_001, 1_000))
    assert cost.input_cost == Decimal("0.00992031")
    assert cost.output_cost == Decimal("0.00252")
    assert cost.total == Decimal("0.01244031")


def test_usage_beyond_last_tier_is_an_error(catalog: Catalog, run_cli: RunCli) -> None:
    """256,001 input tokens on a Qwen3-VL model has no price: an error, exit 2, one line."""
    with pytest.raises(NoTierError) as info:
        price(catalog.get("qwen:qwen3-vl-plus"), Usage(256_001, 0))
    assert info.value.max_input_tokens == 256_000
    result = run_cli(
        "price", "qwen:qwen3-vl-plus", "--input-tokens", "256001", "--output-tokens", "0"
    )
    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert "256,000" in result.err
