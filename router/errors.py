"""Every error costrouter raises, in one tree with one root.

Each class lives beside the code that raises it; this module gathers them so the whole tree can
be read, and caught, in one place. ``exit_code`` is what the command line exits with::

    RouterError                          the root: catch it to catch everything (exit 1)
    ├── InputError (ValueError)          the caller's input is invalid; says what to fix (exit 2)
    │   ├── PricingError                 from the pricing package
    │   │   ├── CatalogError             a catalog file is malformed: file, model, field
    │   │   ├── UnknownModelError (KeyError)  no model has that name: the closest ids
    │   │   └── NoTierError              no price tier covers that many input tokens
    │   ├── ImageError                   bytes that are not a supported image
    │   └── ImageFetchError              a remote image could not be fetched
    ├── BudgetExceededError              a hard budget cannot cover the call; nothing sent (exit 3)
    ├── NoModelQualifiesError            every model was rejected, each with its reason (exit 4)
    ├── GatewayError                     no usable completion (exit 5); .status .code .attempts
    │   ├── BadRequestError              409, 415: this request on this model
    │   │   └── InvalidParametersError   400: invalid on any model, so no fallback
    │   ├── AuthenticationError          401: the key is missing, invalid or expired
    │   ├── InsufficientBalanceError     402: the gateway account has no balance
    │   ├── ForbiddenError               403
    │   ├── RateLimitError               429 (retried, honouring Retry-After)
    │   ├── ServerError                  5xx (retried)
    │   ├── GatewayConnectionError       no connection: refused, unresolvable (nothing sent; retried)
    │   ├── AnswerLostError              sent, answer lost: timeout, reset, cut (billed: worst case)
    │   └── BadResponseError             not a completion: not JSON, the wrong shape, "errored"
    └── LedgerError                      the ledger's storage failed; the driver's error is the cause
        └── UnrecordedCallError          answered, not recorded: the answer is in .result

The root is defined in :mod:`pricing`, the package everything builds on, so a pricing error met
inside a routed call is a ``RouterError`` too.
"""

from pricing.errors import (
    CatalogError,
    InputError,
    NoTierError,
    PricingError,
    RouterError,
    UnknownModelError,
)

from .fetch import ImageFetchError
from .gateway.errors import (
    AnswerLostError,
    AuthenticationError,
    BadRequestError,
    BadResponseError,
    ForbiddenError,
    GatewayConnectionError,
    GatewayError,
    InsufficientBalanceError,
    InvalidParametersError,
    RateLimitError,
    ServerError,
)
from .images import ImageError
from .ledger.base import LedgerError, UnrecordedCallError
from .ledger.budgets import BudgetExceededError
from .routing.policy import NoModelQualifiesError

__all__ = [
    "AnswerLostError",
    "AuthenticationError",
    "BadRequestError",
    "BadResponseError",
    "BudgetExceededError",
    "CatalogError",
    "ForbiddenError",
    "GatewayConnectionError",
    "GatewayError",
    "ImageError",
    "ImageFetchError",
    "InputError",
    "InsufficientBalanceError",
    "InvalidParametersError",
    "LedgerError",
    "NoModelQualifiesError",
    "NoTierError",
    "PricingError",
    "RateLimitError",
    "RouterError",
    "ServerError",
    "UnknownModelError",
    "UnrecordedCallError",
]
