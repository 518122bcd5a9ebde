"""The one pricing function: what a usage costs on a model, exactly."""

from __future__ import annotations

from decimal import Decimal

from . import money
from .errors import NoTierError
from .values import Cost, ModelSpec, Tier, Usage


def tier_for(model: ModelSpec, input_tokens: int, *, past_last: bool = False) -> tuple[int, Tier]:
    """The tier that prices a request of ``input_tokens`` (bounds are inclusive).

    Raises :class:`NoTierError` when the input is above the last bounded tier, unless
    ``past_last``: then the last tier prices it (metering an answer the gateway gave and billed,
    where a price must be found; an estimate keeps the error)."""
    for index, tier in enumerate(model.tiers):
        if tier.up_to is None or input_tokens <= tier.up_to:
            return index, tier
    if past_last:
        return len(model.tiers) - 1, model.tiers[-1]
    raise NoTierError(model.id, input_tokens, model.tiers[-1].up_to or 0)


def amounts(
    model: ModelSpec,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int = 0,
    *,
    past_last: bool = False,
) -> tuple[int, Decimal, Decimal]:
    """The arithmetic behind every price: (tier index, input cost, output cost), exact.

    :func:`price_tokens` wraps it in a :class:`Cost`; the estimator calls it directly for its
    three bounds, so estimates and bills come from the same lines of code.
    """
    tiers = model.tiers
    first = tiers[0]
    if first.up_to is None or input_tokens <= first.up_to:  # the common case: no search
        index, tier = 0, first
    else:
        index, tier = tier_for(model, input_tokens, past_last=past_last)
    if cached_tokens and tier.cached_input_rate is not None:
        input_cost = money.add(
            money.multiply(input_tokens - cached_tokens, tier.input_rate),
            money.multiply(cached_tokens, tier.cached_input_rate),
        )
    else:
        input_cost = money.multiply(input_tokens, tier.input_rate)
    return index, input_cost, money.multiply(output_tokens, tier.output_rate)


def price_tokens(
    model: ModelSpec,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int = 0,
    *,
    past_last: bool = False,
) -> Cost:
    """Price token counts on ``model``; see :func:`price`. Counts are trusted to be valid."""
    index, input_cost, output_cost = amounts(
        model, input_tokens, output_tokens, cached_tokens, past_last=past_last
    )
    return Cost(model.id, index, input_cost, output_cost)


def price(model: ModelSpec, usage: Usage, *, past_last: bool = False) -> Cost:
    """What ``usage`` costs on ``model``.

    The tier is chosen by the request's input tokens (inclusive bound) and prices the whole
    request, input and output alike. Cached input tokens cost the tier's cached rate where the
    catalog has one, else the input rate. Reasoning tokens are part of the output and cost the
    output rate. The result is exact: nothing is rounded here. Input above the last tier raises
    :class:`NoTierError`, or with ``past_last`` is priced at the last tier.
    """
    return price_tokens(
        model, usage.input_tokens, usage.output_tokens, usage.cached_tokens, past_last=past_last
    )


_DISPLAY_PLACES = Decimal("0.00000001")


def usd_text(amount: Decimal) -> str:
    """An exact amount as a plain decimal string, without exponent or trailing zeros."""
    text = format(money.MONEY.normalize(amount), "f")
    return "0" if text in ("-0", "0") else text


def usd_display(amount: Decimal, places: Decimal = _DISPLAY_PLACES) -> str:
    """An amount rounded for people to read (half-even, 8 places by default).

    The only place the library rounds money; stored and compared amounts stay exact.
    """
    return format(money.MONEY.quantize(amount, places), "f")  # MONEY rounds half-even
