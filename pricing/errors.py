"""Exceptions raised by :mod:`pricing`.

The tree::

    PricingError                      base of everything this package raises
    ├── CatalogError (ValueError)     a catalog file is malformed; carries file, model, field
    ├── UnknownModelError (KeyError)  no model matches a name; carries the closest ids
    └── NoTierError (ValueError)      a usage is outside every price tier of a model
"""

from __future__ import annotations

from collections.abc import Sequence


class PricingError(Exception):
    """Base class of every error raised by :mod:`pricing`."""


class CatalogError(PricingError, ValueError):
    """A catalog file does not hold a valid catalog.

    ``source`` is the file (or ``"<bundled>"``), ``model`` and ``field`` locate the problem
    when it belongs to one model or field.
    """

    def __init__(
        self, message: str, *, source: str, model: str | None = None, field: str | None = None
    ) -> None:
        self.message = message
        self.source = source
        self.model = model
        self.field = field
        where = source
        if model is not None:
            where += f": model {model!r}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


class UnknownModelError(PricingError, KeyError):
    """No catalog model matches ``name``; ``suggestions`` holds the closest ids."""

    def __init__(self, name: str, suggestions: Sequence[str] = (), *, ambiguous: bool = False):
        self.name = name
        self.suggestions = tuple(suggestions)
        self.ambiguous = ambiguous
        if ambiguous:
            hint = "it names several models; use one of: " + ", ".join(self.suggestions)
        elif self.suggestions:
            hint = "did you mean " + ", ".join(self.suggestions) + "?"
        else:
            hint = "run `costrouter models` to list the known ids"
        super().__init__(f"unknown model {name!r}: {hint}")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class NoTierError(PricingError, ValueError):
    """A usage has more input tokens than the last price tier of ``model`` covers."""

    def __init__(self, model: str, input_tokens: int, max_input_tokens: int) -> None:
        self.model = model
        self.input_tokens = input_tokens
        self.max_input_tokens = max_input_tokens
        super().__init__(
            f"{model} has no price for {input_tokens:,} input tokens: its last tier ends at "
            f"{max_input_tokens:,}; send a shorter request or pick a model with a larger window"
        )
