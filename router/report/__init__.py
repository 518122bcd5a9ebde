"""Spend reports for people: terminal tables, CSV, JSON and a self-contained HTML page."""

from collections.abc import Callable

from ..ledger.spend import Report
from .formats import to_csv, to_json, to_table
from .html import to_html

#: Every report format, by the name ``costrouter report --format`` takes.
FORMATS: dict[str, Callable[[Report], str]] = {
    "table": to_table,
    "csv": to_csv,
    "json": to_json,
    "html": to_html,
}
