"""Alembic revisions (a package so that it ships in the wheel; Alembic ignores this file)."""
