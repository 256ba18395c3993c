"""The limits of one runtime, opened from one setting: in this process, or shared through Redis.

``open_limits(None)``: the per-key rate window counts in this process and flood waits stay in each gateway's own
memory (one instance). ``open_limits(url)``: both live in Redis at ``url``, on one connection pool closed on exit,
so every instance on that Redis enforces one limit, not one each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import ConnectionPool, Redis

from tgsessions.adapters.limits.deadlines import RedisDeadlineBoard
from tgsessions.adapters.limits.rate_window import LimitsRateWindow
from tgsessions.domain.limits import DeadlineBoard, RateWindow


@dataclass(frozen=True, slots=True)
class SharedLimits:
    rate_window: RateWindow
    flood_waits: DeadlineBoard | None  # None: each gateway keeps the flood waits it met in its own memory


@asynccontextmanager
async def open_limits(
    redis_url: str | None, *, prefix: str = "tgs:", socket_timeout: float = 2.0
) -> AsyncIterator[SharedLimits]:
    """The limits in memory (``redis_url`` None) or in Redis under ``prefix`` (bounded socket timeouts)."""
    if redis_url is None:
        yield SharedLimits(LimitsRateWindow.in_memory(), None)
        return
    pool = ConnectionPool.from_url(redis_url, socket_connect_timeout=socket_timeout, socket_timeout=socket_timeout)
    try:
        board = RedisDeadlineBoard(Redis(connection_pool=pool), prefix=f"{prefix}flood:")
        yield SharedLimits(LimitsRateWindow.on_redis(pool, prefix=f"{prefix}limits"), board)
    finally:
        await pool.aclose()
