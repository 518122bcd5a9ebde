"""Routing: requirements, context and tiers, ceilings, snapshots, budgets, ties, caching."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pricing import Catalog, ModelSpec, price_tokens, tier_for
from router import Estimator, InputError, NoModelQualifiesError, Policy, Request, Selector

from .images import png

PARAGRAPH = (
    "The quarterly report lists revenue, costs and margins for each region, and the notes "
    "explain why the northern office spent more on travel than planned. "
)
LONG = Request.from_prompt(PARAGRAPH * 5000, max_tokens=1000)  # 140,001 tokens, each family


@pytest.fixture(scope="module")
def selector() -> Selector:
    return Selector(Catalog.bundled())


def test_long_prompt_rejects_small_windows_and_prices_each_tier(selector: Selector) -> None:
    """~140K tokens: 128K-context models are rejected for context, Qwen3-VL is priced at its
    128K-256K tier, Gemini 2.5 Pro at its base tier."""
    decision = selector.route(LONG)
    reasons = {r.model: r for r in decision.rejected}
    for small in ("gpt:gpt-4o", "gpt:gpt-4o-mini", "gpt:gpt-4-turbo", "qwen:qwen-vl-max"):
        assert reasons[small].code == "context", reasons[small]
    by_model = {c.model: c for c in decision.candidates}
    qwen = Catalog.bundled().get("qwen:qwen3-vl-plus")
    gemini = Catalog.bundled().get("gemini:gemini-2.5-pro")
    q_tokens = by_model[qwen.id].estimate.input_tokens.expected
    g_tokens = by_model[gemini.id].estimate.input_tokens.expected
    assert tier_for(qwen, q_tokens)[0] == 2
    assert tier_for(gemini, g_tokens)[0] == 0
    q_cost = by_model[qwen.id].estimate.cost.expected
    assert (
        q_cost
        == price_tokens(qwen, q_tokens, by_model[qwen.id].estimate.output_tokens.expected).total
    )
    assert q_cost > q_tokens * Decimal("0.00031") / 1000  # not the first or second tier's rate


def test_image_rules_drive_the_ranking(selector: Selector) -> None:
    """With one large image, gpt-4o-mini (about 25,500 image tokens) ranks below gpt-4o (765),
    though its per-token rates are 16x lower: peers summing rates get this wrong."""
    request = Request.from_prompt("What is this?", [png(2048, 2048)], max_tokens=100)
    order = [c.model for c in selector.route(request).candidates]
    assert order.index("gpt:gpt-4o") < order.index("gpt:gpt-4o-mini")
    text_only = Request.from_prompt("What is this?", max_tokens=100)
    order = [c.model for c in selector.route(text_only).candidates]
    assert order.index("gpt:gpt-4o-mini") < order.index("gpt:gpt-4o")


def test_every_candidate_costs_what_estimate_says(selector: Selector) -> None:
    """Each candidate's estimate equals Estimator.estimate for that model (one pricing path)."""
    request = Request.from_prompt("Summarise.", [png(900, 700)], system="Be brief.")
    estimator = Estimator(Catalog.bundled())
    decision = selector.route(request, Policy(snapshots=True))
    assert len(decision.candidates) == 56
    for candidate in decision.candidates:
        assert candidate.estimate == estimator.estimate(request, candidate.model)
        assert candidate.score == candidate.estimate.cost.expected
    scores = [c.score for c in decision.candidates]
    assert scores == sorted(scores)


def test_requirements_from_the_request_and_the_policy(selector: Selector) -> None:
    """JSON output excludes models without JSON mode; thinking and video are required too."""
    decision = selector.route(Request.from_prompt("list", json_output=True))
    assert {r.model: r.code for r in decision.rejected}["gpt:chatgpt-4o-latest"] == "capability"
    thinking = selector.route(Request.from_prompt("think", thinking=True))
    assert all(Catalog.bundled().get(c.model).supports("thinking") for c in thinking.candidates)
    video = selector.route(Request.from_prompt("x"), Policy(require=["video"]))
    assert {Catalog.bundled().get(c.model).provider for c in video.candidates} == {"gemini"}
    with pytest.raises(InputError, match="unknown requirement"):
        Policy(require=["telepathy"])


def test_providers_exclusions_snapshots_and_pins(selector: Selector) -> None:
    """Provider allow-list, exclusions, undated ids by default, a pinned snapshot allowed."""
    request = Request.from_prompt("hello")
    qwen_only = selector.route(request, Policy(providers=["qwen"]))
    assert {c.model.split(":")[0] for c in qwen_only.candidates} == {"qwen"}
    default = selector.route(request)
    assert all(Catalog.bundled().get(c.model).snapshot_of is None for c in default.candidates)
    pinned = selector.route(request, Policy(models=["gpt-4o-2024-05-13", "gpt-4o"]))
    assert [c.model for c in pinned.candidates] == ["gpt:gpt-4o", "gpt:gpt-4o-2024-05-13"]
    excluded = selector.route(request, Policy(exclude=[default.model]))
    assert excluded.model != default.model


def test_cost_ceiling_on_worst_or_expected(selector: Selector) -> None:
    """max_cost rejects candidates above it, on the worst case by default or the expected."""
    request = Request.from_prompt("hello", max_tokens=1000)
    worst = selector.route(request, Policy(max_cost=Decimal("0.001")))
    assert all(c.estimate.cost.high <= Decimal("0.001") for c in worst.candidates)
    expected = selector.route(request, Policy(max_cost=Decimal("0.001"), ceiling="expected"))
    assert len(expected.candidates) > len(worst.candidates)
    assert any(r.code == "cost" for r in worst.rejected)


def test_quality_floor_and_objective(selector: Selector) -> None:
    """A quality floor drops lower classes; objective=worst ranks by the worst case."""
    request = Request.from_prompt("hello")
    floor = selector.route(request, Policy(min_quality="balanced"))
    assert all(Catalog.bundled().get(c.model).quality != "economy" for c in floor.candidates)
    worst = selector.route(request, Policy(objective="worst"))
    assert [c.score for c in worst.candidates] == [c.estimate.cost.high for c in worst.candidates]
    with pytest.raises(InputError, match="unknown quality"):
        selector.route(request, Policy(min_quality="legendary"))


def test_ties_break_by_quality_then_id(selector: Selector) -> None:
    """Equal costs order deterministically: higher quality first, then model id."""
    decision = selector.route(Request.from_prompt("hello"))
    order = [c.model for c in decision.candidates]
    assert order.index("qwen:qwen-vl-plus") + 1 == order.index("qwen:qwen-vl-plus-latest")


def test_order_is_score_then_quality_then_id_and_rejections_keep_catalog_order(
    selector: Selector,
) -> None:
    """The ranked list is exactly sorted by (score, higher quality, id), whatever the order the
    models were judged in, and rejections come in catalog order."""
    catalog = selector.catalog
    for request in (Request.from_prompt("hello"), Request.from_prompt("x " * 3000)):
        decision = selector.route(request)
        keys = [
            (c.score, -catalog.quality_rank(catalog.get(c.model).quality), c.model)
            for c in decision.candidates
        ]
        assert keys == sorted(keys)
        positions = {model.id: n for n, model in enumerate(catalog)}
        order = [positions[r.model] for r in decision.rejected]
        assert order == sorted(order)


def test_budget_seam_rejects_what_budgets_cannot_cover(selector: Selector) -> None:
    """An allowance below a candidate's worst case rejects it with reason 'budget'."""
    request = Request.from_prompt("hello", max_tokens=500)

    def allowance(model: ModelSpec) -> Decimal | None:
        return Decimal("0.0002") if model.provider == "gpt" else None

    decision = selector.route(request, allowance=allowance)
    for candidate in decision.candidates:
        if candidate.model.startswith("gpt:"):
            assert candidate.estimate.cost.high <= Decimal("0.0002")
    budget = [r for r in decision.rejected if r.code == "budget"]
    assert budget
    assert all(r.model.startswith("gpt:") for r in budget)
    assert "budgets still allow" in budget[0].reason


def test_no_model_qualifies_lists_every_rejection(selector: Selector) -> None:
    """When nothing fits, NoModelQualifiesError (exit 4) carries a reason for all 56 models."""
    with pytest.raises(NoModelQualifiesError) as info:
        selector.route(Request.from_prompt("hello"), Policy(max_cost=Decimal("0.0000001")))
    assert len(info.value.rejected) == 56
    assert info.value.exit_code == 4


def test_output_limit_is_checked(selector: Selector) -> None:
    """max_tokens above a model's output limit rejects it."""
    decision = selector.route(Request.from_prompt("write", max_tokens=20_000))
    assert {r.model: r.code for r in decision.rejected}["gpt:gpt-4o"] == "output"


def test_repeated_request_hits_the_cache_but_budgets_stay_live(selector: Selector) -> None:
    """A repeated request reuses the ranking; the allowance is applied afresh each time."""
    request = Request.from_prompt("cache me", max_tokens=100)
    first = selector.route(request)
    assert selector.route(request) == first
    tight = selector.route(
        request, allowance=lambda model: Decimal(0) if model.id == first.model else None
    )
    assert tight.model == first.candidates[1].model
    assert [r.code for r in tight.rejected if r.model == first.model] == ["budget"]


def test_assistant_turns_rule_out_qwen(selector: Selector) -> None:
    """Qwen's gateway takes system and user messages only: a multi-turn request goes elsewhere."""
    request = Request.from_openai(
        [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi, how can I help?"},
            {"role": "user", "content": "Describe a cat."},
        ]
    )
    decision = selector.route(request)
    reasons = {r.model: r for r in decision.rejected}
    assert reasons["qwen:qwen3-vl-flash"].code == "roles"
    assert "assistant" in reasons["qwen:qwen3-vl-flash"].reason
    assert all(not c.model.startswith("qwen:") for c in decision.candidates)
    single = selector.route(Request.from_prompt("Describe a cat.", system="Be brief."))
    assert any(c.model.startswith("qwen:") for c in single.candidates)


def test_a_prompt_past_the_last_tier_is_rejected_for_tier(selector: Selector) -> None:
    """Qwen3-VL prices up to 256,000 input tokens in a 262,144-token window: a prompt whose
    count (260,401 tokens) passes the last tier is rejected with code "tier", naming the bound."""
    huge = Request.from_prompt(PARAGRAPH * 9300, max_tokens=100)
    with pytest.raises(NoModelQualifiesError) as info:
        selector.route(huge, Policy(models=frozenset({"qwen:qwen3-vl-plus"})))
    reasons = {r.model: r for r in info.value.rejected}
    assert reasons["qwen:qwen3-vl-plus"].code == "tier"
    assert "256,000" in reasons["qwen:qwen3-vl-plus"].reason
