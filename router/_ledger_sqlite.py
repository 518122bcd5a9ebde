"""``sqlite:///path``: the embedded ledger. A real file in WAL mode, one connection per thread.

``BEGIN IMMEDIATE`` takes the database's write lock before a transaction's first read, so a
reservation's check and holds cannot interleave with another writer, in this process or any
other. The file is created with mode 0600 (its directory 0700); writers wait up to the busy
timeout. ``synchronous=NORMAL`` in WAL mode keeps every committed call through a process crash.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ._ledger import LedgerError
from ._ledger_sql import Cursor, SQLLedger

BUSY_TIMEOUT_MS = 60_000


def path_from_url(url: str) -> str:
    """``sqlite:///rel/path`` is relative to the working directory, ``sqlite:////abs`` absolute."""
    path = url.removeprefix("sqlite:///")
    if not path or path == url:
        raise LedgerError(f"a SQLite ledger URL is sqlite:///path/to/ledger.db, got {url!r}")
    return os.path.expanduser(path)


class SQLiteLedger(SQLLedger):
    scheme = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._create_file()
        with self._transaction() as cur:
            self.migrate(cur)

    @classmethod
    def from_url(cls, url: str) -> SQLiteLedger:
        return cls(path_from_url(url))

    def __repr__(self) -> str:
        return f"SQLiteLedger({self.path!r})"

    def _create_file(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        except OSError as exc:
            raise LedgerError(
                f"cannot create the ledger file {self.path!r}: {exc.strerror}"
            ) from exc

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None or getattr(self._local, "pid", None) != os.getpid():
            try:
                connection = sqlite3.connect(
                    self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000
                )
                connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:
                raise LedgerError(f"cannot open the ledger {self.path!r}: {exc}") from exc
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        connection = self._connection()
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise LedgerError(f"the ledger {self.path!r} is not writable: {exc}") from exc
        try:
            yield connection.cursor()
        except sqlite3.Error as exc:
            connection.execute("ROLLBACK")
            raise LedgerError(f"ledger {self.path!r}: {exc}") from exc
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        else:
            connection.execute("COMMIT")

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
