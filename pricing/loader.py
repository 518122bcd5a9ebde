"""Catalog YAML → validated :class:`~pricing.ModelSpec` values.

Parsing is separate from reading: :func:`build_models` takes already-parsed documents, so the
only I/O is :func:`read_document`, which the catalog calls for the bundled file and overlays.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs

from . import money
from .errors import CatalogError
from .values import (
    CAPABILITIES,
    PROVIDERS,
    TOKENIZERS,
    ImageRule,
    ModelSpec,
    Range,
    RequestDefaults,
    Tier,
)

PRICE_UNITS = {"1K": 1_000, "1M": 1_000_000}
#: The largest price per unit and the most decimal places a catalog price may have: far past any
#: real price, and short of what would overflow or vanish in the money arithmetic.
MAX_PRICE = Decimal(1_000_000)
PRICE_PLACES = 20
PRICE_FIELDS = frozenset({"tiers", "input", "output", "cached_input"})
INHERITED_FIELDS = ("price_unit", "price_source", "as_of", "limits_source", "tokenizer", "defaults")
MODEL_FIELDS = (
    PRICE_FIELDS
    | set(INHERITED_FIELDS)
    | {
        "context_window",
        "max_output_tokens",
        "capabilities",
        "quality",
        "image_tokens",
        "snapshot_of",
    }
)
TOP_LEVEL = frozenset({"schema", "currency", "quality_classes", "providers", "blocks", "models"})

#: Per image rule: required parameters, and optional ones with their defaults.
IMAGE_RULES: dict[str, tuple[tuple[str, ...], dict[str, int]]] = {
    "openai_tiles": (("base", "tile"), {}),
    "openai_patches": (("multiplier", "budget"), {"patch_px": 32, "max_side": 2048}),
    "gemini_tiles": (("tile_tokens", "tile_px", "small_px"), {}),
    "gemini_media_resolution": (("media_low", "media_medium", "media_high", "media_default"), {}),
    "qwen_patches": (("patch_px", "max_pixels"), {"markers": 2}),
}
_OPTIONAL_NO_DEFAULT = {"gemini_tiles": ("measured_flat",), "qwen_patches": ("min_pixels",)}


@functools.cache
def _yaml() -> tuple[Any, type[Any]]:
    """PyYAML, and a safe loader of it that refuses a key written twice in one mapping (plain
    YAML keeps the last). The loader uses libyaml's C parser when PyYAML was built with it.
    PyYAML loads when a catalog is first read, not with ``import pricing``."""
    import yaml

    base: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class UniqueKeyLoader(base):  # type: ignore[misc]  # base chosen at run time
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            seen: set[object] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
            mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
            return mapping

    return yaml, UniqueKeyLoader


def read_document(path: str | Path, text: str | None = None) -> dict[str, Any]:
    """Read and parse one catalog file (or ``text`` labelled with ``path``)."""
    source = str(path)
    yaml, loader = _yaml()
    try:
        if text is None:
            text = Path(path).read_text(encoding="utf-8")
        data = yaml.load(text, Loader=loader)
    except OSError as exc:
        raise CatalogError(f"cannot read the file ({exc.strerror})", source=source) from exc
    except yaml.YAMLError as exc:
        detail = str(exc).replace("\n", " ")
        raise CatalogError(f"not valid YAML: {detail}", source=source) from exc
    if not isinstance(data, dict):
        raise CatalogError("expected a mapping with a `models:` key at the top", source=source)
    unknown = set(data) - TOP_LEVEL
    if unknown:
        raise CatalogError(
            f"unknown top-level keys {sorted(map(str, unknown))}; known: {sorted(TOP_LEVEL)}",
            source=source,
        )
    if data.get("schema", 1) != 1:
        raise CatalogError(
            f"schema {data['schema']!r} is not supported (expected 1)", source=source
        )
    return data


@attrs.define
class _Field:
    value: Any
    source: str


@attrs.define
class _Merged:
    """Documents merged field by field, remembering which file each field came from."""

    currency: str = "USD"
    quality_classes: tuple[str, ...] = ()
    providers: dict[str, dict[str, _Field]] = attrs.Factory(dict)
    models: dict[str, dict[str, _Field]] = attrs.Factory(dict)


def merge_documents(documents: list[tuple[str, dict[str, Any]]]) -> _Merged:
    merged = _Merged()
    for source, doc in documents:
        merged.currency = doc.get("currency", merged.currency)
        if "quality_classes" in doc:
            classes = doc["quality_classes"]
            if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
                raise CatalogError(
                    "quality_classes must be a list of names, lowest first", source=source
                )
            merged.quality_classes = tuple(classes)
        for name, fields in _mapping(doc.get("providers") or {}, source, "providers").items():
            if name not in PROVIDERS:
                raise CatalogError(
                    f"unknown provider {name!r}; known providers: {', '.join(PROVIDERS)}",
                    source=source,
                )
            entry = merged.providers.setdefault(name, {})
            for key, value in _mapping(fields, source, f"providers.{name}").items():
                entry[key] = _Field(value, source)
        for model_id, raw in _mapping(doc.get("models") or {}, source, "models").items():
            fields = _mapping(raw, source, f"models.{model_id}")
            unknown = set(fields) - MODEL_FIELDS
            if unknown:
                raise CatalogError(
                    f"unknown fields {sorted(unknown)}; known fields: {sorted(MODEL_FIELDS)}",
                    source=source,
                    model=str(model_id),
                )
            entry = merged.models.setdefault(str(model_id), {})
            _replace_price(entry, fields, source, str(model_id))
            for key, value in fields.items():
                entry[key] = _Field(value, source)
    return merged


def _replace_price(
    entry: dict[str, _Field], fields: dict[str, Any], source: str, model_id: str
) -> None:
    """Make room for an overlay's price fields. ``tiers`` replace any price whole; ``input``
    and ``output`` given together replace tiers; one flat field alone changes just that field
    of a flat price, and is refused on a tiered one (it would leave a price half-made)."""
    given = PRICE_FIELDS & set(fields)
    if "tiers" in given or {"input", "output"} <= given:
        for key in PRICE_FIELDS - given:
            entry.pop(key, None)
    elif given and "tiers" in entry:
        raise CatalogError(
            f"gives {', '.join(sorted(given))} for a model priced by tiers: give `tiers`, or "
            "`input` and `output` together, to replace its price",
            source=source,
            model=model_id,
            field=sorted(given)[0],
        )


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _mapping(value: Any, source: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CatalogError(f"`{where}` must be a mapping", source=source)
    return value


def build_models(merged: _Merged) -> list[ModelSpec]:
    """Validate every merged model entry and build its :class:`ModelSpec`."""
    specs = [
        _ModelBuilder(model_id, fields, merged).build()
        for model_id, fields in merged.models.items()
    ]
    ids = {spec.id for spec in specs}
    for spec in specs:
        if spec.snapshot_of is not None and spec.snapshot_of not in ids:
            field = merged.models[spec.id]["snapshot_of"]
            raise CatalogError(
                f"names {spec.snapshot_of!r}, which is not a model of the catalog",
                source=field.source,
                model=spec.id,
                field="snapshot_of",
            )
    return specs


class _ModelBuilder:
    """Turns one model's raw fields into a :class:`ModelSpec`, with errors that locate the field."""

    def __init__(self, model_id: str, fields: dict[str, _Field], merged: _Merged) -> None:
        self.id = model_id
        self.fields = fields
        self.merged = merged
        any_field = next(iter(fields.values()), None)
        self.source = any_field.source if any_field else "<catalog>"
        self.provider, sep, name = model_id.partition(":")
        if not sep or not name:
            self.fail("id", "a model id is `provider:name`, for example `gpt:gpt-4o`")
        if self.provider not in PROVIDERS:
            self.fail("id", f"unknown provider {self.provider!r}; known: {', '.join(PROVIDERS)}")

    def fail(self, field: str, message: str) -> None:
        source = self.fields[field].source if field in self.fields else self.source
        raise CatalogError(message, source=source, model=self.id, field=field)

    def get(self, field: str) -> Any:
        if field in self.fields:
            return self.fields[field].value
        inherited = self.merged.providers.get(self.provider, {}).get(field)
        if inherited is not None:
            return inherited.value
        self.fail(field, "missing; every model needs it (here or in its provider's section)")

    def build(self) -> ModelSpec:
        unit_text = self.get("price_unit")
        if not isinstance(unit_text, str) or unit_text not in PRICE_UNITS:
            self.fail("price_unit", f"expected one of {sorted(PRICE_UNITS)}, got {unit_text!r}")
        unit = PRICE_UNITS[unit_text]
        quality = self.get("quality")
        classes = self.merged.quality_classes
        if not isinstance(quality, str) or (classes and quality not in classes):
            self.fail("quality", f"expected one of {list(classes)}, got {quality!r}")
        capabilities = self.get("capabilities")
        if not isinstance(capabilities, list) or not all(
            isinstance(c, str) and c in CAPABILITIES for c in capabilities
        ):
            self.fail("capabilities", f"expected a list drawn from {list(CAPABILITIES)}")
        tokenizer = self.get("tokenizer")
        if not isinstance(tokenizer, str) or tokenizer not in TOKENIZERS:
            self.fail("tokenizer", f"expected one of {list(TOKENIZERS)}, got {tokenizer!r}")
        snapshot_of = self.fields["snapshot_of"].value if "snapshot_of" in self.fields else None
        if snapshot_of is not None and not isinstance(snapshot_of, str):
            self.fail("snapshot_of", f"expected the id of another model, got {snapshot_of!r}")
        return ModelSpec(
            id=self.id,
            provider=self.provider,
            tiers=self.tiers(unit),
            price_unit=unit,
            context_window=self.positive_int("context_window", self.get("context_window")),
            max_output_tokens=self.positive_int("max_output_tokens", self.get("max_output_tokens")),
            capabilities=frozenset(capabilities),
            quality=str(quality),
            defaults=self.defaults(),
            tokenizer=tokenizer,
            image_rule=self.image_rule(),
            snapshot_of=snapshot_of,
            price_source=str(self.get("price_source")),
            as_of=str(self.get("as_of")),
            limits_source=str(self.get("limits_source")),
        )

    def tiers(self, unit: int) -> tuple[Tier, ...]:
        if "tiers" in self.fields:
            raw = self.fields["tiers"].value
            if "input" in self.fields or "output" in self.fields:
                self.fail("tiers", "give either `tiers` or flat `input`/`output`, not both")
            if not isinstance(raw, list) or not raw:
                self.fail("tiers", "expected a non-empty list of {up_to, input, output}")
        else:
            raw = [{"up_to": None} | {k: self.get(k) for k in ("input", "output")}]
            if "cached_input" in self.fields:
                raw[0]["cached_input"] = self.fields["cached_input"].value
        tiers: list[Tier] = []
        for position, entry in enumerate(raw):
            tiers.append(self.tier(entry, position, unit, tiers[-1].up_to if tiers else 0))
        return tuple(tiers)

    def tier(self, entry: Any, position: int, unit: int, previous: int | None) -> Tier:
        """One tier; its per-unit prices become exact per-token rates (price / unit)."""
        field = "tiers" if "tiers" in self.fields else "input"
        label = f"tiers[{position}]: " if field == "tiers" else ""
        if not isinstance(entry, dict) or not {"input", "output"} <= set(entry):
            self.fail(field, f"{label}expected a mapping with up_to, input and output")
        up_to = entry.get("up_to")
        if previous is None:
            self.fail(field, f"{label}only the last tier may be unbounded (up_to: null)")
        if up_to is not None and (type(up_to) is not int or up_to <= (previous or 0)):
            self.fail(
                field,
                f"{label}up_to must be a whole number of input tokens greater than the "
                f"previous tier's ({previous}), so tiers increase; got {up_to!r}",
            )
        cached = entry.get("cached_input")
        return Tier(
            up_to=up_to,
            input_rate=money.divide(self.money(field, label, entry["input"]), unit),
            output_rate=money.divide(self.money(field, label, entry["output"]), unit),
            cached_input_rate=(
                None if cached is None else money.divide(self.money(field, label, cached), unit)
            ),
        )

    def money(self, field: str, label: str, value: Any) -> Decimal:
        amount = self.decimal(field, value, what=f"{label}a price")
        if not 0 <= amount <= MAX_PRICE:
            self.fail(
                field, f"{label}a price is from 0 to {MAX_PRICE:,} USD per unit, got {value!r}"
            )
        if amount and amount.as_tuple().exponent < -PRICE_PLACES:  # type: ignore[operator]  # finite: an int
            self.fail(
                field, f"{label}a price has at most {PRICE_PLACES} decimal places, got {value!r}"
            )
        return amount

    def decimal(self, field: str, value: Any, what: str = "a number") -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.fail(field, f"{what} must be a decimal number written as a string, got {value!r}")
        try:
            amount = Decimal(str(value))  # a YAML float goes through str, never used as a float
        except InvalidOperation:
            self.fail(field, f'{what} must be a decimal number such as "0.25", got {value!r}')
        if not amount.is_finite():
            self.fail(field, f"{what} must be finite, got {value!r}")
        return amount

    def positive_int(self, field: str, value: Any) -> int:
        if type(value) is not int or value <= 0:
            self.fail(field, f"expected a whole number > 0, got {value!r}")
        return int(value)

    def defaults(self) -> RequestDefaults:
        raw = self.get("defaults")
        if not isinstance(raw, Mapping) or set(raw) != {"max_tokens", "temperature", "top_p"}:
            self.fail("defaults", "expected a mapping of max_tokens, temperature and top_p")
        return RequestDefaults(
            max_tokens=self.positive_int("defaults", raw["max_tokens"]),
            temperature=self.decimal("defaults", raw["temperature"], what="temperature"),
            top_p=self.decimal("defaults", raw["top_p"], what="top_p"),
        )

    def image_rule(self) -> ImageRule:
        raw = self.get("image_tokens")
        rule = raw.get("rule") if isinstance(raw, Mapping) else None
        if not isinstance(rule, str) or rule not in IMAGE_RULES or not all(map(_is_str, raw)):
            self.fail(
                "image_tokens", f"expected a mapping whose `rule` is one of {sorted(IMAGE_RULES)}"
            )
        rule = raw["rule"]
        required, optional = IMAGE_RULES[rule]
        known = set(required) | set(optional) | set(_OPTIONAL_NO_DEFAULT.get(rule, ())) | {"rule"}
        missing = [name for name in required if name not in raw]
        if missing or set(raw) - known:
            self.fail(
                "image_tokens",
                f"rule {rule} takes {sorted(known - {'rule'})}; missing {missing}, "
                f"unknown {sorted(set(raw) - known)}",
            )
        params = {name: self.span(name, raw[name]) for name in raw if name != "rule"}
        for name, default in optional.items():
            params.setdefault(name, Range.exact(Decimal(default)))
        return ImageRule(rule, tuple(sorted(params.items())))

    def span(self, name: str, value: Any) -> Range[Decimal]:
        what = f"image_tokens.{name}"
        if not isinstance(value, Mapping):
            return Range.exact(self.decimal("image_tokens", value, what=what))
        if set(value) != {"low", "expected", "high"}:
            self.fail("image_tokens", f"{what}: an uncertain value is {{low, expected, high}}")
        low, expected, high = (
            self.decimal("image_tokens", value[k], what=what) for k in ("low", "expected", "high")
        )
        if not low <= expected <= high:
            self.fail("image_tokens", f"{what}: expected low <= expected <= high")
        return Range(low, expected, high)
