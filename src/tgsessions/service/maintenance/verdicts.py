"""MaintenanceVerdicts: the verdict cache as maintenance sees it — it reads the shared cache, and writes to it only
where it refreshes a verdict the cache already holds.

The shared cache (memory or Redis) is bounded and kept for the foreground: a fetch whose primary's verdict is cached
is answered without Telegram and without the phone lock. A maintenance run checks every session of every account;
written through, those verdicts would fill the cache with sessions nobody fetches (keepers, backups, cold phones)
and push out the hot ones. So maintenance keeps its own verdicts in a small local store for the account it works on
(each step after the keep-alive finds them there instead of asking Telegram again), and passes a verdict on to the
shared cache only when that cache already holds one for the session — a refresh, which never evicts anything.
Invalidations go through unchanged: a session maintenance revoked, or could not confirm, must not stay cached as
alive for a fetch.

The local store is bounded (``capacity`` entries, least recently used dropped first) and its entries live
``ttl_seconds`` (an account's visit takes far less; a visit set aside for a flood wait asks again after it).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta

from tgsessions.domain.ports import CacheStats, Clock, VerdictCache
from tgsessions.domain.verdict import Verdict

LOCAL_TTL_SECONDS = 60.0
LOCAL_CAPACITY = 8192


class MaintenanceVerdicts:
    """A VerdictCache over ``shared``: local verdicts first, shared ones read, shared ones refreshed only."""

    def __init__(
        self,
        shared: VerdictCache,
        clock: Clock,
        *,
        ttl_seconds: float = LOCAL_TTL_SECONDS,
        capacity: int = LOCAL_CAPACITY,
    ) -> None:
        self.shared = shared
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_seconds)
        self._capacity = capacity
        self._local: OrderedDict[str, tuple[Verdict, datetime]] = OrderedDict()
        self.refreshed = 0  # verdicts written to the shared cache (each over an entry it held)
        self.kept_local = 0  # verdicts the shared cache did not hold, kept here only

    def __repr__(self) -> str:
        return f"MaintenanceVerdicts(local={len(self._local)}, shared={self.shared!r})"

    async def get(self, session_id: str) -> Verdict | None:
        local = self._local_verdict(session_id)
        return local if local is not None else await self.shared.get(session_id)

    async def get_many(self, session_ids: Sequence[str]) -> list[Verdict | None]:
        found = [self._local_verdict(session_id) for session_id in session_ids]
        missing = [session_id for session_id, verdict in zip(session_ids, found, strict=True) if verdict is None]
        shared = iter(await self.shared.get_many(missing) if missing else [])
        return [verdict if verdict is not None else next(shared) for verdict in found]

    async def put(self, session_id: str, verdict: Verdict) -> None:
        self._remember(session_id, verdict)
        if await self.shared.get(session_id) is not None:
            await self.shared.put(session_id, verdict)
            self.refreshed += 1
        else:
            self.kept_local += 1

    async def invalidate(self, session_id: str) -> None:
        self._local.pop(session_id, None)
        await self.shared.invalidate(session_id)

    async def stats(self) -> CacheStats:
        return await self.shared.stats()

    def _local_verdict(self, session_id: str) -> Verdict | None:
        entry = self._local.get(session_id)
        if entry is None:
            return None
        verdict, expires_at = entry
        if self._clock.now() >= expires_at:
            del self._local[session_id]
            return None
        self._local.move_to_end(session_id)
        return verdict

    def _remember(self, session_id: str, verdict: Verdict) -> None:
        self._local[session_id] = (verdict, self._clock.now() + self._ttl)
        self._local.move_to_end(session_id)
        while len(self._local) > self._capacity:
            self._local.popitem(last=False)
