"""``LimitsRateWindow``: the RateWindow port over the ``limits`` library, in this process or shared through Redis.

The strategy is the library's **sliding window counter** (``limits.aio.strategies.SlidingWindowCounterRateLimiter``):
per key, the hits of the current minute plus those of the previous minute weighted by how much of it still overlaps
the last 60 s. Chosen over the moving window because

- it stores two counters per key whatever the rate (the moving window keeps one timestamp per hit: up to a million
  for the largest limit a key may have), and takes one Redis round trip per allowed hit;
- on Redis its windows are judged by Redis' own clock (``PTTL``), so instances whose clocks disagree still agree;
- in memory it needs no background thread hops (the library's moving window trims its lists in a thread, key by key);
- it behaves as the token bucket it replaces did: a burst of up to N hits, then about N per minute. Its price is the
  same approximation: the hits of the previous minute are assumed evenly spread, so a worst-case 60 s span may see
  up to about 2 N (never more than N at once).

The key of a window names the API key only (not its rate), so a changed rate applies to the hits already counted.
When Redis cannot be reached, hits are counted in this process (``fallback``) until it can again, with one warning
per outage: each instance then enforces the limit on its own, but no request fails because of the limiter.
"""

from __future__ import annotations

import logging
import time

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

STORAGE_ERRORS = (StorageError, RedisError, OSError)
SHORTEST_WAIT = 0.001  # a refusal always names a wait (the window may have just moved on under it)
MINUTE = 60


class _KeyLimit(RateLimitItemPerSecond):
    """``amount`` hits per ``multiples`` seconds; the storage key names the identifiers only, not the amount."""

    def key_for(self, *identifiers: bytes | str | int | float) -> str:
        return "/".join([self.namespace, *(str(part) for part in identifiers)])


class LimitsRateWindow:
    """Hits per key over a window of ``window_seconds`` (a minute; tests shorten it), on a ``limits`` storage."""

    def __init__(
        self, storage: Storage, *, window_seconds: int = MINUTE, fallback: LimitsRateWindow | None = None
    ) -> None:
        if window_seconds < 1:
            raise ValueError("a rate window lasts at least one second")
        self._strategy = SlidingWindowCounterRateLimiter(storage)
        self._window = window_seconds
        self._fallback = fallback
        self._items: dict[int, _KeyLimit] = {}
        self._down = False
        self.backend = "redis" if isinstance(storage, RedisStorage) else "memory"

    @classmethod
    def in_memory(cls, *, window_seconds: int = MINUTE) -> LimitsRateWindow:
        """Counted in this process: each instance has its own limit."""
        return cls(MemoryStorage(), window_seconds=window_seconds)

    @classmethod
    def on_redis(
        cls, pool: ConnectionPool, *, prefix: str = "tgs:limits", window_seconds: int = MINUTE
    ) -> LimitsRateWindow:
        """Counted in Redis under ``prefix`` (one limit for every instance on it), through ``pool``'s connections
        (the caller closes it); counted in this process while Redis is unreachable."""
        # the client comes from ``pool`` (built from the configured URL), not from the storage URI
        storage = RedisStorage("async+redis://", implementation="redispy", key_prefix=prefix,
                               connection_pool=pool)  # type: ignore[arg-type]  # documented; typed as scalars  # fmt: skip
        return cls(storage, window_seconds=window_seconds, fallback=cls.in_memory(window_seconds=window_seconds))

    def __repr__(self) -> str:
        return f"LimitsRateWindow(backend={self.backend!r}, window_seconds={self._window})"

    async def hit(self, key: str, per_minute: int) -> float:
        if per_minute < 1:
            raise ValueError("a rate limit allows at least one hit")
        item = self._item(per_minute)
        try:
            wait = await self._take(item, key)
        except STORAGE_ERRORS as exc:
            if self._fallback is None:
                raise
            self._note_down(exc)
            return await self._fallback.hit(key, per_minute)
        self._note_up()
        return wait

    async def _take(self, item: _KeyLimit, key: str) -> float:
        if await self._strategy.hit(item, key):
            return 0.0
        stats = await self._strategy.get_window_stats(item, key)
        return max(SHORTEST_WAIT, stats.reset_time - time.time())

    def _item(self, per_minute: int) -> _KeyLimit:
        item = self._items.get(per_minute)
        if item is None:
            if len(self._items) > 1000:  # rates are few; never let them grow without bound
                self._items.clear()
            item = self._items[per_minute] = _KeyLimit(per_minute, self._window, namespace="rate")
        return item

    def _note_down(self, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            log.warning("the shared rate limits are unreachable (%s): counting in this process until they are back",
                        type(exc).__name__)  # fmt: skip

    def _note_up(self) -> None:
        if self._down:
            self._down = False
            log.warning("the shared rate limits are reachable again")
