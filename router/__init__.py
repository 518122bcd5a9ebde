"""costrouter: estimate, route, meter and report the cost of vision-language model calls.

Public names load on first use (PEP 562), so ``import router`` stays cheap for a command that
needs only part of the library; ``from router import Estimator`` loads what Estimator needs.
Importing this package never loads an HTTP client, database driver, YAML parser or Pillow.

The subpackages follow a call's path: ``request`` → ``estimate/`` → ``routing/`` →
``ledger/`` (reserve) → ``gateway/`` → ``metering`` → ``ledger/`` (settle) → ``report/``;
``router`` and ``stream`` run that path, ``calibrate`` learns from the recorded calls what
the estimates should have been, ``cli/`` is the command line and ``errors`` draws every error.
"""

import importlib as _importlib
import typing as _typing

from ._version import __version__ as __version__

if _typing.TYPE_CHECKING:  # what type checkers see: the names of _LAZY, re-exported
    from pricing import (
        InputError as InputError,
        Range as Range,
        RouterError as RouterError,
    )

    from .calibrate import learn as learn
    from .errors import (
        AnswerLostError as AnswerLostError,
        AuthenticationError as AuthenticationError,
        BadRequestError as BadRequestError,
        BadResponseError as BadResponseError,
        BudgetExceededError as BudgetExceededError,
        CatalogError as CatalogError,
        ForbiddenError as ForbiddenError,
        GatewayConnectionError as GatewayConnectionError,
        GatewayError as GatewayError,
        ImageError as ImageError,
        ImageFetchError as ImageFetchError,
        InsufficientBalanceError as InsufficientBalanceError,
        InvalidParametersError as InvalidParametersError,
        LedgerError as LedgerError,
        NoModelQualifiesError as NoModelQualifiesError,
        NoTierError as NoTierError,
        PricingError as PricingError,
        RateLimitError as RateLimitError,
        ServerError as ServerError,
        UnknownModelError as UnknownModelError,
        UnrecordedCallError as UnrecordedCallError,
    )
    from .estimate.basis import Basis as Basis
    from .estimate.calibration import Calibration as Calibration
    from .estimate.counters import (
        LocalCounter as LocalCounter,
        default_counter as default_counter,
        local_counter as local_counter,
    )
    from .estimate.estimator import (
        Estimate as Estimate,
        Estimator as Estimator,
        OutputPrior as OutputPrior,
        PartEstimate as PartEstimate,
    )
    from .estimate.text import (
        ChatOverhead as ChatOverhead,
        TextEstimator as TextEstimator,
        TokenCounter as TokenCounter,
    )
    from .fetch import (
        fetch_image as fetch_image,
        fetch_images as fetch_images,
    )
    from .gateway.client import (
        GatewayClient as GatewayClient,
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
        read_header as read_header,
    )
    from .ledger.base import (
        Ledger as Ledger,
        LedgerRow as LedgerRow,
        Reservation as Reservation,
    )
    from .ledger.budgets import (
        Budget as Budget,
        BudgetStatus as BudgetStatus,
    )
    from .ledger.leases import (
        LeasedLedger as LeasedLedger,
    )
    from .ledger.memory import (
        MemoryLedger as MemoryLedger,
    )
    from .ledger.postgres import (
        PostgresLedger as PostgresLedger,
    )
    from .ledger.spend import (
        Report as Report,
        ReportQuery as ReportQuery,
        ReportRow as ReportRow,
    )
    from .ledger.sqlite import (
        SQLiteLedger as SQLiteLedger,
    )
    from .ledger.urls import (
        default_ledger_url as default_ledger_url,
        ledger_from_url as ledger_from_url,
    )
    from .metering import CallResult as CallResult
    from .request import (
        ImagePart as ImagePart,
        Message as Message,
        Request as Request,
        TextPart as TextPart,
    )
    from .router import Router as Router
    from .routing.policy import (
        Candidate as Candidate,
        Decision as Decision,
        Policy as Policy,
        Rejection as Rejection,
    )
    from .routing.selector import (
        Selector as Selector,
    )
    from .stream import (
        CallStream as CallStream,
    )

#: Every public name the package loads on first use → the module it comes from.
_LAZY = {
    **dict.fromkeys(("InputError", "Range", "RouterError"), "pricing"),
    **dict.fromkeys(
        (
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
            "InsufficientBalanceError",
            "InvalidParametersError",
            "LedgerError",
            "NoModelQualifiesError",
            "NoTierError",
            "PricingError",
            "RateLimitError",
            "ServerError",
            "UnknownModelError",
            "UnrecordedCallError",
        ),
        "router.errors",
    ),
    "Attempt": "router.gateway.errors",
    "Basis": "router.estimate.basis",
    "Budget": "router.ledger.budgets",
    "BudgetStatus": "router.ledger.budgets",
    "CallResult": "router.metering",
    "Calibration": "router.estimate.calibration",
    "CallStream": "router.stream",
    "Candidate": "router.routing.policy",
    "ChatOverhead": "router.estimate.text",
    "Completion": "router.gateway.response",
    "Decision": "router.routing.policy",
    "Estimate": "router.estimate.estimator",
    "Estimator": "router.estimate.estimator",
    "GatewayClient": "router.gateway.client",
    "ImageHeader": "router.images",
    "ImagePart": "router.request",
    "Ledger": "router.ledger.base",
    "LedgerRow": "router.ledger.base",
    "LocalCounter": "router.estimate.counters",
    "LeasedLedger": "router.ledger.leases",
    "MemoryLedger": "router.ledger.memory",
    "Message": "router.request",
    "OutputPrior": "router.estimate.estimator",
    "PartEstimate": "router.estimate.estimator",
    "Policy": "router.routing.policy",
    "PostgresLedger": "router.ledger.postgres",
    "Rejection": "router.routing.policy",
    "Report": "router.ledger.spend",
    "ReportQuery": "router.ledger.spend",
    "ReportRow": "router.ledger.spend",
    "Request": "router.request",
    "Reservation": "router.ledger.base",
    "RetryPolicy": "router.gateway.client",
    "Router": "router.router",
    "SQLiteLedger": "router.ledger.sqlite",
    "Selector": "router.routing.selector",
    "TextEstimator": "router.estimate.text",
    "TextPart": "router.request",
    "TokenCounter": "router.estimate.text",
    "default_ledger_url": "router.ledger.urls",
    "fetch_image": "router.fetch",
    "fetch_images": "router.fetch",
    "learn": "router.calibrate",
    "ledger_from_url": "router.ledger.urls",
    "local_counter": "router.estimate.counters",
    "default_counter": "router.estimate.counters",
    "read_header": "router.images",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'router' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
