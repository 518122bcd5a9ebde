"""Spend reports for people: terminal tables, CSV, JSON and a self-contained HTML page."""
