"""costrouter: estimate, route, meter and report the cost of vision-language model calls.

Public names load on first use (PEP 562), so ``import router`` stays cheap for a command that
needs only part of the library; ``from router import Estimator`` loads what Estimator needs.
Importing this package never loads an HTTP client, database driver, YAML parser or Pillow.

The subpackages follow a call's path: ``request`` → ``estimate/`` → ``routing/`` →
``ledger/`` (reserve) → ``gateway/`` → ``ledger/`` (settle) → ``report/``; ``router`` and
``stream`` run that path, ``cli/`` is the command line and ``errors`` draws every error.
"""

import importlib as _importlib
import typing as _typing

from pricing import InputError as InputError
from pricing import Range as Range
from pricing import RouterError as RouterError

from ._version import __version__ as __version__

if _typing.TYPE_CHECKING:  # what type checkers see: the names of _LAZY, re-exported
    from .errors import (
        AuthenticationError as AuthenticationError,
    )
    from .errors import (
        BadRequestError as BadRequestError,
    )
    from .errors import (
        BadResponseError as BadResponseError,
    )
    from .errors import (
        BudgetExceededError as BudgetExceededError,
    )
    from .errors import (
        CatalogError as CatalogError,
    )
    from .errors import (
        ForbiddenError as ForbiddenError,
    )
    from .errors import (
        GatewayConnectionError as GatewayConnectionError,
    )
    from .errors import (
        GatewayError as GatewayError,
    )
    from .errors import (
        ImageError as ImageError,
    )
    from .errors import (
        ImageFetchError as ImageFetchError,
    )
    from .errors import (
        InsufficientBalanceError as InsufficientBalanceError,
    )
    from .errors import (
        LedgerError as LedgerError,
    )
    from .errors import (
        NoModelQualifiesError as NoModelQualifiesError,
    )
    from .errors import (
        NoTierError as NoTierError,
    )
    from .errors import (
        PricingError as PricingError,
    )
    from .errors import (
        RateLimitError as RateLimitError,
    )
    from .errors import (
        ServerError as ServerError,
    )
    from .errors import (
        UnknownModelError as UnknownModelError,
    )
    from .estimate.counters import (
        LocalCounter as LocalCounter,
    )
    from .estimate.counters import (
        local_counter as local_counter,
    )
    from .estimate.estimator import (
        Estimate as Estimate,
    )
    from .estimate.estimator import (
        Estimator as Estimator,
    )
    from .estimate.estimator import (
        OutputPrior as OutputPrior,
    )
    from .estimate.estimator import (
        PartEstimate as PartEstimate,
    )
    from .estimate.text import (
        ChatOverhead as ChatOverhead,
    )
    from .estimate.text import (
        TextEstimator as TextEstimator,
    )
    from .estimate.text import (
        TokenCounter as TokenCounter,
    )
    from .fetch import (
        fetch_image as fetch_image,
    )
    from .fetch import (
        fetch_images as fetch_images,
    )
    from .gateway.client import (
        GatewayClient as GatewayClient,
    )
    from .gateway.client import (
        RetryPolicy as RetryPolicy,
    )
    from .gateway.errors import (
        Attempt as Attempt,
    )
    from .gateway.response import (
        Completion as Completion,
    )
    from .images import (
        ImageHeader as ImageHeader,
    )
    from .images import (
        read_header as read_header,
    )
    from .ledger.base import (
        Ledger as Ledger,
    )
    from .ledger.base import (
        LedgerRow as LedgerRow,
    )
    from .ledger.base import (
        Reservation as Reservation,
    )
    from .ledger.budgets import (
        Budget as Budget,
    )
    from .ledger.budgets import (
        BudgetStatus as BudgetStatus,
    )
    from .ledger.memory import (
        MemoryLedger as MemoryLedger,
    )
    from .ledger.postgres import (
        PostgresLedger as PostgresLedger,
    )
    from .ledger.spend import (
        Report as Report,
    )
    from .ledger.spend import (
        ReportQuery as ReportQuery,
    )
    from .ledger.spend import (
        ReportRow as ReportRow,
    )
    from .ledger.sqlite import (
        SQLiteLedger as SQLiteLedger,
    )
    from .ledger.urls import (
        default_ledger_url as default_ledger_url,
    )
    from .ledger.urls import (
        ledger_from_url as ledger_from_url,
    )
    from .request import (
        ImagePart as ImagePart,
    )
    from .request import (
        Message as Message,
    )
    from .request import (
        Request as Request,
    )
    from .request import (
        TextPart as TextPart,
    )
    from .router import (
        CallResult as CallResult,
    )
    from .router import (
        Router as Router,
    )
    from .routing.policy import (
        Candidate as Candidate,
    )
    from .routing.policy import (
        Decision as Decision,
    )
    from .routing.policy import (
        Policy as Policy,
    )
    from .routing.policy import (
        Rejection as Rejection,
    )
    from .routing.selector import (
        Selector as Selector,
    )
    from .stream import (
        CallStream as CallStream,
    )

#: Every public name the package loads on first use → the module (below ``router``) defining it.
_LAZY = {
    **dict.fromkeys(
        (
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
            "InsufficientBalanceError",
            "LedgerError",
            "NoModelQualifiesError",
            "NoTierError",
            "PricingError",
            "RateLimitError",
            "ServerError",
            "UnknownModelError",
        ),
        "errors",
    ),
    "Attempt": "gateway.errors",
    "Budget": "ledger.budgets",
    "BudgetStatus": "ledger.budgets",
    "CallResult": "router",
    "CallStream": "stream",
    "Candidate": "routing.policy",
    "ChatOverhead": "estimate.text",
    "Completion": "gateway.response",
    "Decision": "routing.policy",
    "Estimate": "estimate.estimator",
    "Estimator": "estimate.estimator",
    "GatewayClient": "gateway.client",
    "ImageHeader": "images",
    "ImagePart": "request",
    "Ledger": "ledger.base",
    "LedgerRow": "ledger.base",
    "LocalCounter": "estimate.counters",
    "MemoryLedger": "ledger.memory",
    "Message": "request",
    "OutputPrior": "estimate.estimator",
    "PartEstimate": "estimate.estimator",
    "Policy": "routing.policy",
    "PostgresLedger": "ledger.postgres",
    "Rejection": "routing.policy",
    "Report": "ledger.spend",
    "ReportQuery": "ledger.spend",
    "ReportRow": "ledger.spend",
    "Request": "request",
    "Reservation": "ledger.base",
    "RetryPolicy": "gateway.client",
    "Router": "router",
    "SQLiteLedger": "ledger.sqlite",
    "Selector": "routing.selector",
    "TextEstimator": "estimate.text",
    "TextPart": "request",
    "TokenCounter": "estimate.text",
    "default_ledger_url": "ledger.urls",
    "fetch_image": "fetch",
    "fetch_images": "fetch",
    "ledger_from_url": "ledger.urls",
    "local_counter": "estimate.counters",
    "read_header": "images",
}

__all__ = sorted([*_LAZY, "InputError", "Range", "RouterError", "__version__"])


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'router' has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"router.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
