"""Money arithmetic in a decimal context of its own, whatever context the caller set.

Python's ``decimal`` operators round to the *thread's* context: an application that sets
``getcontext().prec = 6`` would otherwise get $1.14197125 priced as $1.14197. Every amount
costrouter computes (prices, estimates, ledger units, budget sums, report totals) goes through
:data:`MONEY` instead: 60 significant digits, far more than any product of a catalog rate and a
token count needs, so no result is rounded; where a figure is rounded on purpose (for display,
an accuracy ratio) the rounding is named (half-even). Invalid operations, division by zero and
overflow raise.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from decimal import Decimal

MONEY = decimal.Context(
    prec=60,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

add = MONEY.add
subtract = MONEY.subtract
multiply = MONEY.multiply
divide = MONEY.divide


def total(amounts: Iterable[Decimal]) -> Decimal:
    """The exact sum of ``amounts`` (0 for none)."""
    result = Decimal(0)
    for amount in amounts:
        result = MONEY.add(result, amount)
    return result
