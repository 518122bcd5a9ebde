"""Spend reports for people: terminal tables, CSV, JSON and a self-contained HTML page."""

from collections.abc import Callable

from ..ledger.spend import Report
from .formats import to_csv, to_json, to_table
from .html import to_html
from .insights import Insights

#: Every report format, by the name ``costrouter report --format`` takes: each renders the
#: report with its insights (computed from the report alone when None).
FORMATS: dict[str, Callable[[Report, Insights | None], str]] = {
    "table": to_table,
    "csv": to_csv,
    "json": to_json,
    "html": to_html,
}
