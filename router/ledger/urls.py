"""Open a ledger by URL: one table of schemes, the one place backends are registered.

``memory://`` (one process, tests), ``sqlite:///path`` (the embedded default),
``postgresql://...`` (fleets; psycopg 3 as the ``postgres`` extra, imported when first used).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pricing import InputError

from .base import Ledger
from .memory import MemoryLedger
from .postgres import PostgresLedger
from .sqlite import SQLiteLedger

#: URL scheme → the backend that opens it.
SCHEMES: Mapping[str, type[Ledger]] = {
    "memory": MemoryLedger,
    "sqlite": SQLiteLedger,
    "postgresql": PostgresLedger,
    "postgres": PostgresLedger,
}


def default_ledger_url(environ: Mapping[str, str] | None = None) -> str:
    """``$COSTROUTER_LEDGER``, else a SQLite file in the user's data directory."""
    env = os.environ if environ is None else environ
    if env.get("COSTROUTER_LEDGER"):
        return env["COSTROUTER_LEDGER"]
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return "sqlite:///" + os.path.join(base, "costrouter", "ledger.db")


def ledger_from_url(url: str, **options: Any) -> Ledger:
    """Open the ledger a URL names, passing ``options`` to its backend (for example
    ``max_size`` for PostgreSQL's pool); an unknown scheme lists the known ones."""
    scheme = url.partition("://")[0] if "://" in url else ""
    backend = SCHEMES.get(scheme)
    if backend is None:
        raise InputError(
            f"unknown ledger URL {url!r}: use one of {', '.join(sorted(SCHEMES))} "
            "(sqlite:///path/to/ledger.db, postgresql://user@host/db, memory://)"
        )
    return backend.from_url(url, **options)
