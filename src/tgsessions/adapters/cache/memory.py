"""``MemoryVerdictCache``: recent verdicts in this process, bounded, expiring by the injected clock.

- An entry lives ``ttl_seconds`` after its put. Reading an expired entry drops it and counts a miss and an ``expired``.
- Expired entries are swept at most every ttl/5 on put, and always before evicting when the cache is full; swept
  entries count as ``expired`` too.
- When the cache is still full after the sweep, the least recently used entry (by get or put) is evicted.

Every method runs without awaiting anything, so concurrent coroutines never see a half-done update.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta

from tgsessions.domain.ports import CacheStats, Clock
from tgsessions.domain.verdict import Verdict


class MemoryVerdictCache:
    backend = "memory"

    def __init__(self, clock: Clock, *, ttl_seconds: float = 300.0, max_entries: int = 1000) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be > 0")
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_seconds)
        self._sweep_every = self._ttl / 5
        self.ttl_seconds = float(ttl_seconds)
        self.max_entries = max_entries
        # session_id -> (verdict, expires_at), least recently used first
        self._lru: OrderedDict[str, tuple[Verdict, datetime]] = OrderedDict()
        # session_id -> expires_at, in put order: with one ttl this is expiry order, so sweeps stop early
        self._by_expiry: OrderedDict[str, datetime] = OrderedDict()
        self._hits = 0
        self._misses = 0
        self._expired = 0
        self._evictions = 0
        self._last_sweep: datetime | None = None

    def __repr__(self) -> str:
        return f"MemoryVerdictCache(entries={len(self._lru)}, ttl_seconds={self.ttl_seconds}, max={self.max_entries})"

    async def get(self, session_id: str) -> Verdict | None:
        entry = self._lru.get(session_id)
        if entry is None:
            self._misses += 1
            return None
        verdict, expires_at = entry
        if self._clock.now() >= expires_at:
            self._drop(session_id)
            self._expired += 1
            self._misses += 1
            return None
        self._lru.move_to_end(session_id)
        self._hits += 1
        return verdict

    async def get_many(self, session_ids: Sequence[str]) -> list[Verdict | None]:
        return [await self.get(session_id) for session_id in session_ids]

    async def put(self, session_id: str, verdict: Verdict) -> None:
        now = self._clock.now()
        if self._last_sweep is None or now - self._last_sweep >= self._sweep_every:
            self._sweep(now)
        if session_id not in self._lru and len(self._lru) >= self.max_entries:
            self._sweep(now)
            while len(self._lru) >= self.max_entries:
                oldest, _ = self._lru.popitem(last=False)
                del self._by_expiry[oldest]
                self._evictions += 1
        expires_at = now + self._ttl
        self._lru[session_id] = (verdict, expires_at)
        self._lru.move_to_end(session_id)
        self._by_expiry[session_id] = expires_at
        self._by_expiry.move_to_end(session_id)

    async def invalidate(self, session_id: str) -> None:
        self._drop(session_id)

    async def stats(self) -> CacheStats:
        return CacheStats(
            backend=self.backend,
            hits=self._hits,
            misses=self._misses,
            entries=len(self._lru),
            expired=self._expired,
            evictions=self._evictions,
            last_sweep=self._last_sweep,
            ttl_seconds=self.ttl_seconds,
            max_entries=self.max_entries,
        )

    def _sweep(self, now: datetime) -> None:
        self._last_sweep = now
        while self._by_expiry:
            session_id, expires_at = next(iter(self._by_expiry.items()))
            if expires_at > now:
                break  # entries behind this one were put later (unless the clock went backwards: read-time expiry)
            self._drop(session_id)
            self._expired += 1

    def _drop(self, session_id: str) -> None:
        self._lru.pop(session_id, None)
        self._by_expiry.pop(session_id, None)
