"""What a routing decision must respect, and what it decided. Values only."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import ClassVar, Literal

import attrs

from pricing import InputError, ModelSpec, RouterError

from ..estimate.estimator import Estimate

Objective = Literal["expected", "worst"]
#: Names accepted by ``Policy.require`` and ``--require``; ``vision`` is the catalog's ``image``.
REQUIREMENTS = {
    "vision": "image",
    "image": "image",
    "video": "video",
    "json": "json",
    "thinking": "thinking",
    "reasoning": "reasoning",
}


@attrs.frozen
class Room:
    """What the hard budgets a call on a model matches still allow it, in each unit (None: no
    budget of that unit applies): USD and tokens of its worst case, and requests."""

    usd: Decimal | None = None
    tokens: Decimal | None = None
    requests: Decimal | None = None


#: What budgets still allow a call on a model: a :class:`Room`, or an amount of USD alone
#: (None: no budget applies).
Allowance = Callable[[ModelSpec], "Room | Decimal | None"]


def _requirements(values: object) -> frozenset[str]:
    names = frozenset(values)  # type: ignore[call-overload]  # any iterable of names
    unknown = names - set(REQUIREMENTS)
    if unknown:
        raise InputError(f"unknown requirement {sorted(unknown)}; known: {sorted(REQUIREMENTS)}")
    return frozenset(REQUIREMENTS[name] for name in names)


def _names(values: Iterable[str]) -> frozenset[str]:
    if isinstance(values, str):
        return frozenset((values,))
    return frozenset(values)


def _at_least_one(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or value < 1:
        raise InputError(f"{attribute.name} must be a whole number >= 1, got {value!r}")


def _objective(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in ("expected", "worst"):
        raise InputError(f"{attribute.name} must be 'expected' or 'worst', got {value!r}")


@attrs.frozen(cache_hash=True)
class Policy:
    """Rules for choosing a model. Requirements the request implies (images → vision, JSON
    output, thinking) are added to ``require`` by the router; list only extra ones here.

    ``providers`` / ``models`` empty means all; ``models`` also pins dated snapshots, which are
    otherwise left out unless ``snapshots`` is true. ``max_cost`` caps a call's cost on the
    ``ceiling`` bound; ``objective`` ranks by the expected or the worst-case cost.
    """

    require: frozenset[str] = attrs.field(default=frozenset(), converter=_requirements)
    providers: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    models: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    exclude: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    snapshots: bool = False
    max_cost: Decimal | None = None
    ceiling: Objective = attrs.field(default="worst", validator=_objective)
    objective: Objective = attrs.field(default="expected", validator=_objective)
    min_quality: str | None = None
    #: When a budget cannot cover the cheapest model's worst case, take the cheapest candidate
    #: it can cover instead of refusing the call.
    fit_budget: bool = False
    #: How many of the ranked candidates a call may try before it gives up: a failure that
    #: repeats on every model (or a gateway that is down) costs a few attempts, not 31.
    max_models: int = attrs.field(default=3, validator=_at_least_one)


#: The policy used when none is given (a value: one instance serves every call).
DEFAULT_POLICY = Policy()


@attrs.frozen
class Candidate:
    """A model that qualifies, with its estimate; ``score`` is the cost ranked on. ``risks``
    say what may still go wrong though the expected count fits (the high bound passing the
    window or the last tier)."""

    model: str
    estimate: Estimate
    score: Decimal
    risks: tuple[str, ...] = ()


@attrs.frozen
class Rejection:
    """A model that does not qualify; ``code`` is the kind of reason, ``reason`` says it."""

    model: str
    code: str
    reason: str


@attrs.frozen
class Decision:
    """The cheapest qualifying model, the ranked fallback order, and every rejection."""

    candidates: tuple[Candidate, ...]
    rejected: tuple[Rejection, ...]

    @property
    def chosen(self) -> Candidate:
        return self.candidates[0]

    @property
    def model(self) -> str:
        return self.candidates[0].model


class NoModelQualifiesError(RouterError):
    """Every model was rejected; ``rejected`` says why for each."""

    exit_code: ClassVar[int] = 4

    def __init__(self, rejected: tuple[Rejection, ...]) -> None:
        self.rejected = rejected
        codes = sorted({r.code for r in rejected})
        super().__init__(
            f"no model qualifies ({len(rejected)} rejected: {', '.join(codes)}); relax the "
            "policy (requirements, providers, --max-cost) or shorten the request"
        )
