"""Exceptions raised by :mod:`router`.

The tree (``exit_code`` is what the command line exits with)::

    RouterError                 base of everything router raises (exit 1)
    └── InputError (ValueError) bad input from the caller: says what to fix (exit 2)

Errors from :mod:`pricing` (``PricingError``) are bad input too and exit 2.
"""

from __future__ import annotations

from typing import ClassVar


class RouterError(Exception):
    """Base class of every error raised by :mod:`router`."""

    exit_code: ClassVar[int] = 1


class InputError(RouterError, ValueError):
    """The caller's input is invalid; the message says what to do instead."""

    exit_code: ClassVar[int] = 2
