"""Loading, overlaying and validating catalogs; looking models up."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from pricing import Catalog, CatalogError, UnknownModelError, Usage

from .conftest import RunCli

GOOD_MODEL = """
models:
  gpt:my-model:
    input: "1"
    output: "2"
    context_window: 1000
    max_output_tokens: 100
    capabilities: [image]
    quality: economy
    image_tokens: {rule: openai_tiles, base: 85, tile: 170}
"""


def write(tmp_path: Path, text: str, name: str = "overlay.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_every_model_has_what_routing_needs(catalog: Catalog) -> None:
    """Each bundled model carries limits, capabilities, quality, defaults, tokenizer, image rule."""
    defaults = {"qwen": 1024, "gpt": 1000, "gemini": 1000}
    for model in catalog:
        assert model.context_window > 0
        assert 0 < model.max_output_tokens <= model.context_window
        assert "image" in model.capabilities
        assert model.quality in catalog.quality_classes
        assert model.defaults.max_tokens == defaults[model.provider]
        assert model.price_source
        assert model.as_of
        assert model.tokenizer == {"qwen": "qwen", "gemini": "gemma3"}.get(
            model.provider, "cl100k" if "gpt-4-turbo" in model.id else "o200k"
        )
        if model.snapshot_of is not None:
            assert model.snapshot_of in catalog.ids


@pytest.mark.parametrize(
    ("name", "model_id"),
    [
        ("gpt:gpt-4o", "gpt:gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt:gpt-4o-2024-08-06"),
        ("qwen3-vl-plus", "qwen:qwen3-vl-plus"),
        ("gemini:gemini-2.5-flash", "gemini:gemini-2.5-flash"),
        ("gemini-2.5-flash", "gemini:gemini-2.5-flash"),
        ("o3", "gpt:o3"),
    ],
)
def test_lookup_by_id_served_name_and_bare_name(catalog: Catalog, name: str, model_id: str) -> None:
    """Prefixed ids, the names the gateway returns and unambiguous bare names all resolve."""
    assert catalog.get(name).id == model_id
    assert name in catalog


def test_unknown_model_suggests_closest_ids(catalog: Catalog) -> None:
    """A near-miss name raises UnknownModelError (also a KeyError) naming the closest ids."""
    with pytest.raises(KeyError) as info:
        catalog.get("gpt-4o-mni")
    assert isinstance(info.value, UnknownModelError)
    assert "gpt:gpt-4o-mini" in info.value.suggestions
    assert "gpt:gpt-4o-mini" in str(info.value)


def test_ambiguous_bare_name_lists_the_candidates(tmp_path: Path) -> None:
    """A bare name two providers share is refused, naming both ids."""
    overlay = write(tmp_path, GOOD_MODEL.replace("gpt:my-model", "gpt:gemini-2.0-flash"))
    catalog = Catalog.load([overlay])
    with pytest.raises(UnknownModelError) as info:
        catalog.get("gemini-2.0-flash")
    assert info.value.ambiguous
    assert set(info.value.suggestions) == {"gpt:gemini-2.0-flash", "gemini:gemini-2.0-flash"}


def test_snapshots_are_linked(catalog: Catalog) -> None:
    """Dated ids name the model they are snapshots of."""
    assert {m.id for m in catalog.snapshots("gpt:gpt-4o")} == {
        "gpt:gpt-4o-2024-08-06",
        "gpt:gpt-4o-2024-05-13",
    }
    assert catalog.get("qwen:qwen-vl-plus-2025-01-25").snapshot_of == "qwen:qwen-vl-plus"


def test_overlay_adds_a_model_and_overrides_a_field(tmp_path: Path) -> None:
    """A user overlay adds models and changes fields of bundled ones, keeping the rest."""
    overlay = write(
        tmp_path,
        GOOD_MODEL
        + """
  gpt:gpt-4o:
    quality: economy
    cached_input: "1.25"
    input: "2.5"
    output: "10"
""",
    )
    catalog = Catalog.load([overlay])
    assert len(catalog) == 57
    assert catalog.get("gpt:my-model").tiers[0].input_rate == Decimal("0.000001")
    gpt4o = catalog.get("gpt:gpt-4o")
    assert gpt4o.quality == "economy"
    assert gpt4o.tiers[0].cached_input_rate == Decimal("0.00000125")
    assert gpt4o.context_window == 128000


def test_overlay_float_is_read_through_str(tmp_path: Path) -> None:
    """A bare YAML float price is converted through str, so 0.1 is exactly 0.1, never binary."""
    overlay = write(tmp_path, GOOD_MODEL.replace('input: "1"', "input: 0.1"))
    model = Catalog.load([overlay]).get("gpt:my-model")
    assert model.tiers[0].input_rate == Decimal("0.1") / 10**6


BAD = [
    ("negative price", ('input: "1"', 'input: "-1"'), "from 0 to", "input"),
    ("not a number", ('input: "1"', 'input: "cheap"'), "decimal number", "input"),
    ("unknown provider", ("gpt:my-model", "mistral:my-model"), "unknown provider", "id"),
    ("no prefix", ("gpt:my-model", "my-model"), "provider:name", "id"),
    ("bad capability", ("[image]", "[image, telepathy]"), "capabilities", "capabilities"),
    ("bad quality", ("quality: economy", "quality: superb"), "expected one of", "quality"),
    ("bad rule", ("rule: openai_tiles", "rule: magic"), "rule", "image_tokens"),
    ("missing rule param", ("tile: 170", "tyle: 170"), "missing ['tile']", "image_tokens"),
    (
        "zero context",
        ("context_window: 1000", "context_window: 0"),
        "whole number",
        "context_window",
    ),
    (
        "unknown field",
        ("quality: economy", "quality: economy\n    colour: blue"),
        "unknown fields",
        None,
    ),
    ("missing field", ("    max_output_tokens: 100\n", ""), "missing", "max_output_tokens"),
    (
        "missing unit",
        ("gpt:my-model:", "gpt:my-model:\n    price_unit: per token"),
        "price_unit",
        "price_unit",
    ),
]


@pytest.mark.parametrize(("case", "edit", "message", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_overlay_names_file_model_and_field(
    tmp_path: Path, case: str, edit: tuple[str, str], message: str, field: str | None
) -> None:
    """Each malformed model raises CatalogError naming the file, the model and the field."""
    overlay = write(tmp_path, GOOD_MODEL.replace(*edit))
    with pytest.raises(CatalogError) as info:
        Catalog.load([overlay])
    error = info.value
    assert message in str(error)
    assert error.source == str(overlay)
    assert str(overlay) in str(error)
    if field is not None:
        assert error.field == field
    assert error.model in ("gpt:my-model", "mistral:my-model", "my-model")


TIER_CASES = [
    (
        "tiers not increasing",
        "[{up_to: 100, input: '1', output: '1'}, {up_to: 50, input: '2', output: '2'}]",
        "greater than",
    ),
    (
        "unbounded not last",
        "[{up_to: null, input: '1', output: '1'}, {up_to: 50, input: '2', output: '2'}]",
        "only the last",
    ),
    ("empty tiers", "[]", "non-empty"),
]


@pytest.mark.parametrize(("case", "tiers", "message"), TIER_CASES, ids=[t[0] for t in TIER_CASES])
def test_bad_tiers_are_refused(tmp_path: Path, case: str, tiers: str, message: str) -> None:
    """Tier lists must be non-empty, strictly increasing, unbounded only at the end."""
    text = GOOD_MODEL.replace('input: "1"\n    output: "2"', f"tiers: {tiers}")
    with pytest.raises(CatalogError) as info:
        Catalog.load([write(tmp_path, text)])
    assert message in str(info.value)
    assert info.value.field == "tiers"


def test_duplicate_id_is_refused(tmp_path: Path) -> None:
    """The same model id written twice in one file is an error, not a silent overwrite."""
    text = GOOD_MODEL + GOOD_MODEL.split("models:\n", 1)[1]
    with pytest.raises(CatalogError, match="duplicate key 'gpt:my-model'"):
        Catalog.load([write(tmp_path, text)])


def test_snapshot_of_must_exist(tmp_path: Path) -> None:
    """snapshot_of must name a model of the catalog."""
    text = GOOD_MODEL.replace("quality: economy", "quality: economy\n    snapshot_of: gpt:nope")
    with pytest.raises(CatalogError, match="not a model of the catalog") as info:
        Catalog.load([write(tmp_path, text)])
    assert info.value.field == "snapshot_of"


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    """A missing file or broken YAML is a CatalogError naming the file."""
    with pytest.raises(CatalogError, match="cannot read"):
        Catalog.load([tmp_path / "absent.yaml"])
    with pytest.raises(CatalogError, match="not valid YAML"):
        Catalog.load([write(tmp_path, "models: [unclosed")])
    with pytest.raises(CatalogError, match="unknown top-level"):
        Catalog.load([write(tmp_path, "modles: {}")])


def test_usage_rejects_impossible_counts() -> None:
    """Usage refuses negative counts, cached > input and reasoning > output."""
    for args in [(-1, 0), (0, -1), (10, 0, 11), (0, 10, 0, 11)]:
        with pytest.raises(ValueError, match="tokens"):
            Usage(*args)
    with pytest.raises(ValueError, match="whole number"):
        Usage(1.5, 0)  # type: ignore[arg-type]  # the wrong type is the point of the test


@pytest.mark.parametrize("via_env", [False, True])
def test_cli_bad_catalog_is_one_line_exit_2(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, via_env: bool
) -> None:
    """A bad overlay, given by flag or COSTROUTER_CATALOG, exits 2 with one line, no traceback."""
    overlay = write(tmp_path, GOOD_MODEL.replace('input: "1"', 'input: "-1"'))
    args = ["models"] if via_env else ["models", "--catalog", str(overlay)]
    if via_env:
        monkeypatch.setenv("COSTROUTER_CATALOG", str(overlay))
    result = run_cli(*args)
    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert "Traceback" not in result.err
    assert str(overlay) in result.err
    assert "gpt:my-model" in result.err


def test_an_overlay_may_change_one_flat_price_field(tmp_path: Path) -> None:
    """`input:` alone changes a flat-priced model's input price and keeps its output price; on
    a tiered model it is refused, naming the overlay, and input plus output replace the tiers."""
    base = Catalog.load().get("gpt:gpt-4o")
    one = write(tmp_path, 'models:\n  gpt:gpt-4o:\n    input: "3"\n')
    changed = Catalog.load([one]).get("gpt:gpt-4o")
    assert changed.tiers[0].input_rate == Decimal("3") / 1_000_000
    assert changed.tiers[0].output_rate == base.tiers[0].output_rate
    tiered = write(tmp_path, 'models:\n  qwen:qwen3-vl-plus:\n    input: "0.001"\n', "t.yaml")
    with pytest.raises(CatalogError, match=r"t\.yaml.*priced by tiers"):
        Catalog.load([tiered])
    both = write(
        tmp_path, 'models:\n  qwen:qwen3-vl-plus:\n    input: "1"\n    output: "2"\n', "b.yaml"
    )
    assert len(Catalog.load([both]).get("qwen:qwen3-vl-plus").tiers) == 1
