"""Budgets and spend, stored: the ledger interface and its memory, SQLite and PostgreSQL backends."""
