"""The ledger's SQL schema (versioned migrations) and the mapping of a row to its columns.

Shared by the SQLite and PostgreSQL ledgers. Money columns hold whole nanodollars.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from .base import LedgerRow
from .budgets import from_units, to_units, window_key

#: Versioned migrations: (version, statements). Apply in order; never edit a released one.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE budgets (
            scope TEXT NOT NULL, period TEXT NOT NULL, limit_nusd BIGINT NOT NULL,
            soft INTEGER NOT NULL, tz TEXT NOT NULL, PRIMARY KEY (scope, period))""",
            """CREATE TABLE budget_spend (
            scope TEXT NOT NULL, period TEXT NOT NULL, win TEXT NOT NULL,
            spent_nusd BIGINT NOT NULL, PRIMARY KEY (scope, period, win))""",
            """CREATE TABLE holds (
            call_id TEXT NOT NULL, scope TEXT NOT NULL, period TEXT NOT NULL, win TEXT NOT NULL,
            amount_nusd BIGINT NOT NULL, expires_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (call_id, scope, period))""",
            "CREATE INDEX holds_by_budget ON holds (scope, period, win, expires_at)",
            """CREATE TABLE calls (
            call_id TEXT PRIMARY KEY, ts DOUBLE PRECISION NOT NULL,
            day TEXT NOT NULL, week TEXT NOT NULL, month TEXT NOT NULL,
            requested_model TEXT NOT NULL, served_model TEXT NOT NULL, provider TEXT NOT NULL,
            user_tag TEXT, project_tag TEXT, tags TEXT NOT NULL,
            input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,
            cached_tokens BIGINT NOT NULL, reasoning_tokens BIGINT NOT NULL,
            est_low_nusd BIGINT NOT NULL, est_expected_nusd BIGINT NOT NULL,
            est_high_nusd BIGINT NOT NULL, cost_nusd BIGINT NOT NULL,
            status TEXT NOT NULL, latency DOUBLE PRECISION NOT NULL, attempts INTEGER NOT NULL)""",
            "CREATE INDEX calls_by_ts ON calls (ts)",
        ),
    ),
)


ROW_COLUMNS = (
    "call_id, ts, day, week, month, requested_model, served_model, provider, user_tag, "
    "project_tag, tags, input_tokens, output_tokens, cached_tokens, reasoning_tokens, "
    "est_low_nusd, est_expected_nusd, est_high_nusd, cost_nusd, status, latency, attempts"
)


INSERT_ROW = (
    "INSERT INTO calls (call_id, ts, day, week, month, requested_model, served_model, provider, "
    "user_tag, project_tag, tags, input_tokens, output_tokens, cached_tokens, reasoning_tokens, "
    "est_low_nusd, est_expected_nusd, est_high_nusd, cost_nusd, status, latency, attempts) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


SELECT_ROWS = (
    "SELECT call_id, ts, day, week, month, requested_model, served_model, provider, user_tag, "
    "project_tag, tags, input_tokens, output_tokens, cached_tokens, reasoning_tokens, "
    "est_low_nusd, est_expected_nusd, est_high_nusd, cost_nusd, status, latency, attempts "
    "FROM calls ORDER BY ts, call_id"
)


def calendar_keys(ts: float) -> tuple[str, str, str]:
    """UTC day, ISO-week start and month start of a Unix time, as ISO dates."""
    return (
        window_key("day", "UTC", ts),
        window_key("week", "UTC", ts),
        window_key("month", "UTC", ts),
    )


@functools.lru_cache(maxsize=1024)
def tags_json(tags: tuple[tuple[str, str], ...]) -> str:
    """A call's tags as stored: a JSON object with sorted keys (calls repeat their tags)."""
    return json.dumps(dict(tags), sort_keys=True)


def row_values(row: LedgerRow) -> tuple[Any, ...]:
    tags = row.tag_map
    return (
        row.call_id,
        row.ts,
        *calendar_keys(row.ts),
        row.requested_model,
        row.served_model,
        row.served_model.partition(":")[0],
        tags.get("user"),
        tags.get("project"),
        tags_json(row.tags),
        row.input_tokens,
        row.output_tokens,
        row.cached_tokens,
        row.reasoning_tokens,
        to_units(row.estimate_low),
        to_units(row.estimate_expected),
        to_units(row.estimate_high),
        to_units(row.cost),
        row.status,
        row.latency,
        row.attempts,
    )


def row_from(values: Sequence[Any]) -> LedgerRow:
    (
        call_id,
        ts,
        _d,
        _w,
        _m,
        requested,
        served,
        _p,
        _u,
        _pr,
        tags,
        tokens_in,
        tokens_out,
        cached,
        reasoning,
        low,
        expected,
        high,
        cost,
        status,
        latency,
        attempts,
    ) = values
    return LedgerRow(
        call_id,
        float(ts),
        requested,
        served,
        tuple(sorted(json.loads(tags).items())),
        int(tokens_in),
        int(tokens_out),
        int(cached),
        int(reasoning),
        from_units(int(low)),
        from_units(int(expected)),
        from_units(int(high)),
        from_units(int(cost)),
        status,
        float(latency),
        int(attempts),
    )
