"""Caches keyed by value and scoped to what they serve: regressions for the bugs they once had.

The estimator shares work between the models of one request only; the selector's decision
cache keys on a request's shape (never its image bytes) and is dropped with the estimator it
depends on; a router prices with the catalog its selector estimates with.
"""

from __future__ import annotations

import gc
import tracemalloc

import attrs
import pytest

from pricing import Catalog
from router import Estimator, InputError, OutputPrior, Request, Router, Selector

from .images import encoded, png

SHORT = Request.from_prompt("Hi.")
LONG = Request.from_prompt("Describe the picture in great detail, please. " * 80)


def test_estimating_a_short_then_a_long_request_gives_the_long_ones_tokens() -> None:
    """Work shared between models belongs to one request: after a short request, a longer one
    on the same estimator and selector is estimated as a fresh estimator estimates it (a shared
    memo once answered 7 tokens for a ~758-token request, and budgets reserve that worst case)."""
    estimator, fresh = Estimator(), Estimator()
    models = list(estimator.catalog)[:8]
    estimator.estimate_many(SHORT, models)
    assert estimator.estimate_many(LONG, models) == fresh.estimate_many(LONG, models)
    long_tokens = fresh.estimate(LONG, "qwen:qwen3-vl-flash").input_tokens
    assert long_tokens.expected > 500

    selector = Selector(estimator=estimator)
    selector.route(SHORT)
    routed = selector.route(LONG).chosen.estimate
    assert routed == fresh.estimate(LONG, routed.model)


def test_the_decision_cache_keeps_no_image_bytes_alive() -> None:
    """Routing many requests with distinct large images keeps none of their bytes: the cache
    keys on the request's shape (sizes, sources), not on the request (once 65 MB after 60)."""
    selector = Selector()
    header = png(640, 480)
    size = 400_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for index in range(30):
            image = header + index.to_bytes(4, "big") * (size // 4)  # trailing bytes: same header
            selector.route(Request.from_prompt(f"picture {index}", [image]))
            del image
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 3 * size  # 30 images were routed: keeping them would hold about 12 MB


def test_requests_of_one_shape_share_a_decision_and_others_do_not() -> None:
    """Equal texts, sizes and options hit the cache (whatever the bytes); a different text,
    image size or option is ranked afresh."""
    selector = Selector()
    first = selector.route(Request.from_prompt("look", [png(640, 480)]))
    same_shape = Request.from_prompt("look", [encoded(640, 480, "JPEG")])
    assert selector.route(same_shape).candidates is first.candidates
    for other in (
        Request.from_prompt("look!", [png(640, 480)]),
        Request.from_prompt("look", [png(1600, 1200)]),
        Request.from_prompt("look", [png(640, 480)], max_tokens=50),
    ):
        assert selector.route(other).candidates is not first.candidates


def test_a_new_estimator_invalidates_the_decisions_made_with_the_old_one() -> None:
    """The estimator is a frozen value; the selector drops its cache when given another, so a
    new output prior is used at once (the old ranking was once served after the change)."""
    selector = Selector()
    model = "gpt:gpt-4o-mini"
    before = selector.route(SHORT).candidates
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        selector.estimator.output_prior = OutputPrior(default=5)  # type: ignore[misc]  # frozen
    selector.estimator = attrs.evolve(selector.estimator, output_prior=OutputPrior(default=5))
    after = {c.model: c.estimate.output_tokens.expected for c in selector.route(SHORT).candidates}
    assert after[model] == 5
    assert {c.model: c.estimate.output_tokens.expected for c in before}[model] == 400


def test_a_prior_per_model_cannot_change_behind_the_estimators_back() -> None:
    """OutputPrior copies its per-model mapping, so mutating the dict it was given changes
    nothing that was estimated or cached."""
    overrides = {"gpt:gpt-4o-mini": 50}
    estimator = Estimator(output_prior=OutputPrior(per_model=overrides))
    overrides["gpt:gpt-4o-mini"] = 9_999
    assert estimator.estimate(SHORT, "gpt:gpt-4o-mini").output_tokens.expected == 50


def test_one_catalog_per_router() -> None:
    """A router prices with the catalog its selector estimates with: giving two different
    catalogs is refused (they once priced and estimated from different ones)."""
    other = Catalog.load()
    with pytest.raises(InputError, match="catalog"):
        Router(catalog=other, selector=Selector())
    with pytest.raises(InputError, match="catalog"):
        Selector(other, estimator=Estimator())
    router = Router(selector=Selector(other))
    assert router.catalog is router.selector.catalog is router.selector.estimator.catalog
    assert Router(catalog=other).catalog is other
