"""costrouter: estimate, route, meter and report the cost of vision-language model calls.

Public names load on first use (PEP 562), so ``import router`` stays cheap for a command that
needs only part of the library; ``from router import Estimator`` loads what Estimator needs.
Importing this package never loads an HTTP client, database driver, YAML parser or Pillow.
"""

import importlib as _importlib
import typing as _typing

from ._errors import InputError, RouterError
from ._version import __version__

if _typing.TYPE_CHECKING:
    from ._budget import Budget, BudgetExceededError, BudgetStatus
    from ._client import Attempt, GatewayClient, RetryPolicy
    from ._counters import LocalCounter, local_counter
    from ._estimate import Estimate, Estimator, OutputPrior, PartEstimate
    from ._fetch import ImageFetchError, fetch_image, fetch_images
    from ._gateway_errors import (
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
    from ._images import ImageError, ImageHeader, read_header
    from ._ledger import (
        Ledger,
        LedgerError,
        LedgerRow,
        Reservation,
        default_ledger_url,
        ledger_from_url,
    )
    from ._ledger_memory import MemoryLedger
    from ._policy import Candidate, Decision, NoModelQualifiesError, Policy, Rejection
    from ._report import Report, ReportQuery, ReportRow
    from ._request import ImagePart, Message, Request, TextPart
    from ._response import Completion
    from ._route import Selector
    from ._router import CallResult, Router
    from ._stream import CallStream
    from ._text import ChatOverhead, TextEstimator, TokenCounter
    from ._values import CostRange, TokenRange

_LAZY = {
    "Attempt": "_client",
    "AuthenticationError": "_gateway_errors",
    "BadRequestError": "_gateway_errors",
    "BadResponseError": "_gateway_errors",
    "Budget": "_budget",
    "BudgetExceededError": "_budget",
    "BudgetStatus": "_budget",
    "CallResult": "_router",
    "CallStream": "_stream",
    "Candidate": "_policy",
    "ChatOverhead": "_text",
    "Completion": "_response",
    "CostRange": "_values",
    "Decision": "_policy",
    "Estimate": "_estimate",
    "Estimator": "_estimate",
    "ForbiddenError": "_gateway_errors",
    "GatewayClient": "_client",
    "GatewayConnectionError": "_gateway_errors",
    "GatewayError": "_gateway_errors",
    "ImageError": "_images",
    "ImageFetchError": "_fetch",
    "ImageHeader": "_images",
    "ImagePart": "_request",
    "InsufficientBalanceError": "_gateway_errors",
    "Ledger": "_ledger",
    "LedgerError": "_ledger",
    "LedgerRow": "_ledger",
    "LocalCounter": "_counters",
    "MemoryLedger": "_ledger_memory",
    "Message": "_request",
    "NoModelQualifiesError": "_policy",
    "OutputPrior": "_estimate",
    "PartEstimate": "_estimate",
    "Policy": "_policy",
    "RateLimitError": "_gateway_errors",
    "Rejection": "_policy",
    "Report": "_report",
    "ReportQuery": "_report",
    "ReportRow": "_report",
    "Request": "_request",
    "Reservation": "_ledger",
    "RetryPolicy": "_client",
    "Router": "_router",
    "Selector": "_route",
    "ServerError": "_gateway_errors",
    "TextEstimator": "_text",
    "TextPart": "_request",
    "TokenCounter": "_text",
    "TokenRange": "_values",
    "default_ledger_url": "_ledger",
    "fetch_image": "_fetch",
    "fetch_images": "_fetch",
    "ledger_from_url": "_ledger",
    "local_counter": "_counters",
    "read_header": "_images",
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
