"""Know the cost before sending: tokens and cost of a request on a model, low / expected / high.

Pure computation on values passed in: the request (images already measured), the catalog, a
text estimator and an output prior. Every bound is priced through :func:`pricing.price_tokens`,
the function that bills, with the tier taken at that bound's input tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import attrs

from pricing import Catalog, ModelSpec, amounts

from ._imagetokens import ImageQuery, image_tokens
from ._request import ImagePart, Request
from ._text import TextEstimator
from ._values import CostRange, TokenRange

_ZERO = Decimal(0)


@attrs.frozen
class OutputPrior:
    """Expected output tokens per choice before the call: a prior, never above the maximum.

    Models that reason by default, and requests that ask for thinking, spend hidden reasoning
    tokens billed as output, so they get the larger prior. ``per_model`` overrides by model id.
    """

    default: int = 400
    reasoning: int = 2000
    per_model: Mapping[str, int] = attrs.field(factory=dict, hash=False)

    def per_choice(self, model: ModelSpec, request: Request) -> int:
        if model.id in self.per_model:
            return self.per_model[model.id]
        thinks = model.supports("reasoning") or (request.thinking and model.supports("thinking"))
        return self.reasoning if thinks else self.default


@attrs.frozen
class PartEstimate:
    """Tokens of one part of one message (both numbered from 1)."""

    message: int
    part: int
    kind: str
    tokens: TokenRange
    source: str | None = None
    width: int | None = None
    height: int | None = None


@attrs.frozen
class Estimate:
    """What a request will cost on one model, before it is sent."""

    model: str
    input_tokens: TokenRange
    output_tokens: TokenRange
    cost: CostRange
    parts: tuple[PartEstimate, ...]
    overhead: int

    @property
    def images(self) -> tuple[PartEstimate, ...]:
        return tuple(p for p in self.parts if p.kind == "image")


@attrs.define
class SharedWork:
    """Work shared while one request is estimated for several models: the text parts per
    tokenizer family (with their sums) and the tokens per (image rule, image)."""

    texts: dict[str, _TextWork] = attrs.Factory(dict)
    images: dict[object, PartEstimate] = attrs.Factory(dict)
    outputs: dict[tuple[int, int], TokenRange] = attrs.Factory(dict)
    priced: dict[object, Estimate] = attrs.Factory(dict)
    layout: list[tuple[int, int, ImagePart | None]] | None = None


@attrs.frozen
class _TextWork:
    parts: dict[tuple[int, int], PartEstimate]
    low: int
    expected: int
    high: int
    overhead: int


class Estimator:
    """Estimates requests against a catalog. Text is estimated once per tokenizer family and
    each image once per rule when several models share a :class:`SharedWork`."""

    def __init__(
        self,
        catalog: Catalog | None = None,
        *,
        text: TextEstimator | None = None,
        output_prior: OutputPrior | None = None,
    ) -> None:
        self.catalog = catalog if catalog is not None else Catalog.bundled()
        self.text = text if text is not None else TextEstimator()
        self.output_prior = output_prior if output_prior is not None else OutputPrior()

    def estimate(
        self, request: Request, model: str | ModelSpec, shared: SharedWork | None = None
    ) -> Estimate:
        """The estimate on one model; pass the same ``shared`` to estimate several models."""
        spec = model if isinstance(model, ModelSpec) else self.catalog.get(model)
        work = shared if shared is not None else SharedWork()
        # Models alike in everything an estimate depends on (aliases, same-priced siblings)
        # share one computation.
        signature = (
            spec.tokenizer,
            spec.image_rule,
            spec.tiers,
            spec.defaults.max_tokens,
            self.output_prior.per_choice(spec, request),
        )
        alike = work.priced.get(signature)
        if alike is not None:
            return Estimate(
                spec.id,
                alike.input_tokens,
                alike.output_tokens,
                alike.cost,
                alike.parts,
                alike.overhead,
            )
        estimate = self._compute(request, spec, work)
        work.priced[signature] = estimate
        return estimate

    def _compute(self, request: Request, spec: ModelSpec, work: SharedWork) -> Estimate:
        text = work.texts.get(spec.tokenizer)
        if text is None:
            text = work.texts[spec.tokenizer] = self._text_work(request, spec.tokenizer)
        low, expected, high = (
            text.low + text.overhead,
            text.expected + text.overhead,
            text.high + text.overhead,
        )
        if work.layout is None:
            work.layout = [
                (m_index, p_index, part if isinstance(part, ImagePart) else None)
                for m_index, message in enumerate(request.messages, start=1)
                for p_index, part in enumerate(message.parts, start=1)
            ]
        parts = []
        for m_index, p_index, image_part in work.layout:
            if image_part is None:
                parts.append(text.parts[m_index, p_index])
                continue
            image = self._image_part(image_part, spec, work.images, m_index, p_index)
            tokens = image.tokens
            low, expected, high = low + tokens.low, expected + tokens.expected, high + tokens.high
            parts.append(image)
        output = self._output(request, spec, work.outputs)
        cost = CostRange(
            sum(amounts(spec, low, output.low)[1:], _ZERO),
            sum(amounts(spec, expected, output.expected)[1:], _ZERO),
            sum(amounts(spec, high, output.high)[1:], _ZERO),
        )
        total = TokenRange(low, expected, high)
        return Estimate(spec.id, total, output, cost, tuple(parts), text.overhead)

    def estimate_many(self, request: Request, models: Iterable[ModelSpec]) -> list[Estimate]:
        shared = SharedWork()
        return [self.estimate(request, model, shared) for model in models]

    def output_tokens(self, request: Request, model: ModelSpec) -> TokenRange:
        """High: max_tokens (or the provider default) x n; expected: the prior, capped."""
        return self._output(request, model, {})

    def _output(
        self, request: Request, model: ModelSpec, cache: dict[tuple[int, int], TokenRange]
    ) -> TokenRange:
        per_choice = request.max_tokens or model.defaults.max_tokens
        prior = self.output_prior.per_choice(model, request)
        tokens = cache.get((per_choice, prior))
        if tokens is None:
            high = per_choice * request.n
            tokens = cache[per_choice, prior] = TokenRange(0, min(high, prior * request.n), high)
        return tokens

    def _text_work(self, request: Request, family: str) -> _TextWork:
        parts = {
            (m_index, p_index): PartEstimate(
                m_index, p_index, "text", self.text.estimate(part.text, family)
            )
            for m_index, message in enumerate(request.messages, start=1)
            for p_index, part in enumerate(message.parts, start=1)
            if not isinstance(part, ImagePart)
        }
        names = sum(1 for m in request.messages if m.name)
        overhead = self.text.overhead(family, len(request.messages), names)
        return _TextWork(
            parts,
            sum(p.tokens.low for p in parts.values()),
            sum(p.tokens.expected for p in parts.values()),
            sum(p.tokens.high for p in parts.values()),
            overhead,
        )

    def _image_part(
        self,
        part: ImagePart,
        model: ModelSpec,
        cache: dict[object, PartEstimate],
        m_index: int,
        p_index: int,
    ) -> PartEstimate:
        key = (model.image_rule, m_index, p_index)
        estimate = cache.get(key)
        if estimate is None:
            query = ImageQuery(part.width, part.height, part.detail, part.media_resolution)
            tokens = image_tokens(model.image_rule, query)
            estimate = cache[key] = PartEstimate(
                m_index, p_index, "image", tokens, part.source, part.width, part.height
            )
        return estimate
