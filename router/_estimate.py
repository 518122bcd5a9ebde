"""Know the cost before sending: tokens and cost of a request on a model, low / expected / high.

Pure computation on values passed in: the request (images already measured), the catalog, a
text estimator and an output prior. Every bound is priced through :func:`pricing.amounts`, the
arithmetic :func:`pricing.price` bills with, the tier taken at that bound's input tokens.
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


def _total(model: ModelSpec, input_tokens: int, output_tokens: int) -> Decimal:
    """The total cost of a bound, through the same arithmetic that bills (pricing.amounts)."""
    _, input_cost, output_cost = amounts(model, input_tokens, output_tokens)
    return input_cost + output_cost


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


#: Tokens of a request for a kind of model: input total, output, per-part breakdown, overhead.
_Tokens = tuple[TokenRange, TokenRange, tuple[PartEstimate, ...], int]


def _output_range(request: Request, model: ModelSpec, prior: int) -> TokenRange:
    per_choice = request.max_tokens or model.defaults.max_tokens
    most = per_choice * request.n
    return TokenRange(0, min(most, prior * request.n), most)


@attrs.define
class SharedWork:
    """Work shared while one request is estimated for several models: the text parts per
    tokenizer family (with their sums), each image's tokens per rule, and the whole request's
    tokens per kind of model (tokenizer, image rule, default max_tokens, output prior)."""

    texts: dict[str, _TextWork] = attrs.Factory(dict)
    images: dict[object, PartEstimate] = attrs.Factory(dict)
    tokens: dict[object, _Tokens] = attrs.Factory(dict)


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
        """The estimate on one model; pass the same ``shared`` to estimate several models.

        The tokens depend only on the tokenizer, the image rule, the default ``max_tokens`` and
        the output prior, so models alike in those share them; each model is then priced."""
        spec = model if isinstance(model, ModelSpec) else self.catalog.get(model)
        work = shared if shared is not None else SharedWork()
        prior = self.output_prior.per_choice(spec, request)
        key = (spec.tokenizer, spec.image_rule, spec.defaults.max_tokens, prior)
        tokens = work.tokens.get(key)
        if tokens is None:
            tokens = work.tokens[key] = self._tokens(request, spec, work, prior)
        total, output, parts, overhead = tokens
        cost = CostRange(
            _total(spec, total.low, output.low),
            _total(spec, total.expected, output.expected),
            _total(spec, total.high, output.high),
        )
        return Estimate(spec.id, total, output, cost, parts, overhead)

    def _tokens(self, request: Request, spec: ModelSpec, work: SharedWork, prior: int) -> _Tokens:
        """Input tokens (with the per-part breakdown) and output tokens of the request."""
        text = work.texts.get(spec.tokenizer)
        if text is None:
            text = work.texts[spec.tokenizer] = self._text_work(request, spec.tokenizer)
        low = text.low + text.overhead
        expected = text.expected + text.overhead
        high = text.high + text.overhead
        parts = []
        for m_index, message in enumerate(request.messages, start=1):
            for p_index, part in enumerate(message.parts, start=1):
                if not isinstance(part, ImagePart):
                    parts.append(text.parts[m_index, p_index])
                    continue
                image = self._image_part(part, spec, work.images, m_index, p_index)
                low += image.tokens.low
                expected += image.tokens.expected
                high += image.tokens.high
                parts.append(image)
        output = _output_range(request, spec, prior)
        return TokenRange(low, expected, high), output, tuple(parts), text.overhead

    def estimate_many(self, request: Request, models: Iterable[ModelSpec]) -> list[Estimate]:
        shared = SharedWork()
        return [self.estimate(request, model, shared) for model in models]

    def output_tokens(self, request: Request, model: ModelSpec) -> TokenRange:
        """High: max_tokens (or the provider default) x n; expected: the prior, capped."""
        return _output_range(request, model, self.output_prior.per_choice(model, request))

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
