"""Frozen values of the router: token and cost ranges."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs


def _ordered(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not instance.low <= instance.expected <= value:
        raise ValueError(f"expected low <= expected <= high, got {instance!r}")


@attrs.frozen
class TokenRange:
    """A token count known to lie in ``[low, high]``, most likely ``expected``."""

    low: int
    expected: int
    high: int = attrs.field(validator=_ordered)

    @classmethod
    def exact(cls, count: int) -> TokenRange:
        return cls(count, count, count)


ZERO_TOKENS = TokenRange(0, 0, 0)


@attrs.frozen
class CostRange:
    """A cost in USD known to lie in ``[low, high]``, most likely ``expected``; exact Decimals."""

    low: Decimal
    expected: Decimal
    high: Decimal = attrs.field(validator=_ordered)
