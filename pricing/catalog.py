"""The catalog: every known model, looked up by id, served snapshot name or bare name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import TYPE_CHECKING

from .errors import UnknownModelError
from .loader import build_models, merge_documents, read_document
from .values import ModelSpec

if TYPE_CHECKING:
    from pathlib import Path

BUNDLED = "<bundled catalog>"


class Catalog:
    """An immutable set of :class:`ModelSpec`, in file order.

    Look a model up with :meth:`get` by its prefixed id (``gpt:gpt-4o``), by the name the
    gateway returns (``gpt-4o-2024-08-06``, ``qwen3-vl-plus``, ``gemini:gemini-2.5-flash``), or by
    any bare name that only one provider uses.
    """

    def __init__(
        self,
        models: Iterable[ModelSpec],
        *,
        quality_classes: tuple[str, ...] = (),
        currency: str = "USD",
    ) -> None:
        self._models = {model.id: model for model in models}
        self.quality_classes = quality_classes
        self.currency = currency
        self._by_name: dict[str, list[str]] = {}
        for model_id in self._models:
            self._by_name.setdefault(model_id.partition(":")[2], []).append(model_id)

    @classmethod
    def load(cls, overlays: Iterable[str | Path] = (), *, bundled: bool = True) -> Catalog:
        """The bundled catalog (unless ``bundled=False``) with each overlay applied in order."""
        documents = []
        if bundled:
            text = resources.files("pricing").joinpath("catalog.yaml").read_text(encoding="utf-8")
            documents.append((BUNDLED, read_document(BUNDLED, text)))
        documents.extend((str(path), read_document(path)) for path in overlays)
        return cls.from_documents(documents)

    @classmethod
    def bundled(cls) -> Catalog:
        """The bundled catalog alone, loaded once per process and shared (it is immutable)."""
        global _BUNDLED  # noqa: PLW0603 -- a lazily built, immutable singleton
        if _BUNDLED is None:
            _BUNDLED = cls.load()
        return _BUNDLED

    @classmethod
    def from_documents(cls, documents: list[tuple[str, dict[str, object]]]) -> Catalog:
        """Build from parsed documents ``(source name, mapping)``; later ones overlay earlier."""
        merged = merge_documents(documents)
        return cls(
            build_models(merged), quality_classes=merged.quality_classes, currency=merged.currency
        )

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._resolve(name) is not None

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._models)

    def get(self, name: str) -> ModelSpec:
        """The model ``name`` refers to; raises :class:`UnknownModelError` with suggestions."""
        model_id = self._resolve(name)
        if model_id is not None:
            return self._models[model_id]
        candidates = self._by_name.get(name.partition(":")[2] or name, [])
        if len(candidates) > 1:
            raise UnknownModelError(name, candidates, ambiguous=True)
        names = list(self._models) + list(self._by_name)
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        suggestions = dict.fromkeys(m if m in self._models else self._by_name[m][0] for m in close)
        raise UnknownModelError(name, list(suggestions))

    def _resolve(self, name: str) -> str | None:
        if name in self._models:
            return name
        ids = self._by_name.get(name)
        if ids is not None and len(ids) == 1:
            return ids[0]
        return None

    def snapshots(self, model_id: str) -> tuple[ModelSpec, ...]:
        """The dated snapshots the catalog lists for ``model_id``."""
        return tuple(m for m in self._models.values() if m.snapshot_of == model_id)

    def quality_rank(self, quality: str) -> int:
        """Position of a quality class, lowest first; unknown classes rank below all."""
        try:
            return self.quality_classes.index(quality)
        except ValueError:
            return -1


_BUNDLED: Catalog | None = None
