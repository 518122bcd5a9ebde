"""The estimate of a request on a model: tokens, output bounds and cost through one function."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pricing import Catalog, price_tokens
from router import Estimator, OutputPrior, Request, TextEstimator

from .images import png


@pytest.fixture(scope="module")
def estimator() -> Estimator:
    return Estimator(Catalog.bundled())


REQUEST = Request.from_prompt(
    "Describe the chart and list three numbers from it.", [png(1024, 1024)], system="You are terse."
)


@pytest.mark.parametrize("model", [m.id for m in Catalog.bundled()])
def test_each_bound_is_priced_by_the_billing_function(estimator: Estimator, model: str) -> None:
    """cost.low/expected/high equal price_tokens at the input and output tokens of that bound."""
    spec = Catalog.bundled().get(model)
    estimate = estimator.estimate(REQUEST, spec)
    for bound in ("low", "expected", "high"):
        tokens_in = getattr(estimate.input_tokens, bound)
        tokens_out = getattr(estimate.output_tokens, bound)
        assert getattr(estimate.cost, bound) == price_tokens(spec, tokens_in, tokens_out).total
    assert estimate.cost.low <= estimate.cost.expected <= estimate.cost.high
    parts = sum(p.tokens.expected for p in estimate.parts) + estimate.overhead
    assert estimate.input_tokens.expected == parts


def test_output_high_is_max_tokens_or_provider_default_times_n(estimator: Estimator) -> None:
    """Worst-case output: max_tokens (else 1024 Qwen / 1000 GPT, Gemini) times n."""
    request = Request.from_prompt("hi", n=3)
    assert estimator.estimate(request, "qwen:qwen-vl-plus").output_tokens.high == 3 * 1024
    assert estimator.estimate(request, "gpt:gpt-4o").output_tokens.high == 3 * 1000
    capped = Request.from_prompt("hi", max_tokens=50, n=2)
    assert estimator.estimate(capped, "gemini:gemini-2.5-flash").output_tokens.high == 100


def test_reasoning_models_expect_more_output_never_above_high() -> None:
    """The prior gives reasoning models (or thinking requests) more output, capped at high."""
    estimator = Estimator(output_prior=OutputPrior(default=100, reasoning=700))
    request = Request.from_prompt("hi", max_tokens=2000)
    assert estimator.estimate(request, "gpt:gpt-4o").output_tokens.expected == 100
    assert estimator.estimate(request, "gpt:o3").output_tokens.expected == 700
    thinking = Request.from_prompt("hi", max_tokens=500, thinking=True)
    assert estimator.estimate(thinking, "qwen:qwen3-vl-plus").output_tokens.expected == 500
    assert estimator.estimate(thinking, "qwen:qwen-vl-max").output_tokens.expected == 100
    custom = Estimator(output_prior=OutputPrior(per_model={"gpt:gpt-4o": 9}))
    assert custom.estimate(request, "gpt:gpt-4o").output_tokens.expected == 9


def test_estimate_many_equals_one_by_one(estimator: Estimator) -> None:
    """Estimating many models at once (shared text and image work) gives the same answers."""
    models = list(Catalog.bundled())
    together = estimator.estimate_many(REQUEST, models)
    assert together == [estimator.estimate(REQUEST, m) for m in models]


def test_a_changed_spec_is_estimated_as_it_is_now(estimator: Estimator) -> None:
    """A spec with the id of a catalog model but other prices, tokenizer or output limit (made
    with attrs.evolve, or from an overlay) is estimated by what it says, not by what an earlier
    spec of that id said; estimating many at once agrees with one by one."""
    import attrs

    base = Catalog.bundled().get("gpt:gpt-4o")
    before = estimator.estimate(REQUEST, base)
    tier = attrs.evolve(base.tiers[0], input_rate=base.tiers[0].input_rate * 3)
    dearer = attrs.evolve(base, tiers=(tier, *base.tiers[1:]))
    other = attrs.evolve(
        base, tokenizer="gemma3", defaults=attrs.evolve(base.defaults, max_tokens=7)
    )
    for spec in (dearer, other, base):
        estimate = estimator.estimate(REQUEST, spec)
        tokens_in, tokens_out = estimate.input_tokens.high, estimate.output_tokens.high
        assert estimate.cost.high == price_tokens(spec, tokens_in, tokens_out).total
    assert estimator.estimate(REQUEST, dearer).cost.expected > before.cost.expected
    assert estimator.estimate(REQUEST, other).output_tokens.high == 7
    assert estimator.estimate_many(REQUEST, [base, dearer, other]) == [
        estimator.estimate(REQUEST, spec) for spec in (base, dearer, other)
    ]


def test_tier_follows_each_bound() -> None:
    """Near a tier bound, an estimated text's low and high may be priced at different tiers,
    each at its own."""
    estimator = Estimator(text=TextEstimator(None))
    spec = Catalog.bundled().get("qwen:qwen3-vl-plus")
    request = Request.from_prompt("word " * 31_000, max_tokens=10)
    estimate = estimator.estimate(request, spec)
    assert estimate.input_tokens.low <= 32_000 < estimate.input_tokens.high
    high = price_tokens(spec, estimate.input_tokens.high, 10)
    assert high.tier == 1
    assert estimate.cost.high == high.total
    assert estimate.cost.high > Decimal(estimate.input_tokens.high) * Decimal("0.00021") / 1000


def test_unknown_remote_image_is_a_range(estimator: Estimator) -> None:
    """A URL nobody fetched is priced from the rule's minimum to its maximum."""
    request = Request.from_prompt("", ["https://example.com/photo.jpg"])
    image = estimator.estimate(request, "qwen:qwen3-vl-plus").images[0]
    assert (image.width, image.height) == (None, None)
    assert (image.tokens.low, image.tokens.high) == (6, 2562)
