"""Budget values: calendar windows (cached by their bounds) and the nanodollar unit."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from router.ledger.budgets import from_units, to_units
from router.ledger.calendar import _last_window, window_key

#: UTC, a fixed offset, and zones whose clocks change at local midnight (Santiago, Havana,
#: Beirut), where the first instant of a day is not 00:00 every day.
ZONES = ("UTC", "Asia/Kolkata", "America/Santiago", "America/Havana", "Asia/Beirut")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
#: 2000-01-01 .. 2040-01-01 in Unix seconds.
INSTANTS = st.floats(min_value=946_684_800, max_value=2_208_988_800, allow_nan=False)


def direct(period: str, tz: str, now: float) -> str:
    """The window's key computed from scratch, the way its definition reads: the local date of
    the instant, truncated (not rounded) to the microsecond, so an instant a fraction of a
    microsecond before midnight is still in its day."""
    instant = EPOCH + dt.timedelta(microseconds=math.floor(now * 1_000_000))
    day = instant.astimezone(dt.timezone.utc if tz == "UTC" else ZoneInfo(tz)).date()
    if period == "week":
        day -= dt.timedelta(days=day.weekday())
    elif period == "month":
        day = day.replace(day=1)
    return day.isoformat()


@settings(max_examples=400)
@given(
    st.sampled_from(("day", "week", "month")),
    st.sampled_from(ZONES),
    INSTANTS,
    st.floats(min_value=-3 * 86400, max_value=3 * 86400, allow_nan=False),
)
def test_cached_window_equals_the_direct_calendar(
    period: str, tz: str, now: float, step: float
) -> None:
    """A lookup near the last one (answered from the cached bounds or not) gives the key the
    calendar gives, on both sides of midnights and clock changes."""
    assert window_key(period, tz, now) == direct(period, tz, now)
    assert window_key(period, tz, now + step) == direct(period, tz, now + step)


def test_an_instant_just_before_midnight_is_in_its_day_cached_or_not() -> None:
    """2208988799.9999995 is half a microsecond before 2040-01-01 (datetime rounds it up): it
    is in December whether the month's bounds are cached or not (this once disagreed)."""
    before = 2_208_988_799.9999995
    _last_window.clear()
    assert window_key("month", "UTC", before) == "2039-12-01"
    assert window_key("month", "UTC", before - 86400) == "2039-12-01"
    assert window_key("month", "UTC", before) == "2039-12-01"
    assert window_key("month", "UTC", 2_208_988_800.0) == "2040-01-01"


def test_window_bounds_are_cached_and_exact_at_midnight() -> None:
    """The cache answers inside a window and turns over at exactly the first instant of the
    next one, also where a clock change skips local midnight."""
    _last_window.clear()
    midnight = dt.datetime(2026, 3, 15, tzinfo=dt.timezone.utc).timestamp()
    assert window_key("day", "UTC", midnight - 1) == "2026-03-14"
    assert _last_window["day", "UTC"] == (midnight - 86400, midnight, "2026-03-14")
    assert window_key("day", "UTC", midnight - 1e-6) == "2026-03-14"
    assert window_key("day", "UTC", midnight) == "2026-03-15"
    # Santiago skipped 2022-09-11 00:00 (clocks went to 01:00): that day began at 04:00 UTC.
    change = dt.datetime(2022, 9, 11, 4, tzinfo=dt.timezone.utc).timestamp()
    assert window_key("day", "America/Santiago", change - 1) == "2022-09-10"
    assert window_key("day", "America/Santiago", change) == "2022-09-11"
    assert window_key("total", "UTC", midnight) == "total"


@given(st.decimals(min_value=0, max_value=9_000_000_000, allow_nan=False, places=12))
def test_units_round_up_to_whole_nanodollars(amount: Decimal) -> None:
    """to_units is the ceiling in nanodollars: never below the amount, less than one unit over."""
    units = to_units(amount)
    assert isinstance(units, int)
    assert from_units(units) >= amount
    assert from_units(units) - amount < Decimal("1e-9")
    assert to_units(from_units(units)) == units


def test_sqlite_schema_is_version_4_and_an_unknown_version_is_refused(tmp_path: Path) -> None:
    """A new SQLite ledger is made at schema version 4 with the hot tables stored without a
    rowid; a file whose schema is a version this build does not know is refused with a
    LedgerError naming it, and left as it was."""
    import sqlite3

    from router import LedgerError, ledger_from_url

    path = tmp_path / "ledger.db"
    ledger_from_url(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as made:
        assert made.execute("SELECT MAX(version) FROM costrouter_schema").fetchone() == (4,)
        tables = dict(made.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
        assert "WITHOUT ROWID" in tables["holds"]
        assert "WITHOUT ROWID" in tables["budget_spend"]
        made.execute("INSERT INTO costrouter_schema VALUES (5)")
    with pytest.raises(LedgerError, match="schema version 5"):
        ledger_from_url(f"sqlite:///{path}")
    with sqlite3.connect(path) as kept:
        assert kept.execute("SELECT version FROM costrouter_schema").fetchall() == [(4,), (5,)]
