"""Frozen values that describe models, usage and cost. Money is always :class:`~decimal.Decimal`."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Generic, TypeVar

import attrs

from . import money
from .errors import InputError

#: Capabilities a catalog model can declare. ``reasoning`` means it reasons by default (hidden
#: reasoning tokens billed as output); ``thinking`` means reasoning can be asked for.
CAPABILITIES = ("image", "video", "json", "thinking", "reasoning")
PROVIDERS = ("qwen", "gpt", "gemini")
TOKENIZERS = ("o200k", "cl100k", "qwen", "gemma3")
#: The message roles each provider's gateway page accepts (Qwen's lists system and user only).
PROVIDER_ROLES: Mapping[str, frozenset[str]] = {
    "qwen": frozenset({"system", "user"}),
    "gpt": frozenset({"system", "user", "assistant"}),
    "gemini": frozenset({"system", "user", "assistant"}),
}


#: More tokens than any one call can use (the largest context window is about 2 million): a
#: count above it is not a usage but a mistake, refused before it can price a fortune.
MAX_TOKENS = 10**9


def _non_negative_int(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value <= MAX_TOKENS:
        raise InputError(
            f"{attribute.name} must be a whole number from 0 to {MAX_TOKENS:,}, got {value!r}"
        )


Number = TypeVar("Number", int, Decimal)


def _ordered(instance: Range[Any], attribute: attrs.Attribute[Any], value: Any) -> None:
    if not instance.low <= instance.expected <= value:
        raise InputError(f"expected low <= expected <= high, got {instance!r}")


@attrs.frozen(cache_hash=True)
class Range(Generic[Number]):
    """A quantity known to lie in ``[low, high]``, most likely ``expected``: a token count (int),
    an amount of USD or a parameter the public documents disagree on (exact Decimals)."""

    low: Number
    expected: Number
    high: Number = attrs.field(validator=_ordered)

    @classmethod
    def exact(cls, value: Number) -> Range[Number]:
        return cls(value, value, value)


@attrs.frozen(cache_hash=True)
class Tier:
    """One price tier: rates in USD per token, for requests of at most ``up_to`` input tokens.

    ``up_to`` is inclusive; ``None`` means the tier has no upper bound.
    """

    up_to: int | None
    input_rate: Decimal
    output_rate: Decimal
    cached_input_rate: Decimal | None = None


@attrs.frozen(cache_hash=True)
class ImageRule:
    """How a model turns an image into tokens: a rule name plus its parameters (see docs/tokens.md)."""

    rule: str
    params: tuple[tuple[str, Range[Decimal]], ...] = ()


@attrs.frozen
class RequestDefaults:
    """What the provider uses when a request leaves a field out."""

    max_tokens: int
    temperature: Decimal
    top_p: Decimal


@attrs.frozen
class ModelSpec:
    """Everything the catalog knows about one model id (``provider:name``)."""

    id: str
    provider: str
    tiers: tuple[Tier, ...]
    price_unit: int
    context_window: int
    max_output_tokens: int
    capabilities: frozenset[str]
    quality: str
    defaults: RequestDefaults
    tokenizer: str
    image_rule: ImageRule
    snapshot_of: str | None = None
    price_source: str = ""
    as_of: str = ""
    limits_source: str = ""

    @property
    def name(self) -> str:
        """The id without its provider prefix, as the provider itself calls the model."""
        return self.id.partition(":")[2]

    @property
    def max_input_tokens(self) -> int | None:
        """The largest input any tier prices, or None when the last tier is unbounded."""
        return self.tiers[-1].up_to

    @property
    def input_ceiling(self) -> int:
        """The most input tokens a call to this model can have: its last tier's bound (nothing
        above it is priced, so the gateway refuses it), else its context window."""
        bound = self.tiers[-1].up_to
        return self.context_window if bound is None else min(bound, self.context_window)

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities


@attrs.frozen
class Usage:
    """Tokens a call used. ``cached_tokens`` is part of ``input_tokens`` and ``reasoning_tokens``
    part of ``output_tokens``, as the OpenAI usage object counts them."""

    input_tokens: int = attrs.field(validator=_non_negative_int)
    output_tokens: int = attrs.field(validator=_non_negative_int)
    cached_tokens: int = attrs.field(default=0, validator=_non_negative_int)
    reasoning_tokens: int = attrs.field(default=0, validator=_non_negative_int)

    def __attrs_post_init__(self) -> None:
        if self.cached_tokens > self.input_tokens:
            raise InputError(
                f"cached_tokens ({self.cached_tokens}) cannot exceed input_tokens "
                f"({self.input_tokens}): cached tokens are part of the input"
            )
        if self.reasoning_tokens > self.output_tokens:
            raise InputError(
                f"reasoning_tokens ({self.reasoning_tokens}) cannot exceed output_tokens "
                f"({self.output_tokens}): reasoning tokens are part of the output"
            )


@attrs.frozen
class Cost:
    """The exact price of one usage on one model, unrounded."""

    model: str
    tier: int
    input_cost: Decimal
    output_cost: Decimal

    @property
    def total(self) -> Decimal:
        return money.add(self.input_cost, self.output_cost)
