"""Unique-constraint violations, recognised the same way on SQLite and PostgreSQL, and the errors they become."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

DUPLICATE_SESSION_MESSAGE = "this session string is already stored"


def violates_unique(exc: IntegrityError, table: str, column: str) -> bool:
    """Whether ``exc`` is the unique violation of ``table.column`` (SQLite names the column, PostgreSQL the
    constraint, which the naming convention in tables.py spells ``uq_<table>_<column>``)."""
    text = str(exc.orig)
    return f"{table}.{column}" in text or f"uq_{table}_{column}" in text
