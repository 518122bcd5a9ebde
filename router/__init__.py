"""costrouter: estimate, route, meter and report the cost of vision-language model calls."""

from ._errors import InputError, RouterError
from ._version import __version__

__all__ = ["InputError", "RouterError", "__version__"]
