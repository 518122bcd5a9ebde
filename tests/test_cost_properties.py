"""Properties of the one pricing function, checked by hypothesis over the whole catalog."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, strategies as st

from pricing import Catalog, ModelSpec, NoTierError, Tier, Usage, price, usd_text

CATALOG = Catalog.load()
MODELS = st.sampled_from(list(CATALOG))


def priceable_usage(model: ModelSpec) -> st.SearchStrategy[Usage]:
    top = model.max_input_tokens or 2_000_000
    return st.integers(0, top).flatmap(
        lambda n: st.builds(
            Usage,
            st.just(n),
            st.integers(0, 200_000),
            st.integers(0, n),
        )
    )


@given(MODELS.flatmap(lambda m: st.tuples(st.just(m), priceable_usage(m))))
def test_cost_is_exact_decimal_and_never_negative(case: tuple[ModelSpec, Usage]) -> None:
    """Every cost is a Decimal (never a float) and >= 0."""
    model, usage = case
    cost = price(model, usage)
    for amount in (cost.input_cost, cost.output_cost, cost.total):
        assert type(amount) is Decimal
        assert amount >= 0
    assert cost.total == cost.input_cost + cost.output_cost


@given(MODELS, st.integers(0, 300_000), st.integers(0, 300_000), st.integers(0, 50_000))
def test_cost_is_monotone_within_a_tier(model: ModelSpec, a: int, b: int, out: int) -> None:
    """More input (or output) tokens in the same tier never cost less."""
    low, high = sorted((a, b))
    try:
        cheap, dear = price(model, Usage(low, out)), price(model, Usage(high, out))
    except NoTierError:
        return
    if cheap.tier == dear.tier:
        assert cheap.total <= dear.total
        assert price(model, Usage(high, out + 1)).total >= dear.total


@given(
    st.decimals(min_value=0, max_value=100, places=6),
    st.decimals(min_value=0, max_value=100, places=6),
    st.integers(0, 10**7),
    st.integers(0, 10**6),
)
def test_flat_price_equals_one_unbounded_tier(inp: Decimal, out: Decimal, n: int, m: int) -> None:
    """A flat-rate model prices exactly like a model with a single unbounded tier."""
    base = CATALOG.get("gpt:gpt-4o")
    flat = _with_tiers(base, (Tier(None, inp / 10**6, out / 10**6),))
    bounded = _with_tiers(base, (Tier(10**8, inp / 10**6, out / 10**6),))
    expected = inp * n / 10**6 + out * m / 10**6
    assert price(flat, Usage(n, m)).total == expected
    assert price(bounded, Usage(n, m)).total == expected


@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_cached_tokens_use_cached_rate_when_the_catalog_has_one(n: int, cached_share: int) -> None:
    """Cached input is billed at the cached rate where one exists, else at the input rate."""
    cached = min(n, cached_share)
    base = CATALOG.get("gpt:gpt-4o")
    with_rate = _with_tiers(
        base, (Tier(None, Decimal("2.5E-6"), Decimal("1E-5"), Decimal("1.25E-6")),)
    )
    usage = Usage(n, 0, cached)
    assert price(with_rate, usage).input_cost == (n - cached) * Decimal(
        "2.5E-6"
    ) + cached * Decimal("1.25E-6")
    assert price(base, usage).input_cost == n * Decimal("2.5E-6")


def test_reasoning_tokens_bill_as_output() -> None:
    """Reasoning tokens are part of output and cost the output rate, not extra."""
    model = CATALOG.get("gpt:o3")
    plain = price(model, Usage(1000, 500))
    reasoning = price(model, Usage(1000, 500, reasoning_tokens=400))
    assert reasoning == plain
    assert reasoning.output_cost == 500 * Decimal("8") / 10**6


def _with_tiers(model: ModelSpec, tiers: tuple[Tier, ...]) -> ModelSpec:
    import attrs

    return attrs.evolve(model, tiers=tiers)


def test_prices_and_estimates_ignore_the_callers_decimal_context() -> None:
    """A caller's context of 6 digits rounding down changes no price or estimate: money is
    computed in costrouter's own context."""
    import decimal

    from router import Estimator, Request

    model = CATALOG.get("qwen:qwen3-vl-plus")
    request = Request.from_prompt("hello " * 300)
    exact = price(model, Usage(141_971, 125))
    expected = Estimator().estimate(request, model)
    with decimal.localcontext(decimal.Context(prec=6, rounding=decimal.ROUND_DOWN)):
        assert price(model, Usage(141_971, 125)) == exact
        assert Estimator().estimate(request, model) == expected
        assert usd_text(exact.total) == usd_text(exact.total.normalize(decimal.Context(prec=60)))
    assert len(exact.total.as_tuple().digits) > 6  # the case would round in the caller's context
