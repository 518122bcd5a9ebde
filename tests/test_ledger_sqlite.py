"""SQLite specifics: reads (reports, status, listings) never wait for or hold up writers."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

from router import Budget, SQLiteLedger

TAGS = {"user": "alice", "model": "gpt:gpt-4o", "provider": "gpt"}


def test_an_open_read_neither_blocks_nor_is_blocked_by_a_reservation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one connection sits inside a read-only transaction (a long report), another
    reserves and settles at once; and a read goes through while a write transaction is open.
    With a short busy timeout a lock wait would fail this test instead of hanging it."""
    monkeypatch.setattr("router.ledger.sqlite.BUSY_TIMEOUT_MS", 300)
    path = str(tmp_path / "ledger.db")
    reader, writer = SQLiteLedger(path), SQLiteLedger(path)
    writer.set_budget(Budget.parse("user=alice", "10"))
    now = time.time()
    with reader._transaction(write=False) as cur:
        cur.execute("SELECT COUNT(*) FROM calls").fetchone()  # the snapshot starts here
        started = time.monotonic()
        writer.reserve("c1", Decimal("1"), TAGS, now)
        assert time.monotonic() - started < 0.25
        (seen,) = cur.execute("SELECT COUNT(*) FROM holds").fetchone()
        assert seen == 0  # the reader keeps its snapshot
    with writer._transaction() as cur:
        cur.execute("DELETE FROM holds WHERE call_id = 'nobody'")  # holds the write lock
        (status,) = reader.status(now)
        assert status.reserved == Decimal("1")
    reader.close()
    writer.close()
