"""Exceptions raised by :mod:`pricing`, and the root that every costrouter error shares.

The root lives here, in the package everything else builds on, so that ``except RouterError``
catches a pricing error raised from deep inside a routed call as surely as a router's own. The
whole tree of both packages is drawn in :mod:`router.errors`; this module's part of it::

    RouterError                       base of everything costrouter raises (exit 1)
    └── InputError (ValueError)       the caller's input is invalid; says what to fix (exit 2)
        └── PricingError              base of everything this package raises
            ├── CatalogError          a catalog file is malformed; carries file, model, field
            ├── UnknownModelError (KeyError)  no model matches a name; carries the closest ids
            └── NoTierError           a usage is outside every price tier of a model

``exit_code`` is what the command line exits with for the class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar


class RouterError(Exception):
    """Base class of every error costrouter raises, in :mod:`pricing` and :mod:`router`."""

    exit_code: ClassVar[int] = 1


class InputError(RouterError, ValueError):
    """The caller's input is invalid; the message says what to do instead."""

    exit_code: ClassVar[int] = 2


class PricingError(InputError):
    """Base class of every error raised by :mod:`pricing`."""


class CatalogError(PricingError):
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


class NoTierError(PricingError):
    """A usage has more input tokens than the last price tier of ``model`` covers."""

    def __init__(self, model: str, input_tokens: int, max_input_tokens: int) -> None:
        self.model = model
        self.input_tokens = input_tokens
        self.max_input_tokens = max_input_tokens
        super().__init__(
            f"{model} has no price for {input_tokens:,} input tokens: its last tier ends at "
            f"{max_input_tokens:,}; send a shorter request or pick a model with a larger window"
        )
