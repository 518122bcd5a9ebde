"""Text tokens per family: invariants, the exact-counter seam, accuracy on calibration texts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, strategies as st

from router import InputError, TextEstimator
from router.estimate.text import CHAT_OVERHEAD, bundled_model
from router.estimate.textfeatures import CANDIDATES

from .conftest import SHARED

FAMILIES = ("o200k", "cl100k", "qwen", "gemma3")
CALIBRATION = SHARED / "calibration" / "texts.jsonl"
KEY = {"o200k": "o200k", "cl100k": "cl100k", "qwen": "qwen", "gemma3": "gemma"}
ESTIMATOR = TextEstimator(None)  # the fitted model alone, whatever engines are installed


@given(st.text(max_size=3000), st.sampled_from(FAMILIES))
def test_range_is_ordered_and_within_certain_bounds(text: str, family: str) -> None:
    """low <= expected <= high; a non-empty text is >= 1 token and <= its UTF-8 bytes."""
    tokens = ESTIMATOR.estimate(text, family)
    assert tokens.low <= tokens.expected <= tokens.high
    if text:
        assert tokens.low >= 1
        assert tokens.high <= len(text.encode("utf-8", "surrogatepass"))
    else:
        assert tokens.high == 0


def test_exact_counter_replaces_the_estimate_where_it_answers() -> None:
    """A pluggable counter gives exact counts for families it knows and defers on others."""
    calls: list[tuple[str, str]] = []

    def counter(family: str, text: str) -> int | None:
        calls.append((family, text))
        return 42 if family == "cl100k" else None

    estimator = TextEstimator(counter)
    exact = estimator.estimate("hello world", "cl100k")
    assert (exact.low, exact.expected, exact.high) == (42, 42, 42)
    estimated = estimator.estimate("hello world", "qwen")
    assert estimated == ESTIMATOR.estimate("hello world", "qwen")
    assert calls == [("cl100k", "hello world"), ("qwen", "hello world")]


def test_unknown_family_is_an_input_error() -> None:
    """An unknown tokenizer family is refused with the known ones."""
    with pytest.raises(InputError, match="o200k"):
        ESTIMATOR.estimate("x", "llama")


def test_chat_overhead_per_family() -> None:
    """OpenAI: 3 per message +1 per name +3 primer; Qwen ChatML 5 per message +3; Gemini 0."""
    assert ESTIMATOR.overhead("o200k", 2, 1) == 3 * 2 + 1 + 3
    assert ESTIMATOR.overhead("qwen", 2) == 5 * 2 + 3
    assert ESTIMATOR.overhead("gemma3", 4) == 0
    assert set(CHAT_OVERHEAD) == set(FAMILIES)


def test_fitted_model_uses_known_features() -> None:
    """The generated coefficients name only candidate features, one weight each."""
    families = bundled_model()["families"]
    assert set(families) == set(FAMILIES)
    for fitted in families.values():
        assert set(fitted["features"]) <= set(CANDIDATES)
        assert len(fitted["weights"]) == len(fitted["features"])


@pytest.mark.skipif(not CALIBRATION.exists(), reason="shared/calibration is not beside the repo")
def test_text_model_records_the_calibration_set_it_was_fitted_on() -> None:
    """textmodel.json names the sha256 and size of the calibration texts it was fitted on
    (refit with tools/fit_text_model.py when they change) and held-out figures per family,
    in all and per length bucket."""
    import hashlib

    document = bundled_model()
    assert document["calibration"]["sha256"] == hashlib.sha256(CALIBRATION.read_bytes()).hexdigest()
    assert document["calibration"]["texts"] == len(_rows())
    for family in FAMILIES:
        figures = document["held_out"][family]
        assert set(figures) == {"all", "0-99", "100-999", "1000+"}
        assert figures["all"]["texts"] == len(_rows())
        assert sum(figures[b]["texts"] for b in ("0-99", "100-999", "1000+")) == len(_rows())
        assert figures["all"]["coverage"] >= 0.99
        assert 0 < figures["all"]["mean_error"] <= figures["all"]["p95_error"]
        # Longer texts are estimated closer and their ranges are narrower.
        assert figures["1000+"]["mean_error"] < figures["0-99"]["mean_error"]
        assert figures["1000+"]["high_over_exact"] < figures["0-99"]["high_over_exact"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"features": ["bytes", "nope"], "weights": [1.0, 1.0]}, "CANDIDATES"),
        ({"weights": []}, "one weight per feature"),
        ({"categories": {}}, "categories must be exactly"),
        ({"below": 0.2}, "expected exactly the keys"),
        ({"intercept": float("nan")}, "finite"),
        ({"slack": 1.5}, "slack"),
    ],
)
def test_a_malformed_model_is_refused_when_loaded(change: dict[str, Any], message: str) -> None:
    """A fitted model not of the fitter's shape raises InputError naming the family."""
    fitted = {**bundled_model()["families"]["qwen"], **change}
    with pytest.raises(InputError, match=message):
        TextEstimator(models={"qwen": fitted})
    with pytest.raises(InputError, match="not a tokenizer family"):
        TextEstimator(models={"klingon": bundled_model()["families"]["qwen"]})


def _rows() -> list[dict[str, Any]]:
    with CALIBRATION.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.mark.skipif(not CALIBRATION.exists(), reason="shared/calibration is not beside the repo")
@pytest.mark.parametrize("family", FAMILIES)
def test_calibration_coverage_and_error(family: str) -> None:
    """On the calibration texts the exact count is inside [low, high] for >= 99 % and the mean
    relative error of `expected` stays under 10 % (held-out figures: benchmarks/ and README)."""
    rows = _rows()
    inside = 0
    errors = []
    for row in rows:
        exact = row["tokens"][KEY[family]]
        tokens = ESTIMATOR.estimate(row["text"], family)
        inside += tokens.low <= exact <= tokens.high
        errors.append(abs(tokens.expected - exact) / exact)
    assert inside / len(rows) >= 0.99
    assert sum(errors) / len(errors) < 0.10


@given(st.text(max_size=2000), st.sampled_from(FAMILIES))
def test_grouped_sum_equals_the_fitted_feature_sum(text: str, family: str) -> None:
    """The estimator's regrouped weighted sum is the fit's: intercept plus weight x count of
    every fitted feature in order, counted by count_features (as the fitting script does)."""
    from operator import mul

    from router.estimate.text import _Linear
    from router.estimate.textfeatures import (
        CLASS_TABLE,
        CONTINUATION,
        compile_features,
        count_features,
    )

    fitted = bundled_model()["families"][family]
    features = compile_features(tuple(fitted["features"]))
    raw = text.encode("utf-8", "surrogatepass")
    reference = sum(map(mul, fitted["weights"], count_features(raw, features)))
    classes = raw.translate(CLASS_TABLE, CONTINUATION)
    grouped = _Linear.of(features, tuple(fitted["weights"])).value(raw, classes)
    assert grouped == pytest.approx(reference, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The committee met on Tuesday and agreed to publish the minutes.", "prose"),
        ("def area(radius):\n    return math.pi * radius * radius  # {r}\n", "code"),
        ("12.5, 13.75, 14.0, 99.1, 0.003\n", "data"),
        ("3f2504e0-4f89-11d3-9a0c-0305e82c3301", "ids"),
        ("aGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQgZW5jb2RlZA==", "noise"),
        ("東京は日本の首都です。人口は多い。", "cjk"),
        ("Москва — столица России.", "script"),
        ("great job 😂😂🎉", "emoji"),
    ],
)
def test_a_text_category_is_read_off_its_bytes(text: str, expected: str) -> None:
    """The category that picks a text's band, from its class string alone."""
    from router.estimate.textfeatures import CLASS_TABLE, CONTINUATION, category

    assert category(text.encode().translate(CLASS_TABLE, CONTINUATION)) == expected


def test_bands_narrow_with_length_for_prose() -> None:
    """The fitted bands: for every family, a prose text of 2,000 characters gets a range much
    narrower than one of 50 (one global margin used to give both the width of the worst)."""
    short = "The committee met on Tuesday. "[:50]
    long = (
        "The committee met on Tuesday and agreed to publish the minutes of the "
        "meeting, with the budget attached, before the end of the month. "
    ) * 15
    for family in FAMILIES:
        a, b = ESTIMATOR.estimate(short, family), ESTIMATOR.estimate(long, family)
        assert b.high / b.expected < a.high / a.expected, family
        assert b.high / b.expected < 1.6, (family, b)
