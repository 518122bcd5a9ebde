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
    from ._client import Attempt, GatewayClient, RetryPolicy
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
    from ._policy import Candidate, Decision, NoModelQualifiesError, Policy, Rejection
    from ._request import ImagePart, Message, Request, TextPart
    from ._response import Completion
    from ._route import Selector
    from ._router import CallResult, CallStream, Router
    from ._text import ChatOverhead, TextEstimator, TokenCounter
    from ._values import CostRange, TokenRange

_LAZY = {
    "Attempt": "_client",
    "AuthenticationError": "_gateway_errors",
    "BadRequestError": "_gateway_errors",
    "BadResponseError": "_gateway_errors",
    "CallResult": "_router",
    "CallStream": "_router",
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
    "Message": "_request",
    "NoModelQualifiesError": "_policy",
    "OutputPrior": "_estimate",
    "PartEstimate": "_estimate",
    "Policy": "_policy",
    "RateLimitError": "_gateway_errors",
    "Rejection": "_policy",
    "Request": "_request",
    "RetryPolicy": "_client",
    "Router": "_router",
    "Selector": "_route",
    "ServerError": "_gateway_errors",
    "TextEstimator": "_text",
    "TextPart": "_request",
    "TokenCounter": "_text",
    "TokenRange": "_values",
    "fetch_image": "_fetch",
    "fetch_images": "_fetch",
    "read_header": "_images",
}

__all__ = [
    "Attempt",
    "AuthenticationError",
    "BadRequestError",
    "BadResponseError",
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
    "Message",
    "NoModelQualifiesError",
    "OutputPrior",
    "PartEstimate",
    "Policy",
    "RateLimitError",
    "Rejection",
    "Request",
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
    "fetch_image",
    "fetch_images",
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
