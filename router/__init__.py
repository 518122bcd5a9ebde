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
    from ._estimate import Estimate, Estimator, OutputPrior, PartEstimate
    from ._fetch import ImageFetchError, fetch_image, fetch_images
    from ._images import ImageError, ImageHeader, read_header
    from ._policy import Candidate, Decision, NoModelQualifiesError, Policy, Rejection
    from ._request import ImagePart, Message, Request, TextPart
    from ._route import Selector
    from ._text import ChatOverhead, TextEstimator, TokenCounter
    from ._values import CostRange, TokenRange

_LAZY = {
    "Candidate": "_policy",
    "Decision": "_policy",
    "NoModelQualifiesError": "_policy",
    "Policy": "_policy",
    "Rejection": "_policy",
    "Selector": "_route",
    "ChatOverhead": "_text",
    "CostRange": "_values",
    "Estimate": "_estimate",
    "Estimator": "_estimate",
    "ImageError": "_images",
    "ImageFetchError": "_fetch",
    "ImageHeader": "_images",
    "ImagePart": "_request",
    "Message": "_request",
    "OutputPrior": "_estimate",
    "PartEstimate": "_estimate",
    "Request": "_request",
    "TextEstimator": "_text",
    "TextPart": "_request",
    "TokenCounter": "_text",
    "TokenRange": "_values",
    "fetch_image": "_fetch",
    "fetch_images": "_fetch",
    "read_header": "_images",
}

__all__ = [
    "Candidate",
    "ChatOverhead",
    "CostRange",
    "Decision",
    "Estimate",
    "Estimator",
    "ImageError",
    "ImageFetchError",
    "ImageHeader",
    "ImagePart",
    "InputError",
    "Message",
    "NoModelQualifiesError",
    "OutputPrior",
    "PartEstimate",
    "Policy",
    "Rejection",
    "Request",
    "RouterError",
    "Selector",
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
