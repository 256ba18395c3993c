"""Ports of the limits every instance must enforce together: per-key request windows and flood-wait deadlines.

With one instance they live in its memory. With several behind one Redis they live there, so N instances enforce
one limit, not N (a key's rate limit, a flood wait Telegram gave one of them). Both are re-exported by ports.py.
"""

from __future__ import annotations

from typing import Protocol


class RateWindow(Protocol):
    """Hits counted per key over the last minute, shared by every instance that uses the same window."""

    async def hit(self, key: str, per_minute: int) -> float:
        """Take one hit for ``key`` under a limit of ``per_minute`` (>= 1) hits a minute: 0.0 when it is allowed
        (and counted), else the seconds until the next hit will be (> 0; nothing counted). The limit is the
        caller's at each hit: a changed one applies to the hits already counted."""
        ...


class DeadlineBoard(Protocol):
    """Deadlines (seconds since the epoch, read on the caller's clock) under string keys, seen by every instance
    that shares the board. A deadline only moves later; an entry is forgotten after its time to live."""

    async def until(self, key: str) -> float | None:
        """The deadline held for ``key``, or None (none held, forgotten, or the board unreachable)."""
        ...

    async def hold(self, key: str, until: float, ttl_seconds: float) -> None:
        """Hold ``until`` for ``key`` unless a later deadline is held; forget it after ``ttl_seconds``."""
        ...
