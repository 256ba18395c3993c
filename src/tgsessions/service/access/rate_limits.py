"""Per-key request rate limits, counted by a RateWindow: in this process, or in Redis when it is configured, so that
every instance on that Redis enforces one limit per key, not one each.

A key's limit is its own ``rate_limit_per_minute``, else the default; 0 (the default only) means unlimited. The
limit is read at each request, so a changed one applies at once, to the hits already counted.
"""

from __future__ import annotations

from tgsessions.domain.access import ApiKey
from tgsessions.domain.errors import RateLimited
from tgsessions.domain.ports import RateWindow


class RateLimiter:
    def __init__(self, window: RateWindow, *, default_per_minute: int) -> None:
        self._window = window
        self._default = default_per_minute

    def __repr__(self) -> str:
        return f"RateLimiter(window={self._window!r}, default_per_minute={self._default})"

    async def check(self, key: ApiKey) -> None:
        """Count one request of ``key``, or raise RateLimited with the seconds until the next one is allowed."""
        rate = key.rate_limit_per_minute or self._default
        if rate <= 0:
            return
        wait = await self._window.hit(key.key_id, rate)
        if wait > 0:
            raise RateLimited(f"API key {key.key_id} is over its limit of {rate} requests per minute",
                              retry_after=wait)  # fmt: skip
