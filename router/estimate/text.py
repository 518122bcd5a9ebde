"""Text → tokens for each tokenizer family: exact where an engine counts it, else a fitted
estimate with an honest range.

By default a :class:`TextEstimator` counts exactly with :func:`~router.default_counter` (the
engines bundled in splintr-rs; :func:`~router.local_counter` adds the vocabulary files
``COSTROUTER_VOCAB_<FAMILY>`` names).
A family no engine counts is estimated by a linear model over countable features of the text
(see ``textfeatures``), fitted per family on the calibration set by ``tools/fit_text_model.py``
(``textmodel.json``). Its range is clipped by what is certain: a non-empty text is at least one
token, and a byte-level tokenizer never makes more tokens than the text has UTF-8 bytes.
"""

from __future__ import annotations

import enum
import functools
import json
import math
from collections.abc import Mapping
from importlib import resources
from operator import mul
from typing import Any, Protocol

import attrs

from pricing import TOKENIZERS, InputError, Range

from .counters import default_counter
from .textfeatures import (
    CANDIDATES,
    CATEGORIES,
    CLASS_TABLE,
    CONTINUATION,
    LENGTH_BUCKETS,
    category,
    compile_features,
    length_bucket,
)


class TokenCounter(Protocol):
    """Counts tokens exactly: ``counter(family, text)`` → the count, or None if it can't."""

    def __call__(self, family: str, text: str) -> int | None: ...


@attrs.frozen
class ChatOverhead:
    """Tokens a chat template adds: per message, per ``name`` field, and to prime the reply;
    ``source`` says where the figures come from."""

    per_message: int
    per_name: int
    reply: int
    source: str


_OPENAI = "OpenAI's count (cookbook: How to count tokens with tiktoken)"
#: The figures per family and their source; docs/tokens.md spells each one out.
CHAT_OVERHEAD: Mapping[str, ChatOverhead] = {
    "o200k": ChatOverhead(3, 1, 3, _OPENAI),
    "cl100k": ChatOverhead(3, 1, 3, _OPENAI),
    "qwen": ChatOverhead(
        5,
        0,
        3,
        "Qwen's ChatML, as its tokenizer_config.json's chat_template writes it",
    ),
    "gemma3": ChatOverhead(
        0,
        0,
        0,
        "none: Google publishes no figure for Gemini",
    ),
}


class _Default(enum.Enum):
    COUNTER = "default_counter()"


#: ``TextEstimator(counter=DEFAULT_COUNTER)``, the default: the process's shared exact counter.
DEFAULT_COUNTER = _Default.COUNTER


MODEL_FILE = "textmodel.json"
_NO_TOKENS: Range[int] = Range(0, 0, 0)
_ASCII_CLASSES = frozenset(b"aAd ntp")


@attrs.frozen
class _Linear:
    """A weighted sum of features, regrouped so each group is counted by one C-level ``map``:
    the byte length, raw byte patterns, and class patterns (see ``count_features``)."""

    length: float
    raw_patterns: tuple[bytes, ...]
    raw_weights: tuple[float, ...]
    class_patterns: tuple[bytes, ...]
    class_weights: tuple[float, ...]

    @classmethod
    def of(cls, features: tuple[tuple[bool, bytes], ...], weights: tuple[float, ...]) -> _Linear:
        pairs = tuple(zip(features, weights, strict=True))
        raw = [(pattern, w) for (on_raw, pattern), w in pairs if on_raw and pattern]
        classes = [(pattern, w) for (on_raw, pattern), w in pairs if not on_raw]
        return cls(
            sum(w for (on_raw, pattern), w in pairs if on_raw and not pattern),
            tuple(p for p, _ in raw),
            tuple(w for _, w in raw),
            tuple(p for p, _ in classes),
            tuple(w for _, w in classes),
        )

    def value(self, raw: bytes, classes: bytes) -> float:
        """The weighted sum for a text's UTF-8 bytes ``raw`` and its class string."""
        total: float = self.length * len(raw)
        total += sum(map(mul, self.class_weights, map(classes.count, self.class_patterns)))
        if self.raw_patterns:
            total += sum(map(mul, self.raw_weights, map(raw.count, self.raw_patterns)))
        return total


@attrs.frozen
class _Band:
    """For one category and length bucket: the factor correcting the linear value, and the
    factors giving the low and high bounds from the corrected value."""

    scale: float
    low: float
    high: float


@attrs.frozen
class _FamilyModel:
    """One family's fitted model; ``ascii`` keeps only the features an ASCII text can have;
    ``bands`` maps (category, length bucket index) to its band."""

    linear: _Linear
    ascii: _Linear
    intercept: float
    bands: Mapping[tuple[str, int], _Band]
    slack: int


def _ascii_possible(feature: tuple[bool, bytes]) -> bool:
    on_raw, pattern = feature
    return (on_raw and not pattern) or (not on_raw and set(pattern) <= _ASCII_CLASSES)


_FITTED_KEYS = frozenset({"features", "weights", "intercept", "categories", "slack"})
_BAND_KEYS = ("scale", "low", "high")


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_bands(where: str, categories: object) -> None:
    if not isinstance(categories, Mapping) or set(categories) != set(CATEGORIES):
        raise InputError(f"{where}: categories must be exactly {list(CATEGORIES)}")
    for name, band in categories.items():
        if not isinstance(band, Mapping) or set(band) != set(_BAND_KEYS):
            raise InputError(f"{where}: category {name!r} needs exactly {list(_BAND_KEYS)}")
        for key in _BAND_KEYS:
            values = band[key]
            if (
                not isinstance(values, (list, tuple))
                or len(values) != len(LENGTH_BUCKETS)
                or not all(map(_number, values))
                or not all(v > 0 for v in values)
            ):
                raise InputError(
                    f"{where}: {name}.{key} must be {len(LENGTH_BUCKETS)} positive numbers, "
                    f"one per length bucket {list(LENGTH_BUCKETS)}"
                )
        if not all(lo <= 1 <= hi for lo, hi in zip(band["low"], band["high"], strict=True)):
            raise InputError(f"{where}: {name}: low factors must be <= 1 <= high factors")


def _check_fitted(family: str, fitted: Mapping[str, Any], source: str) -> None:
    """Refuse a fitted model that does not have the fitter's shape, saying what is wrong."""
    where = f"text model {source}, family {family!r}"
    if family not in TOKENIZERS:
        raise InputError(f"{where}: not a tokenizer family; known: {', '.join(TOKENIZERS)}")
    if not isinstance(fitted, Mapping) or set(fitted) != _FITTED_KEYS:
        raise InputError(f"{where}: expected exactly the keys {sorted(_FITTED_KEYS)}")
    features, weights = fitted["features"], fitted["weights"]
    unknown = set(features) - set(CANDIDATES) if isinstance(features, (list, tuple)) else {None}
    if unknown:
        raise InputError(f"{where}: features must be drawn from CANDIDATES, not {unknown}")
    if not isinstance(weights, (list, tuple)) or len(weights) != len(features):
        raise InputError(f"{where}: one weight per feature ({len(features)})")
    if not all(map(_number, (*weights, fitted["intercept"]))):
        raise InputError(f"{where}: weights and intercept must be finite numbers")
    if type(fitted["slack"]) is not int or fitted["slack"] < 0:
        raise InputError(f"{where}: slack must be a whole number of tokens >= 0")
    _check_bands(where, fitted["categories"])


def _load_models(
    fitted_models: Mapping[str, Mapping[str, Any]], source: str
) -> dict[str, _FamilyModel]:
    models = {}
    for family, fitted in fitted_models.items():
        _check_fitted(family, fitted, source)
        features = compile_features(tuple(fitted["features"]))
        weights = tuple(float(w) for w in fitted["weights"])
        kept = [i for i, feature in enumerate(features) if _ascii_possible(feature)]
        bands = {
            (name, index): _Band(*(float(band[key][index]) for key in _BAND_KEYS))
            for name, band in fitted["categories"].items()
            for index in range(len(LENGTH_BUCKETS))
        }
        models[family] = _FamilyModel(
            _Linear.of(features, weights),
            _Linear.of(tuple(features[i] for i in kept), tuple(weights[i] for i in kept)),
            float(fitted["intercept"]),
            bands,
            fitted["slack"],
        )
    return models


@functools.cache
def bundled_model() -> Mapping[str, Any]:
    """The fitted model shipped with the package (``textmodel.json``, written by
    ``tools/fit_text_model.py``): its coefficients per family, the calibration set's sha256
    and size, and the held-out figures of the fit."""
    text = resources.files(__package__).joinpath(MODEL_FILE).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    if document.get("format") != 2 or set(document.get("families", ())) != set(TOKENIZERS):
        raise InputError(
            f"text model {MODEL_FILE}: expected format 2 with a model for each of "
            f"{', '.join(TOKENIZERS)}; reinstall costrouter"
        )
    return document


@functools.cache
def _bundled() -> dict[str, _FamilyModel]:
    return _load_models(bundled_model()["families"], MODEL_FILE)


class TextEstimator:
    """Estimates the tokens of a text for a tokenizer family; pure computation, no I/O.

    ``counter`` counts exactly where it can; by default :func:`~router.default_counter`, with
    None every text is estimated. ``models`` replaces the bundled fitted coefficients (family → the shape of
    ``textmodel.json``'s ``families`` entries); the fitter uses it to score models fitted
    without the texts they are scored on. Either is validated when loaded.
    """

    def __init__(
        self,
        counter: TokenCounter | _Default | None = DEFAULT_COUNTER,
        *,
        models: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._counter = default_counter() if counter is DEFAULT_COUNTER else counter
        self._models = _bundled() if models is None else _load_models(models, "<models>")

    @property
    def counter(self) -> TokenCounter | None:
        """The exact counter consulted first, if any (read-only: estimates cached from this
        estimator's counts stay true)."""
        return self._counter

    def source(self, family: str) -> str | None:
        """What counts ``family``'s text exactly (an engine or a file), or None: estimated."""
        counter = self._counter
        if counter is None:
            return None
        describe = getattr(counter, "source", None)
        if describe is not None:
            found: str | None = describe(family)
            return found
        return "your counter" if counter(family, "hello world") is not None else None

    def estimate(self, text: str, family: str) -> Range[int]:
        """Tokens of ``text`` alone (no chat template), as low / expected / high."""
        if not text:
            return _NO_TOKENS
        if self._counter is not None:
            exact = self._counter(family, text)
            if exact is not None:
                return Range.exact(exact)
        try:
            model = self._models[family]
        except KeyError:
            raise InputError(
                f"no text model for tokenizer family {family!r}; known: {sorted(self._models)}"
            ) from None
        # An ASCII text has none of the other scripts' features: skip counting them.
        linear = model.ascii if text.isascii() else model.linear
        raw = text.encode("utf-8", "surrogatepass")  # once: for the features and the ceiling
        classes = raw.translate(CLASS_TABLE, CONTINUATION)  # one byte per character
        band = model.bands[category(classes), length_bucket(len(classes))]
        value = max(1.0, model.intercept + linear.value(raw, classes)) * band.scale
        ceiling = len(raw)
        expected = min(ceiling, max(1, round(value)))
        low = max(1, math.floor(value * band.low) - model.slack)
        high = min(ceiling, math.ceil(value * band.high) + model.slack)
        return Range(min(low, expected), expected, max(high, expected))

    def overhead(self, family: str, messages: int, names: int = 0) -> int:
        """Tokens the chat template adds to ``messages`` messages, ``names`` of them named."""
        cost = CHAT_OVERHEAD[family]
        return cost.per_message * messages + cost.per_name * names + cost.reply
