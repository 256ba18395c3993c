"""Alembic environment of tgsessions (a package so that it ships in the wheel)."""
