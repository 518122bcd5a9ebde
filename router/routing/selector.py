"""Route a request to the cheapest model that can do the job, and say why every other can't.

Ranking uses each model's own estimate of *this* request (its text under the model's tokenizer,
its images under the model's image rule, its tier), not the sum of per-token rates. Text is
estimated once per tokenizer family and each image once per rule; the ranked list for a
request of the same shape is cached, and only the budget check (which changes as money is
spent) runs again.
"""

from __future__ import annotations

import operator
from collections.abc import Hashable, Iterable, Mapping

import attrs
import cachetools

from pricing import PROVIDER_ROLES, PROVIDERS, Catalog, InputError, ModelSpec, NoTierError, usd_text

from ..estimate.estimator import Estimate, Estimator, request_shape
from ..request import Request
from .policy import (
    DEFAULT_POLICY,
    Allowance,
    Candidate,
    Decision,
    NoModelQualifiesError,
    Policy,
    Rejection,
    Room,
)

_Ranked = tuple[tuple[Candidate, ...], tuple[Rejection, ...]]
_SCORE = operator.attrgetter("score")
_POSITION = operator.itemgetter(0)


def implied_requirements(request: Request) -> frozenset[str]:
    """Capabilities the request itself needs: images → image input, JSON output, thinking."""
    needs = set()
    if request.images:
        needs.add("image")
    if request.json_output:
        needs.add("json")
    if request.thinking:
        needs.add("thinking")
    return frozenset(needs)


class Selector:
    """Ranks the catalog's models for a request under a :class:`Policy`.

    The ranking of a request is cached by the request's shape (:func:`request_shape`: texts,
    image sizes, options; never image bytes) and the policy. Replacing :attr:`estimator`
    clears it, since every estimate depends on the estimator's catalog, text model and prior.
    """

    def __init__(
        self,
        catalog: Catalog | None = None,
        *,
        estimator: Estimator | None = None,
        cache_size: int = 256,
    ) -> None:
        if estimator is None:
            estimator = Estimator(catalog) if catalog is not None else Estimator()
        elif catalog is not None and catalog is not estimator.catalog:
            raise InputError(
                "the selector's catalog and its estimator's differ: pass one of them "
                "(the selector routes over the estimator's catalog)"
            )
        self._cache: cachetools.LRUCache[
            tuple[Hashable, Policy, frozenset[tuple[str, str]] | None], _Ranked
        ] = cachetools.LRUCache(maxsize=cache_size)
        self._screens: cachetools.LRUCache[
            tuple[Policy, frozenset[str], frozenset[str]], _Screened
        ] = cachetools.LRUCache(maxsize=64)
        self.estimator = estimator

    @property
    def estimator(self) -> Estimator:
        return self._estimator

    @estimator.setter
    def estimator(self, estimator: Estimator) -> None:
        self._estimator = estimator
        self._cache.clear()
        self._screens.clear()

    @property
    def catalog(self) -> Catalog:
        """The catalog routed over: the estimator's."""
        return self._estimator.catalog

    def route(
        self,
        request: Request,
        policy: Policy | None = None,
        allowance: Allowance | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Decision:
        """The decision for ``request``; raises :class:`NoModelQualifiesError` if none fits.

        ``allowance(model)`` is what budgets still let a call on that model cost (a
        :class:`Room` of USD, tokens and requests, or USD alone); a candidate whose worst case
        is above it in any unit is rejected (the budget seam: the ledger supplies it).
        """
        policy = policy if policy is not None else DEFAULT_POLICY
        # Tags change an estimate only through a calibration's learned output per tag.
        calibrated = self._estimator.calibration is not None and tags
        tag_key = frozenset(tags.items()) if calibrated and tags else None
        key = (request_shape(request), policy, tag_key)
        ranked = self._cache.get(key)
        if ranked is None:
            ranked = self._cache[key] = self._rank(request, policy, tags)
        candidates, rejected = ranked
        if allowance is not None:
            candidates, rejected = _apply_allowance(candidates, rejected, allowance, self.catalog)
        if not candidates:
            raise NoModelQualifiesError(rejected)
        return Decision(candidates, rejected)

    def _rank(
        self, request: Request, policy: Policy, tags: Mapping[str, str] | None = None
    ) -> _Ranked:
        """Candidates cheapest first (ties: best quality, then id); rejections in catalog order."""
        rules, screened = self._screened(policy, request)
        by_expected = policy.objective == "expected"
        passed = [entry for entry in screened if entry.rejection is None]
        rejected = [(e.position, e.rejection) for e in screened if e.rejection is not None]
        candidates: list[Candidate] = []
        estimates = self.estimator.estimate_each(request, (entry.model for entry in passed), tags)
        for entry, (model, estimate) in zip(passed, estimates, strict=True):
            if isinstance(estimate, NoTierError):
                rejected.append((entry.position, _no_tier(model, estimate)))
                continue
            reason = rules.fit(model, request, estimate)
            if reason is not None:
                rejected.append((entry.position, Rejection(model.id, *reason)))
                continue
            cost = estimate.cost
            score = cost.expected if by_expected else cost.high
            candidates.append(
                Candidate(model.id, estimate, score, _risks(model, request, estimate))
            )
        # ``screened`` runs best quality first, then by id: the stable sort by score keeps ties
        # in that order.
        candidates.sort(key=_SCORE)
        rejected.sort(key=_POSITION)
        return tuple(candidates), tuple(r for _, r in rejected)

    def _screened(self, policy: Policy, request: Request) -> _Screened:
        """The policy's rules, and every model with its size-independent rejection (None: it
        passed), best quality first and then by id; cached per policy and what the request
        implies (capabilities, roles)."""
        required = implied_requirements(request) | policy.require
        roles = frozenset(m.role for m in request.messages)
        key = (policy, required, roles)
        found = self._screens.get(key)
        if found is None:
            rules = _Rules(self.catalog, policy, required, roles)
            screened = [
                _Screen(position, model, rules.static(model))
                for position, model in enumerate(self.catalog)
            ]
            screened.sort(key=lambda entry: (-rules.rank[entry.model.id], entry.model.id))
            found = self._screens[key] = (rules, tuple(screened))
        return found


@attrs.frozen
class _Screen:
    """A model's catalog position and its size-independent rejection (None: it passed)."""

    position: int
    model: ModelSpec
    rejection: Rejection | None


_Screened = tuple["_Rules", tuple[_Screen, ...]]


def _risks(model: ModelSpec, request: Request, estimate: Estimate) -> tuple[str, ...]:
    """What the high bound may do though the expected count fits: pass the last tier (priced at
    the limit: a larger call is refused) or the context window with the output asked for."""
    high = estimate.input_tokens.high
    risks = []
    if estimate.high_may_not_fit:
        risks.append(
            f"up to {high:,} input tokens may pass the {estimate.input_limit:,} it takes "
            f"(the worst case is priced at {estimate.input_limit:,})"
        )
    per_choice = request.max_tokens or model.defaults.max_tokens
    if high + per_choice > model.context_window >= estimate.input_tokens.expected + per_choice:
        risks.append(
            f"up to {high:,} input + {per_choice:,} output tokens may pass its "
            f"{model.context_window:,}-token context window"
        )
    return tuple(risks)


def _no_tier(model: ModelSpec, exc: NoTierError) -> Rejection:
    return Rejection(
        model.id,
        "tier",
        f"no price tier covers {exc.input_tokens:,} input tokens "
        f"(the last ends at {exc.max_input_tokens:,})",
    )


def _apply_allowance(
    candidates: Iterable[Candidate],
    rejected: tuple[Rejection, ...],
    allowance: Allowance,
    catalog: Catalog,
) -> _Ranked:
    kept, refused = [], list(rejected)
    for candidate in candidates:
        left = allowance(catalog.get(candidate.model))
        problem = _over(left if isinstance(left, Room) else Room(usd=left), candidate.estimate)
        if problem is None:
            kept.append(candidate)
        else:
            refused.append(Rejection(candidate.model, "budget", problem))
    return tuple(kept), tuple(refused)


def _over(room: Room, estimate: Estimate) -> str | None:
    """Why the estimate's worst case does not fit the room, or None."""
    worst, tokens = estimate.cost.high, estimate.input_tokens.high + estimate.output_tokens.high
    if room.usd is not None and worst > room.usd:
        return (
            f"worst case ${usd_text(worst)} is more than the ${usd_text(room.usd)} its budgets "
            "still allow"
        )
    if room.tokens is not None and tokens > room.tokens:
        return (
            f"worst case {tokens:,} tokens is more than the {room.tokens:,.0f} its token budgets "
            "still allow"
        )
    if room.requests is not None and room.requests < 1:
        return "its request budgets allow no more calls in this window"
    return None


class _Rules:
    """The policy resolved against a catalog: names checked, the quality floor ranked."""

    def __init__(
        self, catalog: Catalog, policy: Policy, required: frozenset[str], roles: frozenset[str]
    ) -> None:
        self.roles = roles
        unknown = policy.providers - set(PROVIDERS)
        if unknown:
            raise InputError(f"unknown provider {sorted(unknown)}; known: {', '.join(PROVIDERS)}")
        self.policy = policy
        self.required = required
        self.allowed = frozenset(catalog.get(name).id for name in policy.models)
        self.excluded = frozenset(catalog.get(name).id for name in policy.exclude)
        self.rank = {m.id: catalog.quality_rank(m.quality) for m in catalog}
        self.floor = None
        if policy.min_quality is not None:
            if policy.min_quality not in catalog.quality_classes:
                raise InputError(
                    f"unknown quality {policy.min_quality!r}; the catalog's classes, lowest "
                    f"first: {', '.join(catalog.quality_classes)}"
                )
            self.floor = catalog.quality_rank(policy.min_quality)

    def static(self, model: ModelSpec) -> Rejection | None:
        """Reasons that do not depend on the request's size, checked in this order."""
        for check in (self._listed, self._snapshot, self._capable):
            reason = check(model)
            if reason is not None:
                return Rejection(model.id, *reason)
        return None

    def _listed(self, model: ModelSpec) -> tuple[str, str] | None:
        if model.id in self.excluded:
            return "excluded", "excluded by the policy"
        if self.allowed and model.id not in self.allowed:
            return "not-allowed", "not among the models the policy allows"
        if self.policy.providers and model.provider not in self.policy.providers:
            return "provider", f"provider {model.provider} is not allowed"
        return None

    def _snapshot(self, model: ModelSpec) -> tuple[str, str] | None:
        if model.snapshot_of is None or self.policy.snapshots or model.id in self.allowed:
            return None
        return "snapshot", f"dated snapshot of {model.snapshot_of} (pin it or allow snapshots)"

    def _capable(self, model: ModelSpec) -> tuple[str, str] | None:
        unsupported = self.roles - PROVIDER_ROLES[model.provider]
        if unsupported:
            return (
                "roles",
                f"the {model.provider} API takes no {', '.join(sorted(unsupported))} messages",
            )
        missing = self.required - model.capabilities
        if missing:
            return "capability", f"lacks {', '.join(sorted(missing))}"
        if self.floor is not None and self.rank[model.id] < self.floor:
            return "quality", f"quality {model.quality} is below {self.policy.min_quality}"
        return None

    def fit(self, model: ModelSpec, request: Request, estimate: Estimate) -> tuple[str, str] | None:
        """Reasons that depend on this request: output limit, context window, cost ceiling."""
        per_choice = request.max_tokens or model.defaults.max_tokens
        if per_choice > model.max_output_tokens:
            return (
                "output",
                f"max_tokens {per_choice:,} is above its output limit {model.max_output_tokens:,}",
            )
        # The window follows the expected (or exact) count; a high bound past it is a risk.
        needed = estimate.input_tokens.expected + per_choice
        if needed > model.context_window:
            return "context", (
                f"{estimate.input_tokens.expected:,} input + {per_choice:,} output tokens "
                f"exceed its {model.context_window:,}-token context window"
            )
        ceiling = self.policy.max_cost
        if ceiling is not None:
            cost = estimate.cost.high if self.policy.ceiling == "worst" else estimate.cost.expected
            if cost > ceiling:
                return "cost", (
                    f"{self.policy.ceiling} cost ${usd_text(cost)} is above the "
                    f"${usd_text(ceiling)} ceiling"
                )
        return None
