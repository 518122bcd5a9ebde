"""Budgets: who may spend how much, per which period. Values and rules only.

A budget's scope is ``global`` or a set of tags (``user=alice,project=atlas``); it applies to a
call whose tags include all of them. Calls are tagged with their ``model`` and ``provider``
too, so ``model=gpt:gpt-4o`` budgets work. Periods are UTC clock minutes and hours, calendar
windows (day, ISO week, month) in the budget's time zone (UTC by default), or ``total`` for
all time. A limit is in USD, tokens or requests (:data:`UNITS`): a provider's rate limits
(requests and tokens a minute) can be mirrored over every process, beside a spending cap of
the same scope and period.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

import attrs

from pricing import InputError, RouterError, money, usd_text

from .calendar import PERIODS, tzinfo, window_key

#: Money is stored as whole nanodollars (1e-9 USD): every bundled price is exact in it (the
#: finest, $0.000052 per 1K tokens, is 52 nanodollars a token), and a signed 64-bit integer of
#: them holds $9.2 billion.
MAX_AMOUNT = Decimal("9e9")


def to_units(amount: Decimal, places: int = 9) -> int:
    """USD → whole nanodollars (or an amount → whole 10^-``places``), rounding up a finer
    amount (never under-counting spend)."""
    return math.ceil(money.MONEY.scaleb(amount, places))


def from_units(value: int, places: int = 9) -> Decimal:
    if not value:
        return Decimal(0)
    return money.MONEY.normalize(money.MONEY.scaleb(Decimal(value), -places))


def to_stored(amount: Decimal) -> Decimal:
    """``amount`` as the ledger keeps it: whole nanodollars, a finer amount rounded up."""
    return from_units(to_units(amount))


#: A tag's name, and its value: no white space, commas, equals signs or control characters
#: (budget scopes write tags as ``k=v,k=v``), encodable, bounded.
TAG_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
TAG_VALUE = re.compile(r"[^\s,=\x00-\x1f\x7f]{1,256}")


def tag_problem(key: object, value: object) -> str | None:
    """What is wrong with one tag, or None."""
    if not isinstance(key, str) or not TAG_NAME.fullmatch(key):
        return f"tag name {key!r} must be 1 to 64 letters, digits, _ . or -"
    if not isinstance(value, str) or not TAG_VALUE.fullmatch(value):
        return (
            f"tag {key}={value!r}: a value is 1 to 256 characters without white space, "
            "commas, equals signs or control characters"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"tag {key}={value!r}: the value is not valid Unicode text"
    return None


def check_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags as a dict, or :class:`InputError` naming the first bad one (checked before a
    call is sent, so a tag the ledger cannot store never costs an answer)."""
    for key, value in tags.items():
        problem = tag_problem(key, value)
        if problem is not None:
            raise InputError(problem)
    return dict(tags)


def parse_scope(text: str) -> frozenset[tuple[str, str]]:
    """``global`` → no tags; ``user=alice,project=atlas`` → those tags (each name once)."""
    if text.strip() == "global":
        return frozenset()
    tags: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = (part.strip() for part in item.partition("="))
        problem = tag_problem(key, value) if sep else "expected key=value"
        if problem is not None or key in tags:
            raise InputError(
                f"budget scope {text!r}: {problem or f'{key} is given twice'}; expected "
                "'global' or comma-joined key=value tags, for example user=alice,project=atlas"
            )
        tags[key] = value
    return frozenset(tags.items())


def _scope(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, frozenset) or not all(
        isinstance(p, tuple) and len(p) == 2 for p in value
    ):
        raise InputError("a budget scope is a frozenset of (name, value) tags; see parse_scope")
    for key, tag in value:
        problem = tag_problem(key, tag)
        if problem is not None:
            raise InputError(f"budget scope: {problem}")
    if len({key for key, _ in value}) != len(value):
        raise InputError("budget scope: a tag name is given twice; a call has one value per tag")


@functools.lru_cache(maxsize=1024)
def scope_text(scope: frozenset[tuple[str, str]]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(scope)) or "global"


def _period(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in PERIODS:
        raise InputError(f"period must be one of {', '.join(PERIODS)}, got {value!r}")


#: What a limit counts, and the decimal places the ledger keeps of it (a window's spend, a
#: hold, a limit are stored as whole units of 10^-places): USD in nanodollars; tokens (a call's
#: input and output, as the gateway reports them) and requests (a call's attempts the gateway
#: may have charged) whole.
UNITS: Mapping[str, int] = {"usd": 9, "tokens": 0, "requests": 0}
#: The largest token or request limit (a window's count stays far inside a 64-bit integer).
MAX_COUNT = Decimal("1e15")


def _unit(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in UNITS:
        raise InputError(f"a budget's unit is one of {', '.join(UNITS)}, got {value!r}")


def _limit(instance: Budget, attribute: attrs.Attribute[Decimal], value: Decimal) -> None:
    if instance.unit != "usd":
        if not isinstance(value, Decimal) or not value.is_finite() or value != value.to_integral():
            raise InputError(
                f"a budget limit in {instance.unit} is a whole number (a Decimal), got {value!r}"
            )
        if not 0 <= value <= MAX_COUNT:
            raise InputError(f"a budget limit in {instance.unit} is from 0 to {MAX_COUNT:,.0f}")
    elif not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= MAX_AMOUNT:
        raise InputError(
            f"a budget limit is a Decimal amount of USD from 0 to {MAX_AMOUNT:,}, got {value!r}"
        )


def _zone(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    tzinfo(value)


#: An alert: a share of the limit in percent ("80"), or "forecast" (the window's pace would
#: spend the limit before the window ends).
FORECAST = "forecast"


def _alerts(value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise InputError("budget alerts are percentages of the limit or 'forecast', e.g. 50,80,100")
    alerts = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        if item != FORECAST and not (item.isdigit() and 1 <= int(item) <= 1000):
            raise InputError(
                f"budget alert {item!r}: a percentage of the limit from 1 to 1000, or "
                f"'{FORECAST}'; for example --alert 50,80,100,forecast"
            )
        alerts.append(item if item == FORECAST else str(int(item)))
    return tuple(sorted(set(alerts), key=lambda a: (a == FORECAST, int(a) if a.isdigit() else 0)))


def _webhook(instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and not (value.startswith(("http://", "https://")) and len(value) < 2048):
        raise InputError(f"a budget's webhook is an http(s) URL, got {value!r}")


@attrs.frozen
class Budget:
    """A cap on spend, tokens or requests (``unit``). ``soft`` budgets never refuse a call:
    they warn when crossed. A budget is known by its scope, period and unit (:attr:`key`)."""

    scope: frozenset[tuple[str, str]] = attrs.field(validator=_scope)
    limit: Decimal = attrs.field(validator=_limit)
    period: str = attrs.field(default="month", validator=_period)
    soft: bool = False
    tz: str = attrs.field(default="UTC", validator=_zone)
    #: Alerts fired once per window across every process (see ``router.alerts``).
    alerts: tuple[str, ...] = attrs.field(default=(), converter=_alerts)
    webhook: str | None = attrs.field(default=None, validator=_webhook)
    unit: str = attrs.field(default="usd", validator=_unit)

    @classmethod
    def parse(cls, scope: str, limit: Decimal | str, **options: object) -> Budget:
        try:
            amount = Decimal(str(limit))
        except ArithmeticError:
            kind = str(options.get("unit", "usd")).replace("usd", "USD")
            raise InputError(f"a budget limit is an amount of {kind}, got {limit!r}") from None
        return cls(parse_scope(scope), amount, **options)  # type: ignore[arg-type]  # checked by attrs

    @property
    def scope_text(self) -> str:
        return scope_text(self.scope)

    @property
    def counter(self) -> str:
        """The budget's period as the ledger keys its windows: ``minute`` for USD, and
        ``minute/requests`` for requests a minute, so a scope can have a cap of each unit in
        one period and every table keyed by (scope, period, window) keeps their counts apart."""
        return period_key(self.period, self.unit)

    @property
    def period_text(self) -> str:
        """The period as people read it, with the unit when it is not USD: ``minute, requests``."""
        return self.period if self.unit == "usd" else f"{self.period}, {self.unit}"

    @property
    def key(self) -> tuple[str, str]:
        """What a budget is known by: its scope's text and :attr:`counter`."""
        return self.scope_text, self.counter

    def to_units(self, amount: Decimal) -> int:
        """An amount in this budget's unit as the ledger stores it (whole units, rounded up)."""
        return to_units(amount, UNITS[self.unit])

    def from_units(self, value: int) -> Decimal:
        return from_units(value, UNITS[self.unit])

    def charge(self, cost: Decimal, tokens: int) -> Decimal:
        """What a call whose worst case is ``cost`` and ``tokens`` holds on this budget."""
        return {"usd": cost, "tokens": Decimal(tokens), "requests": Decimal(1)}[self.unit]

    def show(self, amount: Decimal) -> str:
        """An amount of this budget's unit, for people: ``$0.25``, ``1,200 tokens``, ``1 request``."""
        if self.unit == "usd":
            return f"${usd_text(amount)}"
        return f"{amount:,.0f} {self.unit.removesuffix('s') if amount == 1 else self.unit}"

    def applies_to(self, tags: Mapping[str, str]) -> bool:
        return all(tags.get(key) == value for key, value in self.scope)

    def window(self, now: float) -> str:
        """The key of the period ``now`` (a Unix time) falls in: its first day, or ``total``."""
        return window_key(self.period, self.tz, now)


def period_key(period: str, unit: str) -> str:
    """See :attr:`Budget.counter`."""
    return period if unit == "usd" else f"{period}/{unit}"


def split_key(counter: str) -> tuple[str, str]:
    """A stored period key back into (period, unit)."""
    period, _, unit = counter.partition("/")
    return period, unit or "usd"


def counted(unit: str, row_cost: Decimal, row_tokens: int, status: str, held: int) -> int:
    """What a recorded call adds to a window of ``unit`` (stored units), ``held`` what it held
    there: its cost; its reported tokens, or, when it has no usage the gateway reported (an
    answer lost, a process died), at least the worst case held, as money is billed; one
    request for every attempt the gateway may have charged (an ``error`` row was not)."""
    if unit == "usd":
        return to_units(row_cost)
    if status == "error":
        return 0
    if unit == "requests":
        return 1
    return row_tokens if status == "ok" else max(row_tokens, held)


@attrs.frozen
class BudgetStatus:
    """A budget in its current window: limit, settled spend, live reservations, what is left."""

    budget: Budget
    window: str
    spent: Decimal
    reserved: Decimal

    @property
    def remaining(self) -> Decimal:
        return money.subtract(money.subtract(self.budget.limit, self.spent), self.reserved)


def remaining_for(
    statuses: Iterable[BudgetStatus], tags: Mapping[str, str], unit: str = "usd"
) -> Decimal | None:
    """What the hard budgets of ``unit`` among ``statuses`` that match ``tags`` still allow
    (None: none applies)."""
    left = [
        s.remaining
        for s in statuses
        if not s.budget.soft and s.budget.unit == unit and s.budget.applies_to(tags)
    ]
    return min(left) if left else None


#: Tags every call carries, set from its model: the exact id, its family (the id its dated
#: snapshots are of, so ``family=qwen:qwen3-vl-plus`` caps the model and every snapshot: a
#: budget cannot be dodged by switching variant), and the provider. A caller's own tags of these
#: names are overwritten.
MODEL_TAGS = ("model", "family", "provider")


def call_tags(tags: Mapping[str, str], model: str, family: str | None = None) -> dict[str, str]:
    """The tags budgets match a call by: the caller's, plus the model's (see MODEL_TAGS);
    ``family`` is the id ``model`` is a snapshot of (None: it is its own family)."""
    return {**tags, "model": model, "family": family or model, "provider": model.partition(":")[0]}


class BudgetExceededError(RouterError):
    """A hard budget cannot cover a call's worst case; nothing was sent. Exit 3."""

    exit_code: ClassVar[int] = 3

    def __init__(
        self, budget: Budget, spent: Decimal, reserved: Decimal, requested: Decimal
    ) -> None:
        self.budget, self.scope, self.period = budget, budget.scope_text, budget.period
        self.limit, self.spent, self.reserved, self.requested = (
            budget.limit,
            spent,
            reserved,
            requested,
        )
        show = budget.show
        advice = {
            "usd": "raise the limit, lower max_tokens, or pick a cheaper model",
            "tokens": "raise the limit, lower max_tokens, or wait for the next window",
            "requests": "raise the limit or wait for the next window",
        }[budget.unit]
        super().__init__(
            f"budget {self.scope} ({budget.period_text}) cannot cover this call: limit {show(budget.limit)}, "
            f"spent {show(spent)}, reserved {show(reserved)}, this call's worst case "
            f"{show(requested)}; {advice}"
        )


def matching(budgets: Iterable[Budget], tags: Mapping[str, str]) -> list[Budget]:
    return [b for b in budgets if b.applies_to(tags)]
