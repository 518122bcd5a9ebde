"""Know the cost before sending: tokens and cost of a request on a model, low / expected / high.

Pure computation on values passed in: the request (images already measured), the catalog, a
text estimator and an output prior. Every bound is priced through :func:`pricing.price_tokens`,
the function that bills, with the tier taken at that bound's input tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from pricing import Catalog, ModelSpec, price_tokens

from ._imagetokens import ImageQuery, image_tokens
from ._request import ImagePart, Request
from ._text import TextEstimator
from ._values import ZERO_TOKENS, CostRange, TokenRange


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


class Estimator:
    """Estimates requests against a catalog. Text is estimated once per tokenizer family and
    each image once per rule when several models are estimated together (:meth:`estimate_many`)."""

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

    def estimate(self, request: Request, model: str | ModelSpec) -> Estimate:
        spec = model if isinstance(model, ModelSpec) else self.catalog.get(model)
        return self._estimate(request, spec, {}, {})

    def estimate_many(self, request: Request, models: Iterable[ModelSpec]) -> list[Estimate]:
        texts: dict[str, list[PartEstimate]] = {}
        images: dict[object, TokenRange] = {}
        return [self._estimate(request, model, texts, images) for model in models]

    def output_tokens(self, request: Request, model: ModelSpec) -> TokenRange:
        """High: max_tokens (or the provider default) x n; expected: the prior, capped."""
        per_choice = request.max_tokens or model.defaults.max_tokens
        high = per_choice * request.n
        expected = min(high, self.output_prior.per_choice(model, request) * request.n)
        return TokenRange(0, expected, high)

    def _estimate(
        self,
        request: Request,
        model: ModelSpec,
        texts: dict[str, list[PartEstimate]],
        images: dict[object, TokenRange],
    ) -> Estimate:
        if model.tokenizer not in texts:
            texts[model.tokenizer] = self._text_parts(request, model.tokenizer)
        parts = list(texts[model.tokenizer])
        for m_index, message in enumerate(request.messages, start=1):
            for p_index, part in enumerate(message.parts, start=1):
                if isinstance(part, ImagePart):
                    parts.append(self._image_part(part, model, images, m_index, p_index))
        parts.sort(key=lambda p: (p.message, p.part))
        names = sum(1 for m in request.messages if m.name)
        overhead = self.text.overhead(model.tokenizer, len(request.messages), names)
        total = sum((p.tokens for p in parts), ZERO_TOKENS) + TokenRange.exact(overhead)
        output = self.output_tokens(request, model)
        cost = CostRange(
            *(
                price_tokens(model, getattr(total, bound), getattr(output, bound)).total
                for bound in ("low", "expected", "high")
            )
        )
        return Estimate(model.id, total, output, cost, tuple(parts), overhead)

    def _text_parts(self, request: Request, family: str) -> list[PartEstimate]:
        return [
            PartEstimate(m_index, p_index, "text", self.text.estimate(part.text, family))
            for m_index, message in enumerate(request.messages, start=1)
            for p_index, part in enumerate(message.parts, start=1)
            if not isinstance(part, ImagePart)
        ]

    def _image_part(
        self,
        part: ImagePart,
        model: ModelSpec,
        cache: dict[object, TokenRange],
        m_index: int,
        p_index: int,
    ) -> PartEstimate:
        query = ImageQuery(part.width, part.height, part.detail, part.media_resolution)
        key = (model.image_rule, query)
        tokens = cache.get(key)
        if tokens is None:
            tokens = cache[key] = image_tokens(model.image_rule, query)
        return PartEstimate(m_index, p_index, "image", tokens, part.source, part.width, part.height)
