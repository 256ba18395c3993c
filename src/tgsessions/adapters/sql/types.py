"""Column types: timezone-aware UTC datetimes on every backend."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator

from tgsessions.domain.clock import ensure_utc


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that accepts only aware datetimes and always returns aware UTC ones.

    SQLite has no time zones: values are stored as naive UTC text (so they still sort and compare correctly) and get
    UTC attached on the way out. PostgreSQL stores ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = ensure_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
