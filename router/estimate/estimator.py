"""Know the cost before sending: tokens and cost of a request on a model, low / expected / high.

Pure computation on values passed in: the request (images already measured), the catalog, a
text estimator and an output prior. Every bound is priced through :func:`pricing.amounts`, the
arithmetic :func:`pricing.price` bills with, the tier taken at that bound's input tokens.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Mapping

import attrs

from pricing import Catalog, ImageRule, ModelSpec, amounts

from ..request import ImagePart, Request
from ..values import CostRange, TokenRange
from .images import ImageQuery, image_tokens
from .text import TextEstimator

#: Every kind of input (tokenizer, image rule), of output (default max_tokens, output prior) and
#: of prices (tiers) seen → a number unique in the process, so SharedWork keys its work by a
#: small int. ``next`` on a count is atomic, so two threads never give two kinds one number.
_KIND_IDS: dict[tuple[object, ...], int] = {}
_NEXT_KIND = itertools.count()


def _kind_id(kind: tuple[object, ...]) -> int:
    found = _KIND_IDS.get(kind)
    return found if found is not None else _KIND_IDS.setdefault(kind, next(_NEXT_KIND))


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


#: A model's spec, output prior, and the numbers of its input, output and priced kinds.
_Kind = tuple[ModelSpec, int, int, int, int]

#: Input tokens of a request for a kind of model: total, per-part breakdown, chat overhead.
_Input = tuple[TokenRange, tuple[PartEstimate, ...], int]


def _output_range(request: Request, model: ModelSpec, prior: int) -> TokenRange:
    per_choice = request.max_tokens or model.defaults.max_tokens
    most = per_choice * request.n
    return TokenRange(0, min(most, prior * request.n), most)


@attrs.define
class SharedWork:
    """Work shared while one request is estimated for several models: the text parts per
    tokenizer family (with their sums), each image's tokens per rule, the whole request's input
    tokens per tokenizer and image rule, and its output tokens per default max_tokens and
    output prior."""

    texts: dict[str, _TextWork] = attrs.Factory(dict)
    images: dict[object, PartEstimate] = attrs.Factory(dict)
    tokens: dict[int, _Input] = attrs.Factory(dict)
    outputs: dict[int, TokenRange] = attrs.Factory(dict)
    costs: dict[int, tuple[_Input, TokenRange, CostRange]] = attrs.Factory(dict)
    layout: _Layout | None = None


#: A request's text parts under one family: by (message, part), in order, their summed low,
#: expected and high, and the chat overhead. A plain tuple: it is built once per family a route.
_TextWork = tuple[dict[tuple[int, int], PartEstimate], tuple[PartEstimate, ...], int, int, int, int]


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
        self._kinds_prior: OutputPrior | None = None
        #: request.thinking -> model id -> (its spec, prior, input, output and priced kinds)
        self._kinds: dict[bool, dict[str, _Kind]] = {False: {}, True: {}}

    def estimate(
        self, request: Request, model: str | ModelSpec, shared: SharedWork | None = None
    ) -> Estimate:
        """The estimate on one model; pass the same ``shared`` to estimate several models.

        Input tokens depend only on the tokenizer and the image rule, output tokens only on the
        default ``max_tokens`` and the output prior, so models alike in those share them; each
        model is then priced."""
        spec = model if isinstance(model, ModelSpec) else self.catalog.get(model)
        work = shared if shared is not None else SharedWork()
        kind = self._kinds[request.thinking].get(spec.id)
        if kind is None or kind[0] is not spec or self._kinds_prior is not self.output_prior:
            kind = self._kind(spec, request)
        _, prior, inputs, outputs, priced = kind
        found = work.costs.get(priced)
        if found is None:
            tokens = work.tokens.get(inputs)
            if tokens is None:
                tokens = work.tokens[inputs] = self._input_tokens(request, spec, work)
            output = work.outputs.get(outputs)
            if output is None:
                output = work.outputs[outputs] = _output_range(request, spec, prior)
            total = tokens[0]
            _, low_in, low_out = amounts(spec, total.low, output.low)
            _, expected_in, expected_out = amounts(spec, total.expected, output.expected)
            _, high_in, high_out = amounts(spec, total.high, output.high)
            cost = CostRange(low_in + low_out, expected_in + expected_out, high_in + high_out)
            found = work.costs[priced] = (tokens, output, cost)
        (total, parts, overhead), output, cost = found
        return Estimate(spec.id, total, output, cost, parts, overhead)

    def _kind(self, spec: ModelSpec, request: Request) -> _Kind:
        """The model's output prior for this request, and numbers naming its kind of input
        (tokenizer, image rule), of output (default max_tokens, prior) and of prices (its
        tiers), the last as one number: models alike in one share those tokens, and in all
        three, the cost. Looked up once per model spec (a spec changed with ``attrs.evolve``
        is another) and thinking switch, for the estimator's prior."""
        if self._kinds_prior is not self.output_prior:  # replaced: look up afresh
            self._kinds_prior, self._kinds = self.output_prior, {False: {}, True: {}}
        found = self._kinds[request.thinking].get(spec.id)
        if found is None or found[0] is not spec:
            prior = self.output_prior.per_choice(spec, request)
            inputs = _kind_id(("in", spec.tokenizer, spec.image_rule))
            outputs = _kind_id(("out", spec.defaults.max_tokens, prior))
            priced = _kind_id(("priced", inputs, outputs, spec.tiers))
            found = self._kinds[request.thinking][spec.id] = (spec, prior, inputs, outputs, priced)
        return found

    def _input_tokens(self, request: Request, spec: ModelSpec, work: SharedWork) -> _Input:
        """Input tokens of the request on the model, with the per-part breakdown and overhead."""
        layout = work.layout
        if layout is None:
            layout = work.layout = _layout(request)
        text = work.texts.get(spec.tokenizer)
        if text is None:
            text = work.texts[spec.tokenizer] = self._text_work(request, spec.tokenizer, layout)
        by_place, ordered, low, expected, high, overhead = text
        low += overhead
        expected += overhead
        high += overhead
        if not layout.images:
            return TokenRange(low, expected, high), ordered, overhead
        parts = []
        for m_index, p_index, _, at in layout.parts:
            if at is None:
                parts.append(by_place[m_index, p_index])
                continue
            image = self._image_part(at, spec, work.images, m_index, p_index)
            low += image.tokens.low
            expected += image.tokens.expected
            high += image.tokens.high
            parts.append(image)
        return TokenRange(low, expected, high), tuple(parts), overhead

    def estimate_many(self, request: Request, models: Iterable[ModelSpec]) -> list[Estimate]:
        shared = SharedWork()
        return [self.estimate(request, model, shared) for model in models]

    def output_tokens(self, request: Request, model: ModelSpec) -> TokenRange:
        """High: max_tokens (or the provider default) x n; expected: the prior, capped."""
        return _output_range(request, model, self.output_prior.per_choice(model, request))

    def _text_work(self, request: Request, family: str, layout: _Layout) -> _TextWork:
        parts = {}
        low = expected = high = 0
        for m_index, p_index, text, at in layout.parts:
            if at is None:
                tokens = self.text.estimate(text, family)
                parts[m_index, p_index] = PartEstimate(m_index, p_index, "text", tokens)
                low += tokens.low
                expected += tokens.expected
                high += tokens.high
        overhead = self.text.overhead(family, len(request.messages), layout.names)
        return parts, tuple(parts.values()), low, expected, high, overhead

    def _image_part(
        self,
        at: _ImageAt,
        model: ModelSpec,
        cache: dict[object, PartEstimate],
        m_index: int,
        p_index: int,
    ) -> PartEstimate:
        # Catalog loading interns equal rules, so a rule's identity names it within a route.
        key = (id(model.image_rule), m_index, p_index)
        estimate = cache.get(key)
        if estimate is None:
            part, query = at
            estimate = cache[key] = _image_estimate(
                model.image_rule, query, m_index, p_index, part.source, part.width, part.height
            )
        return estimate


@functools.lru_cache(maxsize=4096)
def _image_estimate(
    rule: ImageRule,
    query: ImageQuery,
    m_index: int,
    p_index: int,
    source: str,
    width: int | None,
    height: int | None,
) -> PartEstimate:
    """An image part's estimate under a rule: a value, memoised like the tokens it carries (the
    same image at the same place in a request costs a lookup next time)."""
    return PartEstimate(m_index, p_index, "image", image_tokens(rule, query), source, width, height)


@functools.lru_cache(maxsize=1024)
def _query(width: int | None, height: int | None, detail: str, media: str | None) -> ImageQuery:
    """One ImageQuery object per distinct image shape: image_tokens' memo then finds it by
    identity instead of comparing field by field."""
    return ImageQuery(width, height, detail, media)


#: An image part and what its rule needs to know of it.
_ImageAt = tuple[ImagePart, ImageQuery]


@attrs.frozen
class _Layout:
    """A request's parts in order: (message, part) numbers from 1, then a text part's text or
    an image part with its query (text ""); plus how many messages carry a name."""

    parts: tuple[tuple[int, int, str, _ImageAt | None], ...]
    images: bool
    names: int


def _layout(request: Request) -> _Layout:
    parts = tuple(
        (
            (
                m_index,
                p_index,
                "",
                (part, _query(part.width, part.height, part.detail, part.media_resolution)),
            )
            if isinstance(part, ImagePart)
            else (m_index, p_index, part.text, None)
        )
        for m_index, message in enumerate(request.messages, start=1)
        for p_index, part in enumerate(message.parts, start=1)
    )
    return _Layout(
        parts,
        any(query is not None for *_, query in parts),
        sum(1 for m in request.messages if m.name),
    )
