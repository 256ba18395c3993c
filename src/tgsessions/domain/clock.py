"""Time is injected: every datetime is timezone-aware UTC, and waiting is an injected ``Sleep``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

Sleep = Callable[[float], Awaitable[None]]  # asyncio.sleep, or a fake one that advances a test clock


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Refuse naive datetimes; convert aware ones to UTC."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: every datetime in tgsessions is timezone-aware UTC")
    return value.astimezone(UTC)
