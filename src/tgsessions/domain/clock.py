"""Time is injected: every datetime is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Refuse naive datetimes; convert aware ones to UTC."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: every datetime in tgsessions is timezone-aware UTC")
    return value.astimezone(UTC)
