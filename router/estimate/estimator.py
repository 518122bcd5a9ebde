"""Know the cost before sending: tokens and cost of a request on a model, low / expected / high.

Pure computation on values passed in: the request (images already measured), the catalog, a
text estimator and an output prior. Every bound is priced through :func:`pricing.amounts`, the
arithmetic :func:`pricing.price` bills with, the tier taken at that bound's input tokens.

Estimating one request for many models shares work by value, within that request only: its text
is estimated once per tokenizer family, its input tokens once per tokenizer and image rule, and
models alike in tokenizer, image rule, output limits and price tiers share one priced estimate.
"""

from __future__ import annotations

import types
from collections.abc import Hashable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import attrs

from pricing import Catalog, ImageRule, ModelSpec, NoTierError, Range, amounts, money

from ..request import ImagePart, Request, TextPart
from .basis import Basis
from .calibration import Calibration, ModelCalibration
from .images import ImageQuery, image_tokens
from .text import TextEstimator


def _frozen_mapping(value: Mapping[str, int]) -> Mapping[str, int]:
    return types.MappingProxyType(dict(value))


@attrs.frozen
class OutputPrior:
    """Expected output tokens per choice before the call: a prior, never above the maximum.

    Models that reason by default, and requests that ask for thinking, spend hidden reasoning
    tokens billed as output, so they get the larger prior. ``per_model`` overrides by model id.
    """

    default: int = 400
    reasoning: int = 2000
    per_model: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_mapping, hash=False)

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
    tokens: Range[int]
    source: str | None = None
    width: int | None = None
    height: int | None = None


@attrs.frozen
class Estimate:
    """What a request will cost on one model, before it is sent.

    ``input_limit`` is the most input the model takes (:attr:`~pricing.ModelSpec.input_ceiling`).
    The tier and the window follow the expected count; the high bound may pass the limit (an
    estimated text's range is wide), and is then priced at the limit, the most a call can cost.
    """

    model: str
    input_tokens: Range[int]
    output_tokens: Range[int]
    cost: Range[Decimal]
    parts: tuple[PartEstimate, ...]
    overhead: int
    input_limit: int
    tokenizer: str
    text_counted_by: str | None = None  # what counted the text exactly; None: estimated
    basis: Basis | None = None  # what the expected figures were made of, for the ledger

    @property
    def images(self) -> tuple[PartEstimate, ...]:
        return tuple(p for p in self.parts if p.kind == "image")

    @property
    def high_may_not_fit(self) -> bool:
        """Whether the high input bound is above what the model takes (so priced at the limit)."""
        return self.input_tokens.high > self.input_limit


def request_shape(request: Request) -> Hashable:
    """Everything an estimate of ``request`` depends on, as a value: its texts, roles, names,
    image sources, sizes and options — never the image bytes. Equal shapes, equal estimates."""
    return (
        tuple(
            (
                m.role,
                m.name,
                tuple(
                    p.text
                    if isinstance(p, TextPart)
                    else (p.source, p.width, p.height, p.detail, p.media_resolution)
                    for p in m.parts
                ),
            )
            for m in request.messages
        ),
        request.max_tokens,
        request.n,
        request.json_output,
        request.thinking,
    )


@attrs.frozen
class Estimator:
    """Estimates requests against a catalog. A frozen value: to estimate with another prior or
    text estimator, make another (``attrs.evolve(estimator, output_prior=...)``)."""

    catalog: Catalog = attrs.field(factory=Catalog.bundled)
    text: TextEstimator = attrs.field(factory=TextEstimator, kw_only=True)
    output_prior: OutputPrior = attrs.field(factory=OutputPrior, kw_only=True)
    #: What metered calls taught (see ``calibration``); None: the catalog's figures alone.
    calibration: Calibration | None = attrs.field(default=None, kw_only=True)

    def estimate(
        self, request: Request, model: str | ModelSpec, tags: Mapping[str, str] | None = None
    ) -> Estimate:
        """The estimate on one model (an id, a served name, or a spec); ``tags`` pick the
        learned output of a calibrated model."""
        spec = model if isinstance(model, ModelSpec) else self.catalog.get(model)
        return _RequestWork(self, request, tags).estimate(spec)

    def estimate_many(
        self,
        request: Request,
        models: Iterable[ModelSpec],
        tags: Mapping[str, str] | None = None,
    ) -> list[Estimate]:
        """The estimates on several models, sharing the work they have in common."""
        work = _RequestWork(self, request, tags)
        return [work.estimate(spec) for spec in models]

    def estimate_each(
        self,
        request: Request,
        models: Iterable[ModelSpec],
        tags: Mapping[str, str] | None = None,
    ) -> Iterator[tuple[ModelSpec, Estimate | NoTierError]]:
        """Each model with its estimate, or the :class:`~pricing.NoTierError` that says no price
        tier covers the request on it (so one model's refusal does not stop the others)."""
        work = _RequestWork(self, request, tags)
        for spec in models:
            try:
                yield spec, work.estimate(spec)
            except NoTierError as exc:
                yield spec, exc


#: A request's input tokens on a kind of model: total, per-part breakdown, chat overhead, and
#: what counted its text.
@attrs.frozen
class _Input:
    tokens: Range[int]
    parts: tuple[PartEstimate, ...]
    overhead: int
    counted_by: str | None


@attrs.frozen
class _Text:
    parts: Mapping[tuple[int, int], PartEstimate]
    tokens: Range[int]  # the parts and the chat overhead
    overhead: int
    counted_by: str | None


class _RequestWork:
    """The work of estimating one request, shared between the models it is estimated for.

    Every memo is keyed by the values the work depends on (a tokenizer family, an image rule,
    a model's output limit and price tiers) and lives only as long as this request's estimates.
    """

    def __init__(
        self, estimator: Estimator, request: Request, tags: Mapping[str, str] | None
    ) -> None:
        self.estimator = estimator
        self.request = request
        self.tags = tags or {}
        self._texts: dict[str, _Text] = {}
        self._inputs: dict[tuple[str, ImageRule], _Input] = {}
        self._priced: dict[tuple[Any, ...], tuple[_Input, Range[int], Range[Decimal]]] = {}

    def estimate(self, spec: ModelSpec) -> Estimate:
        prior = self.estimator.output_prior.per_choice(spec, self.request)
        calibration = self.estimator.calibration
        learned = None if calibration is None else calibration.models.get(spec.id)
        if learned is not None and calibration is not None:
            inputs = self._input(spec.tokenizer, spec.image_rule)
            basis = self._basis(inputs, prior)
            return _calibrated(spec, self.request, self.tags, inputs, basis, learned, calibration)
        key = (spec.tokenizer, spec.image_rule, spec.defaults.max_tokens, prior, spec.tiers)
        priced = self._priced.get(key)
        if priced is None:
            inputs = self._input(spec.tokenizer, spec.image_rule)
            output = self._output(spec, prior)
            priced = self._priced[key] = (inputs, output, _cost(spec, inputs.tokens, output))
        inputs, output, cost = priced
        return Estimate(
            spec.id,
            inputs.tokens,
            output,
            cost,
            inputs.parts,
            inputs.overhead,
            spec.input_ceiling,
            spec.tokenizer,
            inputs.counted_by,
            self._basis(inputs, prior),
        )

    def _basis(self, inputs: _Input, prior: int) -> Basis:
        """What the catalog's figures for ``inputs`` were made of (calibration learns from it,
        so it holds the documented image bounds whatever was applied)."""
        messages = self.request.messages
        images = tuple(
            (p.width, p.height, p.tokens.low, p.tokens.expected, p.tokens.high)
            for p in inputs.parts
            if p.kind == "image"
        )
        text_tokens = sum(p.tokens.expected for p in inputs.parts if p.kind == "text")
        return Basis(
            text_tokens,
            inputs.counted_by is not None,
            inputs.overhead,
            len(messages),
            sum(1 for m in messages if m.name),
            images,
            prior,
            self.request.n,
        )

    def _output(self, spec: ModelSpec, prior: int) -> Range[int]:
        """High: max_tokens (or the provider default) x n; expected: the prior, capped."""
        request = self.request
        most = (request.max_tokens or spec.defaults.max_tokens) * request.n
        return Range(0, min(most, prior * request.n), most)

    def _input(self, family: str, rule: ImageRule) -> _Input:
        found = self._inputs.get((family, rule))
        if found is not None:
            return found
        text = self._text(family)
        low, expected, high = text.tokens.low, text.tokens.expected, text.tokens.high
        parts = []
        for m_index, message in enumerate(self.request.messages, start=1):
            for p_index, part in enumerate(message.parts, start=1):
                if isinstance(part, ImagePart):
                    image = _image_estimate(rule, part, m_index, p_index)
                    low += image.tokens.low
                    expected += image.tokens.expected
                    high += image.tokens.high
                    parts.append(image)
                else:
                    parts.append(text.parts[m_index, p_index])
        found = _Input(Range(low, expected, high), tuple(parts), text.overhead, text.counted_by)
        self._inputs[family, rule] = found
        return found

    def _text(self, family: str) -> _Text:
        """The text parts' tokens under one family, their sum with the chat overhead, and it."""
        found = self._texts.get(family)
        if found is not None:
            return found
        text = self.estimator.text
        messages = self.request.messages
        parts = {}
        low = expected = high = text.overhead(
            family, len(messages), sum(1 for m in messages if m.name)
        )
        overhead = low
        for m_index, message in enumerate(messages, start=1):
            for p_index, part in enumerate(message.parts, start=1):
                if isinstance(part, TextPart):
                    tokens = text.estimate(part.text, family)
                    parts[m_index, p_index] = PartEstimate(m_index, p_index, "text", tokens)
                    low += tokens.low
                    expected += tokens.expected
                    high += tokens.high
        # Named only when every text part was counted (a lone surrogate is still estimated).
        exact = parts and all(p.tokens.low == p.tokens.high for p in parts.values())
        counted_by = text.source(family) if exact else None
        found = _Text(parts, Range(low, expected, high), overhead, counted_by)
        self._texts[family] = found
        return found


def _image_estimate(rule: ImageRule, part: ImagePart, message: int, index: int) -> PartEstimate:
    query = ImageQuery(part.width, part.height, part.detail, part.media_resolution)
    tokens = image_tokens(rule, query)
    return PartEstimate(message, index, "image", tokens, part.source, part.width, part.height)


def _cost(spec: ModelSpec, tokens: Range[int], output: Range[int]) -> Range[Decimal]:
    """Each bound priced as billed: the tier taken at that bound's input tokens. The expected
    count must have a tier (else :class:`~pricing.NoTierError`); the high one is priced at no
    more than the model takes, since a larger call is refused, not billed."""
    _, low_in, low_out = amounts(spec, tokens.low, output.low)
    _, expected_in, expected_out = amounts(spec, tokens.expected, output.expected)
    most = max(tokens.expected, min(tokens.high, spec.input_ceiling))
    _, high_in, high_out = amounts(spec, most, output.high)
    return Range(
        money.add(low_in, low_out),
        money.add(expected_in, expected_out),
        money.add(high_in, high_out),
    )


def _calibrated(
    spec: ModelSpec,
    request: Request,
    tags: Mapping[str, str],
    inputs: _Input,
    basis: Basis,
    learned: ModelCalibration,
    calibration: Calibration,
) -> Estimate:
    """The estimate with what metered calls taught: ``expected`` follows the lessons, ``low``
    and ``high`` widen to keep it inside, and ``high`` shrinks only with ``trust_high``."""
    trust = calibration.trust_high
    low, expected, high = inputs.tokens.low, inputs.tokens.expected, inputs.tokens.high
    overhead = inputs.overhead
    if learned.template is not None:
        overhead = learned.template.tokens(basis.messages, basis.names)
        change = overhead - inputs.overhead
        low, expected = low + min(change, 0), expected + change
        high += change if change > 0 or trust else 0
    parts = []
    for part in inputs.parts:
        fit = learned.images
        if part.kind != "image" or fit is None:
            parts.append(part)
            continue
        tokens = part.tokens
        billed = fit.tokens(tokens.low, tokens.expected, tokens.high)
        expected += billed - tokens.expected
        low -= max(tokens.low - billed, 0)
        most = billed if trust else max(billed, tokens.high)
        high += most - tokens.high
        parts.append(attrs.evolve(part, tokens=Range(min(tokens.low, billed), billed, most)))
    most_out = (request.max_tokens or spec.defaults.max_tokens) * request.n
    key = learned.output_key(tags)
    per_choice = basis.output_prior if key is None else learned.output[key]
    out_expected = min(most_out, per_choice * request.n)
    out_high = most_out
    if trust and key is not None:
        out_high = min(most_out, learned.output_high.get(key, most_out) * request.n)
    output = Range(0, out_expected, max(out_high, out_expected))
    tokens = Range(max(0, min(low, expected)), expected, max(high, expected))
    return Estimate(
        spec.id,
        tokens,
        output,
        _cost(spec, tokens, output),
        tuple(parts),
        overhead,
        spec.input_ceiling,
        spec.tokenizer,
        inputs.counted_by,
        basis,
    )
