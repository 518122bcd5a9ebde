"""Report speed over 1,000,000 synthetic ledger rows, on SQLite and PostgreSQL.

Run: python -m benchmarks.bench_report [--rows N] [--postgres URL]
Rows come from tests/synthetic.py (60 days, 5 models, 4 users, tags). Loading is timed but is
not the target; each report is timed end to end (the SQL aggregation, the Report value), best
of three. The PostgreSQL run uses a fresh schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import uuid

from router import ReportQuery, ledger_from_url
from router.ledger.sql import SQLLedger
from tests.synthetic import rows

QUERIES = {
    "total only": ReportQuery(),
    "by day, model": ReportQuery(by=("day", "model")),
    "by user, project": ReportQuery(by=("user", "project")),
    "by tag:team, one user, 10 days": ReportQuery(
        by=("tag:team",),
        tags={"user": "alice"},
        since=dt.date(2026, 1, 10),
        until=dt.date(2026, 1, 20),
    ),
}


def measure(url: str, count: int, label: str) -> None:
    ledger = ledger_from_url(url)
    assert isinstance(ledger, SQLLedger)
    start = time.perf_counter()
    ledger.insert_rows(rows(count))
    loaded = time.perf_counter() - start
    print(f"| {label} | load {count:,} rows | {loaded:.1f} s |")
    for name, query in QUERIES.items():
        best = min(_timed(ledger, query) for _ in range(3))
        print(f"| {label} | report {name} | {best:.2f} s |")
    ledger.close()


def _timed(ledger: SQLLedger, query: ReportQuery) -> float:
    start = time.perf_counter()
    report = ledger.report(query, time.time())
    assert report.total.calls > 0
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    print("| backend | what | time |")
    print("|---|---|---:|")
    with tempfile.TemporaryDirectory() as directory:
        measure(f"sqlite:///{directory}/report.db", args.rows, "SQLite")
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.postgres, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        measure(f"{args.postgres}?options=-csearch_path%3D{schema}", args.rows, "PostgreSQL 15")
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
