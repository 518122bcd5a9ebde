"""Calendar windows: the minute, hour, day, ISO week or month an instant falls in.

Budgets count spend per window, days, weeks and months in their own time zone, minutes and
hours on the UTC clock; reports group calls by UTC windows. A window is named by the ISO date of
its first day, a minute or hour by its UTC start (``2026-12-02T07:58``, ``2026-12-02T07``), and
``total`` has one window, ``total``.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pricing import InputError

PERIODS = ("minute", "hour", "day", "week", "month", "total")
#: Sub-day periods are fixed UTC clock windows of this many seconds (whatever the budget's time
#: zone), so every process and PostgreSQL cut them alike; see window_bounds.
CLOCK_WINDOWS = {"minute": (60, "%Y-%m-%dT%H:%M"), "hour": (3600, "%Y-%m-%dT%H")}


def tzinfo(name: str) -> dt.tzinfo:
    """The time zone an IANA name (or ``UTC``) names; an unknown name is an input error."""
    if name == "UTC":
        return dt.timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Paris"
        ) from None


#: (period, tz) → the last window looked up: its Unix start and end, and its key.
_last_window: dict[tuple[str, str], tuple[float, float, str]] = {}


def window_key(period: str, tz: str, now: float) -> str:
    """The key of the ``period`` window (in time zone ``tz``) that ``now`` falls in.

    Every call in a window gets the same key, so the window's bounds are kept and a later
    ``now`` inside them is answered without calendar arithmetic."""
    if period == "total":
        return "total"
    last = _last_window.get((period, tz))
    if last is not None and last[0] <= now < last[1]:
        return last[2]
    start, end, key = window_bounds(period, tz, now)
    _last_window[period, tz] = (start, end, key)
    return key


def window_bounds(period: str, tz: str, now: float) -> tuple[float, float, str]:
    """The Unix start and end of the ``period`` window ``now`` falls in (``start <= now < end``,
    in float seconds, as the cache compares them), and its key (``total``: all time)."""
    if period == "total":
        return 0.0, math.inf, "total"
    clock = CLOCK_WINDOWS.get(period)
    if clock is not None:
        seconds, layout = clock
        first = float(math.floor(now / seconds) * seconds)
        key = dt.datetime.fromtimestamp(first, dt.timezone.utc).strftime(layout)
        return first, first + seconds, key
    start, end, key = _bounds(period, tz, now)
    # datetime rounds an instant to the nearest microsecond, which can carry one a fraction of
    # a microsecond before midnight into the next day: the bounds decide.
    if now < start:
        start, end, key = _bounds(period, tz, start - 1.0)
    elif now >= end:
        start, end, key = _bounds(period, tz, end)
    return start, end, key


def _bounds(period: str, tz: str, now: float) -> tuple[float, float, str]:
    zone = tzinfo(tz)
    first = dt.datetime.fromtimestamp(now, zone).date()
    if period == "week":
        first -= dt.timedelta(days=first.weekday())
        after = first + dt.timedelta(days=7)
    elif period == "month":
        first = first.replace(day=1)
        after = (first + dt.timedelta(days=31)).replace(day=1)
    else:
        after = first + dt.timedelta(days=1)
    # Local midnights as instants; a midnight skipped by a clock change maps to the instant
    # of the change, a repeated one to its first occurrence: both are where the date turns.
    start = dt.datetime.combine(first, dt.time(), zone).timestamp()
    end = dt.datetime.combine(after, dt.time(), zone).timestamp()
    return start, end, first.isoformat()


def window_label(period: str, key: str) -> str:
    """A window's key as people read it: 2026-12 for a month, the week's first day, all time."""
    if period in CLOCK_WINDOWS:
        return key.replace("T", " ") + ("" if period == "minute" else ":00") + " UTC"
    if period == "month":
        return key[:7]
    if period == "week":
        return f"week of {key}"
    return "all time" if period == "total" else key


def calendar_keys(ts: float) -> tuple[str, str, str]:
    """UTC day, ISO-week start and month start of a Unix time, as ISO dates."""
    return (
        window_key("day", "UTC", ts),
        window_key("week", "UTC", ts),
        window_key("month", "UTC", ts),
    )
