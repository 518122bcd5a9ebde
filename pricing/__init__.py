"""Model prices and exact cost math for costrouter.

No network, no database, no environment, no clock: values in, values out. The only file read is
a catalog, when :meth:`Catalog.load` is called.
"""

from .catalog import Catalog
from .cost import amounts, price, price_tokens, tier_for, usd_display, usd_text
from .errors import (
    CatalogError,
    InputError,
    NoTierError,
    PricingError,
    RouterError,
    UnknownModelError,
)
from .values import (
    CAPABILITIES,
    PROVIDER_ROLES,
    PROVIDERS,
    TOKENIZERS,
    Cost,
    ImageRule,
    ModelSpec,
    Range,
    RequestDefaults,
    Tier,
    Usage,
)

__all__ = [
    "CAPABILITIES",
    "Catalog",
    "CatalogError",
    "Cost",
    "ImageRule",
    "InputError",
    "ModelSpec",
    "NoTierError",
    "PROVIDERS",
    "PROVIDER_ROLES",
    "PricingError",
    "Range",
    "RequestDefaults",
    "RouterError",
    "TOKENIZERS",
    "Tier",
    "UnknownModelError",
    "Usage",
    "amounts",
    "price",
    "price_tokens",
    "tier_for",
    "usd_display",
    "usd_text",
]
