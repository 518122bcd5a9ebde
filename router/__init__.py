"""costrouter: estimate, route, meter and report the cost of vision-language model calls.

Public names load on first use (PEP 562), so ``import router`` stays cheap for a command that
needs only part of the library; ``from router import Estimator`` loads what Estimator needs.
Importing this package never loads an HTTP client, database driver, YAML parser or Pillow.
"""

import importlib as _importlib
import typing as _typing

from ._version import __version__
from .errors import InputError, RouterError

if _typing.TYPE_CHECKING:
    from .estimate.counters import LocalCounter, local_counter
    from .estimate.estimator import Estimate, Estimator, OutputPrior, PartEstimate
    from .estimate.text import ChatOverhead, TextEstimator, TokenCounter
    from .fetch import ImageFetchError, fetch_image, fetch_images
    from .gateway.client import Attempt, GatewayClient, RetryPolicy
    from .gateway.errors import (
        AuthenticationError,
        BadRequestError,
        BadResponseError,
        ForbiddenError,
        GatewayConnectionError,
        GatewayError,
        InsufficientBalanceError,
        RateLimitError,
        ServerError,
    )
    from .gateway.response import Completion
    from .images import ImageError, ImageHeader, read_header
    from .ledger.base import (
        Ledger,
        LedgerError,
        LedgerRow,
        Reservation,
        default_ledger_url,
        ledger_from_url,
    )
    from .ledger.budgets import Budget, BudgetExceededError, BudgetStatus
    from .ledger.memory import MemoryLedger
    from .ledger.spend import Report, ReportQuery, ReportRow
    from .request import ImagePart, Message, Request, TextPart
    from .router import CallResult, Router
    from .routing.policy import Candidate, Decision, NoModelQualifiesError, Policy, Rejection
    from .routing.selector import Selector
    from .stream import CallStream
    from .values import CostRange, TokenRange

_LAZY = {
    "Attempt": "gateway.client",
    "AuthenticationError": "gateway.errors",
    "BadRequestError": "gateway.errors",
    "BadResponseError": "gateway.errors",
    "Budget": "ledger.budgets",
    "BudgetExceededError": "ledger.budgets",
    "BudgetStatus": "ledger.budgets",
    "CallResult": "router",
    "CallStream": "stream",
    "Candidate": "routing.policy",
    "ChatOverhead": "estimate.text",
    "Completion": "gateway.response",
    "CostRange": "values",
    "Decision": "routing.policy",
    "Estimate": "estimate.estimator",
    "Estimator": "estimate.estimator",
    "ForbiddenError": "gateway.errors",
    "GatewayClient": "gateway.client",
    "GatewayConnectionError": "gateway.errors",
    "GatewayError": "gateway.errors",
    "ImageError": "images",
    "ImageFetchError": "fetch",
    "ImageHeader": "images",
    "ImagePart": "request",
    "InsufficientBalanceError": "gateway.errors",
    "Ledger": "ledger.base",
    "LedgerError": "ledger.base",
    "LedgerRow": "ledger.base",
    "LocalCounter": "estimate.counters",
    "MemoryLedger": "ledger.memory",
    "Message": "request",
    "NoModelQualifiesError": "routing.policy",
    "OutputPrior": "estimate.estimator",
    "PartEstimate": "estimate.estimator",
    "Policy": "routing.policy",
    "RateLimitError": "gateway.errors",
    "Rejection": "routing.policy",
    "Report": "ledger.spend",
    "ReportQuery": "ledger.spend",
    "ReportRow": "ledger.spend",
    "Request": "request",
    "Reservation": "ledger.base",
    "RetryPolicy": "gateway.client",
    "Router": "router",
    "Selector": "routing.selector",
    "ServerError": "gateway.errors",
    "TextEstimator": "estimate.text",
    "TextPart": "request",
    "TokenCounter": "estimate.text",
    "TokenRange": "values",
    "default_ledger_url": "ledger.base",
    "fetch_image": "fetch",
    "fetch_images": "fetch",
    "ledger_from_url": "ledger.base",
    "local_counter": "estimate.counters",
    "read_header": "images",
}

__all__ = [
    "Attempt",
    "AuthenticationError",
    "BadRequestError",
    "BadResponseError",
    "Budget",
    "BudgetExceededError",
    "BudgetStatus",
    "CallResult",
    "CallStream",
    "Candidate",
    "ChatOverhead",
    "Completion",
    "CostRange",
    "Decision",
    "Estimate",
    "Estimator",
    "ForbiddenError",
    "GatewayClient",
    "GatewayConnectionError",
    "GatewayError",
    "ImageError",
    "ImageFetchError",
    "ImageHeader",
    "ImagePart",
    "InputError",
    "InsufficientBalanceError",
    "Ledger",
    "LedgerError",
    "LedgerRow",
    "LocalCounter",
    "MemoryLedger",
    "Message",
    "NoModelQualifiesError",
    "OutputPrior",
    "PartEstimate",
    "Policy",
    "RateLimitError",
    "Rejection",
    "Report",
    "ReportQuery",
    "ReportRow",
    "Request",
    "Reservation",
    "RetryPolicy",
    "Router",
    "RouterError",
    "Selector",
    "ServerError",
    "TextEstimator",
    "TextPart",
    "TokenCounter",
    "TokenRange",
    "__version__",
    "default_ledger_url",
    "fetch_image",
    "fetch_images",
    "ledger_from_url",
    "local_counter",
    "read_header",
]


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'router' has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"router.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
