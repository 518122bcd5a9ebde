"""Long prompts route by what is likely and are priced at what is possible: tiers and windows
follow the expected (or exact) count, the high bound is priced at no more than the model takes
and shown as a risk, and an estimate never fails because its high bound passes the last tier."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pricing import Catalog, Range, price_tokens, tier_for
from router import Estimator, Policy, Request, Selector, TextEstimator, default_counter
from router.estimate.counters import bundled_available

from .conftest import RunCli

#: An ordinary English paragraph; 4,725 copies are about 151,000 tokens in every family.
PARAGRAPH = (
    "Our support team answered most tickets within a day last quarter, although the backlog "
    "grew in March when two colleagues were away and the new billing system was rolled out. "
)
COPIES = 4725
QWEN3_VL = ("qwen:qwen3-vl-plus", "qwen:qwen3-vl-flash")
CATALOG = Catalog.bundled()


def _needs_engine() -> None:
    if not bundled_available():
        pytest.skip("splintr-rs has no wheel for this platform")


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "estimated"])
def test_a_long_paragraph_prices_in_the_128k_256k_tier(exact: bool) -> None:
    """151,201 tokens on qwen3-vl-plus: priced (no error) in its 128K-256K tier and both
    Qwen3-VL models route, counted or estimated; counted, gemini-2.5-pro's worst case stays in
    its <=200K tier (estimated, the high bound may reach the next tier and is priced there)."""
    if exact:
        _needs_engine()
    estimator = Estimator(CATALOG, text=TextEstimator() if exact else TextEstimator(None))
    request = Request.from_prompt(PARAGRAPH * COPIES, max_tokens=1000)
    qwen = CATALOG.get("qwen:qwen3-vl-plus")
    estimate = estimator.estimate(request, qwen)
    assert 145_000 < estimate.input_tokens.expected < 175_000
    assert tier_for(qwen, estimate.input_tokens.expected)[0] == 2
    assert estimate.high_may_not_fit is not exact
    gemini = CATALOG.get("gemini:gemini-2.5-pro")
    worst = estimator.estimate(request, gemini)
    if exact:
        assert worst.input_tokens.high == 151_201
        assert tier_for(gemini, worst.input_tokens.high)[0] == 0
    decision = Selector(CATALOG, estimator=estimator).route(request)
    assert set(QWEN3_VL) <= {c.model for c in decision.candidates}


def test_the_exact_count_collapses_the_range() -> None:
    """With the engine, the paragraph's input is one number: the count plus the template."""
    _needs_engine()
    request = Request.from_prompt(PARAGRAPH * COPIES, max_tokens=1000)
    for model in ("qwen:qwen3-vl-plus", "gpt:gpt-4.1", "gpt:gpt-4-turbo", "gemini:gemini-2.5-pro"):
        estimate = Estimator(CATALOG).estimate(request, model)
        tokens = estimate.input_tokens
        assert tokens.low == tokens.expected == tokens.high, model
        assert tokens.expected == estimate.parts[0].tokens.expected + estimate.overhead
        assert estimate.text_counted_by == default_counter().source(estimate.tokenizer)
        assert estimate.text_counted_by is not None


def test_a_high_bound_past_the_last_tier_is_priced_at_the_limit() -> None:
    """An estimated text whose high bound passes Qwen3-VL's 256,000-token last tier: the
    estimate still prices (the expected count fits), the worst case is priced at 256,000
    input tokens, and the router keeps the model with the risk said."""
    qwen = CATALOG.get("qwen:qwen3-vl-plus")
    estimator = Estimator(CATALOG, text=TextEstimator(None))
    request = Request.from_prompt(PARAGRAPH * 6300, max_tokens=100)
    estimate = estimator.estimate(request, qwen)
    assert estimate.input_tokens.expected <= 256_000 < estimate.input_tokens.high
    assert estimate.high_may_not_fit
    assert estimate.input_limit == 256_000
    worst = price_tokens(qwen, 256_000, estimate.output_tokens.high).total
    assert estimate.cost.high == worst
    decision = Selector(CATALOG, estimator=estimator).route(
        request, Policy(models=frozenset({qwen.id}))
    )
    [candidate] = decision.candidates
    assert any("may pass the 256,000 it takes" in risk for risk in candidate.risks)


def test_context_follows_the_expected_count() -> None:
    """A model is rejected for its window only when the expected count does not fit; a high
    bound past it is a risk on the candidate, not a rejection."""
    estimator = Estimator(CATALOG, text=TextEstimator(None))
    gpt4o = CATALOG.get("gpt:gpt-4o")  # 128,000-token window
    copies = next(
        n
        for n in range(3000, 4000, 10)
        if _fits_only_expected(estimator, Request.from_prompt(PARAGRAPH * n, max_tokens=100))
    )
    request = Request.from_prompt(PARAGRAPH * copies, max_tokens=100)
    decision = Selector(CATALOG, estimator=estimator).route(
        request, Policy(models=frozenset({gpt4o.id}))
    )
    [candidate] = decision.candidates
    assert any("context window" in risk for risk in candidate.risks)


def _fits_only_expected(estimator: Estimator, request: Request) -> bool:
    tokens = estimator.estimate(request, "gpt:gpt-4o").input_tokens
    return tokens.expected + 100 <= 128_000 < tokens.high + 100


def test_the_cli_estimate_of_the_long_paragraph_exits_0(run_cli: RunCli) -> None:
    """`estimate --model qwen:qwen3-vl-plus` on the paragraph, counted and estimated: exit 0,
    the cost is the 128K-256K tier's; `route` lists both Qwen3-VL models."""
    _needs_engine()
    prompt = PARAGRAPH * COPIES
    qwen = CATALOG.get("qwen:qwen3-vl-plus")
    for flags in ((), ("--estimate-text",)):
        args = ("--prompt", prompt, "--json", *flags)
        done = run_cli("estimate", "--model", qwen.id, *args)
        assert done.code == 0, done.err
        document = done.json()
        tokens = Range(**document["input_tokens"])
        expected = price_tokens(qwen, tokens.expected, document["output_tokens"]["expected"])
        assert expected.tier == 2
        assert Decimal(document["cost"]["expected"]) == expected.total
        assert document["high_may_not_fit"] is bool(flags)  # estimated: the high bound may pass
        assert document["input_limit"] == 256_000
        route = run_cli("route", *args)
        assert route.code == 0, route.err
        assert set(QWEN3_VL) <= {c["model"] for c in route.json()["candidates"]}


def test_estimate_json_is_exact_for_every_category(run_cli: RunCli) -> None:
    """`estimate --json` on text of each category gives input_tokens low = expected = high =
    the exact count plus the template, on a model of each family."""
    _needs_engine()
    texts = {
        "prose": "The committee met on Tuesday and agreed to publish the minutes.",
        "code": "def area(radius):\n    return math.pi * radius * radius\n",
        "data": "12.5, 13.75, 14.0, 99.1, 0.003\n" * 20,
        "ids": "3f2504e0-4f89-11d3-9a0c-0305e82c3301 " * 10,
        "noise": "aGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQgZW5jb2RlZA==" * 5,
        "cjk": "東京は日本の首都です。人口は多い。",
        "script": "Москва — столица России. Привет, мир!",
        "emoji": "great job 😂😂🎉 see you 👋🏽",
    }
    models = {"o200k": "gpt:gpt-4o", "cl100k": "gpt:gpt-4-turbo", "qwen": "qwen:qwen3-vl-plus"}
    models["gemma3"] = "gemini:gemini-2.5-flash"
    counter = default_counter()
    for family, model in models.items():
        overhead = TextEstimator(None).overhead(family, 1)
        for name, text in texts.items():
            done = run_cli("estimate", "--model", model, "--prompt", text, "--json")
            assert done.code == 0, done.err
            tokens = done.json()["input_tokens"]
            exact = counter(family, text)
            assert exact is not None
            assert tokens == {
                "low": exact + overhead,
                "expected": exact + overhead,
                "high": exact + overhead,
            }, (family, name)
