"""Learn from metered calls what the documents leave open: each model's chat template, which of
its image rule's documented bounds its bills follow (or a fitted factor), and its output tokens
per tag. Pure computation over ledger rows; ``costrouter calibrate`` shows and stores it.

A row teaches only if it was metered plainly: status ``ok``, no note (nothing flagged, nothing
billed at a worst case), its estimate's basis kept, its text counted exactly, and served by the
model it was estimated for. Each lesson needs ``min_calls`` such rows.

The template comes from calls without images: billed input minus the text's exact count, fitted
as tokens per message plus a constant (the catalog's per-message figure is kept when all calls
have as many messages). Images: billed input minus text and template, compared with the sum of
the images' documented low, expected and high tokens; the bound whose total error is under 1 %
is taken, else a factor on the expected tokens. Output: the median and 99th percentile of the
output tokens per choice, per model and tag (``"key=value"``) and for all the model's calls.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

import attrs

from pricing import Catalog, UnknownModelError

from .estimate.basis import Basis, Image
from .estimate.calibration import Calibration, ImageFit, ModelCalibration, Template
from .estimate.text import CHAT_OVERHEAD
from .ledger.base import LedgerRow

MIN_CALLS = 5
#: How many of a ledger's newest calls are learned from (the gateway's recent behaviour, read
#: in bounded time from a ledger of millions).
RECENT = 50_000
#: An image bound is taken when it explains the billed image tokens within this share.
IMAGE_FIT = 0.01


@attrs.frozen
class Lesson:
    """What one model's calls taught, and the mean relative error of the expected input and
    output tokens on those calls before and after (output: only calls whose tag was learned)."""

    model: str
    calls: int
    learned: ModelCalibration
    input_before: float
    input_after: float
    output_before: float | None
    output_after: float | None


def usable(row: LedgerRow) -> bool:
    """Whether a row was metered plainly enough to learn from (see the module's doc)."""
    basis = row.basis
    return (
        row.status == "ok"
        and not row.note
        and basis is not None
        and basis.text_exact
        and row.input_tokens > 0
        and row.served_model == row.requested_model
    )


def learn(
    rows: Iterable[LedgerRow], catalog: Catalog, *, min_calls: int = MIN_CALLS
) -> tuple[Calibration, tuple[Lesson, ...]]:
    """A calibration from ``rows`` (models with nothing to teach are left out), and a lesson
    per model it covers."""
    by_model: dict[str, list[LedgerRow]] = defaultdict(list)
    for row in rows:
        if usable(row):
            by_model[row.requested_model].append(row)
    models = {}
    lessons = []
    for model, model_rows in sorted(by_model.items()):
        try:
            family = catalog.get(model).tokenizer
        except UnknownModelError:
            continue
        learned = _learn_model(model_rows, family, min_calls)
        if learned.template is None and learned.images is None and not learned.output:
            continue
        models[model] = learned
        lessons.append(_lesson(model, model_rows, learned))
    return Calibration(models), tuple(lessons)


def _basis(row: LedgerRow) -> Basis:
    assert row.basis is not None  # usable() checked it
    return row.basis


def _learn_model(rows: list[LedgerRow], family: str, min_calls: int) -> ModelCalibration:
    template = _template([r for r in rows if not _basis(r).images], family, min_calls)
    images = _images([r for r in rows if _basis(r).images], template, min_calls)
    output, output_high = _output(rows, min_calls)
    return ModelCalibration(len(rows), template, images, output, output_high)


def _template(rows: list[LedgerRow], family: str, min_calls: int) -> Template | None:
    """Tokens per message and a constant, least squares over calls without images."""
    if len(rows) < min_calls:
        return None
    known = CHAT_OVERHEAD[family]
    points = [
        (_basis(r).messages, _basis(r).names, r.input_tokens - _basis(r).text_tokens) for r in rows
    ]
    counts = [m for m, _, _ in points]
    if len(set(counts)) < 2:
        per_message = known.per_message
    else:
        mean_m = statistics.fmean(counts)
        mean_y = statistics.fmean(y - known.per_name * n for _, n, y in points)
        spread = sum((m - mean_m) ** 2 for m in counts)
        per_message = round(
            sum((m - mean_m) * (y - known.per_name * n - mean_y) for m, n, y in points) / spread
        )
    reply = round(statistics.median(y - per_message * m - known.per_name * n for m, n, y in points))
    return Template(max(per_message, 0), known.per_name, reply)


def _template_tokens(basis: Basis, template: Template | None) -> int:
    return basis.overhead if template is None else template.tokens(basis.messages, basis.names)


_BOUNDS: Mapping[str, Callable[[Image], int]] = {
    "low": lambda image: image[2],
    "expected": lambda image: image[3],
    "high": lambda image: image[4],
}


def _images(rows: list[LedgerRow], template: Template | None, min_calls: int) -> ImageFit | None:
    """The documented bound the billed image tokens follow, or a factor on the expected."""
    if len(rows) < min_calls:
        return None
    billed = [
        r.input_tokens - _basis(r).text_tokens - _template_tokens(_basis(r), template) for r in rows
    ]
    total = sum(billed) or 1
    errors = {}
    for bound, tokens in _BOUNDS.items():
        predicted = [sum(map(tokens, _basis(r).images)) for r in rows]
        errors[bound] = sum(abs(b - p) for b, p in zip(billed, predicted, strict=True)) / total
    best = min(errors, key=errors.__getitem__)
    if errors[best] <= IMAGE_FIT:
        return ImageFit(best)
    expected = sum(sum(image[3] for image in _basis(r).images) for r in rows) or 1
    return ImageFit("expected", round(total / expected, 4))


def _output(rows: list[LedgerRow], min_calls: int) -> tuple[dict[str, int], dict[str, int]]:
    per_tag: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        per_choice = row.output_tokens / _basis(row).choices
        per_tag[""].append(per_choice)
        for key, value in row.tags:
            per_tag[f"{key}={value}"].append(per_choice)
    learned = {tag: values for tag, values in per_tag.items() if len(values) >= min_calls}
    return (
        {tag: round(statistics.median(values)) for tag, values in learned.items()},
        {tag: round(_quantile(values, 0.99)) for tag, values in learned.items()},
    )


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def expected_input(basis: Basis, learned: ModelCalibration | None) -> int:
    """The expected input tokens of a call with ``basis`` under ``learned`` (None: as sent)."""
    if learned is None:
        return basis.expected_input
    images = sum(
        image[3] if learned.images is None else learned.images.tokens(*image[2:])
        for image in basis.images
    )
    return basis.text_tokens + _template_tokens(basis, learned.template) + images


def _lesson(model: str, rows: list[LedgerRow], learned: ModelCalibration) -> Lesson:
    def error(expected: int, actual: int) -> float:
        return abs(expected - actual) / max(actual, 1)

    before = [error(_basis(r).expected_input, r.input_tokens) for r in rows]
    after = [error(expected_input(_basis(r), learned), r.input_tokens) for r in rows]
    out_before, out_after = [], []
    for row in rows:
        key = learned.output_key(dict(row.tags))
        if key is None:
            continue
        basis = _basis(row)
        out_before.append(error(basis.output_prior * basis.choices, row.output_tokens))
        out_after.append(error(learned.output[key] * basis.choices, row.output_tokens))
    return Lesson(
        model,
        len(rows),
        learned,
        statistics.fmean(before),
        statistics.fmean(after),
        statistics.fmean(out_before) if out_before else None,
        statistics.fmean(out_after) if out_after else None,
    )


def lessons_document(lessons: Iterable[Lesson]) -> list[Mapping[str, object]]:
    """The lessons as plain JSON values, for ``calibrate --json``."""
    return [
        {
            "model": lesson.model,
            "calls": lesson.calls,
            "template": None
            if lesson.learned.template is None
            else attrs.asdict(lesson.learned.template),
            "images": None
            if lesson.learned.images is None
            else attrs.asdict(lesson.learned.images),
            "output": dict(lesson.learned.output),
            "input_error": {
                "before": round(lesson.input_before, 4),
                "after": round(lesson.input_after, 4),
            },
            "output_error": None
            if lesson.output_before is None
            else {
                "before": round(lesson.output_before, 4),
                "after": round(lesson.output_after or 0, 4),
            },
        }
        for lesson in lessons
    ]
