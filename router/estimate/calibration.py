"""What metered calls taught about a model: its chat template, how its images are billed, and
its output per tag. A frozen value, stored in the ledger as JSON and applied by the estimator.

The estimator takes it for ``expected``. A correction that raises a count raises ``high`` with
it, so a reservation still covers what the gateway bills; one that lowers a count lowers
``high`` only when ``trust_high`` is set (an opt-in: the worst case is then what was observed,
not what the documents allow, and a call unlike the observed ones may cost more than it
reserved).
"""

from __future__ import annotations

import json
import math
import types
from collections.abc import Mapping
from typing import Any

import attrs

from pricing import InputError

#: Which of an image's documented bounds the bills follow.
IMAGE_BOUNDS = ("low", "expected", "high")


@attrs.frozen
class Template:
    """Tokens the gateway adds per message, per ``name`` field and to prime the reply."""

    per_message: int
    per_name: int
    reply: int

    def tokens(self, messages: int, names: int) -> int:
        return self.per_message * messages + self.per_name * names + self.reply


@attrs.frozen
class ImageFit:
    """How the model's images are billed: at one of the rule's documented bounds, times
    ``scale`` when no bound fits (a fitted factor on the expected count)."""

    bound: str = attrs.field(validator=attrs.validators.in_(IMAGE_BOUNDS))
    scale: float = 1.0

    def tokens(self, low: int, expected: int, high: int) -> int:
        chosen = {"low": low, "expected": expected, "high": high}[self.bound]
        return chosen if self.scale == 1.0 else math.ceil(chosen * self.scale)


def _frozen(value: Mapping[str, int]) -> Mapping[str, int]:
    return types.MappingProxyType(dict(value))


@attrs.frozen
class ModelCalibration:
    """One model's lessons and the number of metered calls they come from. ``output`` maps a
    tag (``"key=value"``, or ``""`` for all the model's calls) to the median output tokens per
    choice; ``output_high`` to their 99th percentile (used for ``high`` only with trust)."""

    calls: int
    template: Template | None = None
    images: ImageFit | None = None
    output: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen, hash=False)
    output_high: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen, hash=False)

    def output_key(self, tags: Mapping[str, str]) -> str | None:
        """The learned output entry for a call with ``tags``: its first tag (by key) learned,
        else the model-wide entry, else None."""
        for key in sorted(tags):
            tag = f"{key}={tags[key]}"
            if tag in self.output:
                return tag
        return "" if "" in self.output else None


def _frozen_models(value: Mapping[str, ModelCalibration]) -> Mapping[str, ModelCalibration]:
    return types.MappingProxyType(dict(value))


@attrs.frozen
class Calibration:
    """Every model's lessons, as stored at ``version`` (0 until stored) at ``created_at``."""

    models: Mapping[str, ModelCalibration] = attrs.field(converter=_frozen_models, hash=False)
    version: int = 0
    created_at: float = 0.0
    trust_high: bool = False

    def to_json(self) -> str:
        return json.dumps(
            {
                model: {
                    "calls": c.calls,
                    "template": None if c.template is None else attrs.asdict(c.template),
                    "images": None if c.images is None else attrs.asdict(c.images),
                    "output": dict(c.output),
                    "output_high": dict(c.output_high),
                }
                for model, c in sorted(self.models.items())
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str, *, version: int = 0, created_at: float = 0.0) -> Calibration:
        try:
            doc: dict[str, Any] = json.loads(text)
            models = {
                model: ModelCalibration(
                    int(entry["calls"]),
                    None if entry["template"] is None else Template(**entry["template"]),
                    None if entry["images"] is None else ImageFit(**entry["images"]),
                    {k: int(v) for k, v in entry["output"].items()},
                    {k: int(v) for k, v in entry["output_high"].items()},
                )
                for model, entry in doc.items()
            }
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"the ledger's calibration version {version} is malformed ({exc}): "
                "costrouter calibrate --reset removes it"
            ) from None
        return cls(models, version, created_at)
