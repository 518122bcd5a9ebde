"""``sqlite:///path``: the embedded ledger. A real file in WAL mode, one connection per thread.

``BEGIN IMMEDIATE`` takes the database's write lock before a transaction's first read, so a
reservation's check and holds cannot interleave with another writer, in this process or any
other. The file is created with mode 0600 (its directory 0700); writers wait up to the busy
timeout. ``synchronous=NORMAL`` in WAL mode keeps every committed call through a process crash;
the WAL is synced to disk at each checkpoint, so a power loss or OS crash can lose the calls
committed since the last one (never a partial transaction).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .base import LedgerError
from .schema import SCHEMA_VERSION, tables
from .sidetables import Cursor
from .sql import SQLLedger

BUSY_TIMEOUT_MS = 60_000
#: WAL pages between automatic checkpoints (SQLite's default is 1,000). A checkpoint syncs the
#: file to disk twice; ten times fewer of them took a reserve + settle pair from about 350 to
#: about 260 µs on this project's machine. The WAL file grows to about 40 MB between them.
CHECKPOINT_PAGES = 10_000


def path_from_url(url: str) -> str:
    """``sqlite:///rel/path`` is relative to the working directory, ``sqlite:////abs`` absolute."""
    path = url.removeprefix("sqlite:///")
    if not path or path == url:
        raise LedgerError(f"a SQLite ledger URL is sqlite:///path/to/ledger.db, got {url!r}")
    return os.path.expanduser(path)


class SQLiteLedger(SQLLedger):
    """The ledger in one SQLite file at ``path`` (made, with its directory, if missing).

    ``read_only`` opens it for reading alone (status, reports, listings): nothing is created,
    no write lock is taken (but once, to bring a ledger of an older schema up to date), and a
    file that does not exist yet reads as an empty ledger."""

    def __init__(self, path: str, *, read_only: bool = False) -> None:
        super().__init__()
        self.path = path
        self.read_only = read_only
        self._local = threading.local()
        if read_only:
            self._exists = os.path.exists(path)
            if self._exists:
                with self._transaction(write=False) as cur:
                    found = self._check_version(cur)
                if found < SCHEMA_VERSION:
                    SQLiteLedger(path).close()  # opened writable, it brings the schema up
            return
        self._create_file()
        with self._transaction() as cur:
            self._migrate(cur)

    def _create_schema(self, cur: Cursor) -> None:
        for statement in tables(clustered=" WITHOUT ROWID"):
            cur.execute(statement)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SQLiteLedger:
        return cls(path_from_url(url), **options)

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

    def _open(self) -> sqlite3.Connection:
        """A new connection: to the file, read-only if asked, or, read-only with no file yet,
        to an empty ledger in memory (so nothing is created on disk)."""
        timeout = BUSY_TIMEOUT_MS / 1000
        if not self.read_only:
            return sqlite3.connect(self.path, isolation_level=None, timeout=timeout)
        if self._exists:
            uri = f"file:{urllib.parse.quote(os.path.abspath(self.path))}?mode=ro"
            return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout)
        empty = sqlite3.connect(":memory:", isolation_level=None)
        for statement in tables(clustered=" WITHOUT ROWID"):
            empty.execute(statement)
        return empty

    def _connection(self) -> tuple[sqlite3.Connection, sqlite3.Cursor]:
        """This thread's connection and a cursor on it (opened anew in a forked child)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            try:
                connection = self._open()
                connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                if self.read_only:
                    local.handles, local.pid = (connection, connection.cursor()), os.getpid()
                    return local.handles  # type: ignore[no-any-return]  # set just above
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = NORMAL")
                connection.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")
                # After a checkpoint, a WAL that readers let grow past twice that is cut back.
                connection.execute(f"PRAGMA journal_size_limit = {CHECKPOINT_PAGES * 8192}")
            except sqlite3.Error as exc:
                raise LedgerError(f"cannot open the ledger {self.path!r}: {exc}") from exc
            local.handles, local.pid = (connection, connection.cursor()), os.getpid()
        return local.handles  # type: ignore[no-any-return]  # set just above, per thread

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[Cursor]:
        """A write transaction takes the write lock first (``BEGIN IMMEDIATE``); a read-only one
        (status, reports, listings) reads a WAL snapshot, so a long report never holds up a
        reservation, and a reservation never holds up a report."""
        if write and self.read_only:
            raise LedgerError(f"the ledger {self.path!r} was opened read-only: open it to write")
        connection, cur = self._connection()
        try:
            cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            access = "writable" if write else "readable"
            raise LedgerError(f"the ledger {self.path!r} is not {access}: {exc}") from exc
        try:
            yield cur
        except sqlite3.Error as exc:
            connection.rollback()
            raise LedgerError(f"ledger {self.path!r}: {exc}") from exc
        except BaseException:
            connection.rollback()
            raise
        else:
            try:
                cur.execute("COMMIT")
            except sqlite3.Error as exc:  # a full disk, a locked or vanished file
                connection.rollback()
                raise LedgerError(f"ledger {self.path!r}: cannot commit: {exc}") from exc

    def close(self) -> None:
        handles = getattr(self._local, "handles", None)
        if handles is not None and self._local.pid == os.getpid():
            handles[0].close()
        self._local.handles = self._local.pid = None
