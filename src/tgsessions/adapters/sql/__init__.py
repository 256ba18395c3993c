"""SQL storage (SQLAlchemy Core, async) for SQLite and PostgreSQL, with Alembic migrations.

Public API: :class:`SqlDatabase` (open/aclose/unit_of_work/leases/ping) and, in :mod:`.migrate`, ``upgrade``,
``downgrade``, ``current_revision``, ``head_revision``, ``is_current``.
"""

from __future__ import annotations

from tgsessions.adapters.sql.database import SqlDatabase

__all__ = ["SqlDatabase"]
