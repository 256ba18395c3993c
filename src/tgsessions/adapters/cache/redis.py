"""``RedisVerdictCache``: recent verdicts shared by every instance of the service through Redis.

Layout under ``prefix`` (default ``tgs:verdict:``); keys hold only session_ids, never session material:

- ``{prefix}v:{session_id}`` — a compact JSON of the verdict. Redis keeps it for twice the ttl: the first ttl it is
  served, the second it is only recognised as *expired* (read → deleted, counted as a miss and as ``expired``), so
  that an expired entry can be told apart from one that was never cached. Logical expiry is judged by ``PTTL``, i.e.
  by Redis' own clock, so instances with skewed clocks agree.
- ``{prefix}stats`` — a hash of counters (``hits``, ``misses``, ``expired``, ``evictions``) shared by all instances.
  ``evictions`` stays 0 here: Redis evicts by its own memory policy, which is why ``max_entries`` is reported as 0.

A Redis outage must not break fetch: every Redis error is caught, ``get`` answers None (counted as a miss in this
process), ``put``/``invalidate`` do nothing, and a warning is logged once per outage.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Sequence
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tgsessions.domain.clock import ensure_utc
from tgsessions.domain.ports import CacheStats
from tgsessions.domain.verdict import Verdict, VerdictKind

log = logging.getLogger(__name__)

# KEYS: entry, stats hash. ARGV: grace in ms. One round trip: read, judge expiry, count.
_GET_SCRIPT = """
local value = redis.call('GET', KEYS[1])
if not value then
  redis.call('HINCRBY', KEYS[2], 'misses', 1)
  return false
end
local left = redis.call('PTTL', KEYS[1])
if left ~= -1 and left <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('HINCRBY', KEYS[2], 'expired', 1)
  redis.call('HINCRBY', KEYS[2], 'misses', 1)
  return false
end
redis.call('HINCRBY', KEYS[2], 'hits', 1)
return value
"""

_ERRORS = (RedisError, OSError)


class RedisVerdictCache:
    backend = "redis"

    def __init__(self, client: Redis, *, ttl_seconds: float = 300.0, prefix: str = "tgs:verdict:") -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be > 0")
        self._client = client
        self.ttl_seconds = float(ttl_seconds)
        self.prefix = prefix
        self._ttl_ms = max(1, round(ttl_seconds * 1000))
        self._stats_key = f"{prefix}stats"
        self._get_script = client.register_script(_GET_SCRIPT)
        self._offline_misses = 0
        self._down = False

    @classmethod
    def from_url(
        cls, url: str, *, ttl_seconds: float = 300.0, prefix: str = "tgs:verdict:", timeout: float = 2.0
    ) -> RedisVerdictCache:
        """A cache on a new client for ``url`` (``redis://``, ``rediss://``, ``unix://``); bounded socket timeouts."""
        client = Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        return cls(client, ttl_seconds=ttl_seconds, prefix=prefix)

    def __repr__(self) -> str:
        return f"RedisVerdictCache(prefix={self.prefix!r}, ttl_seconds={self.ttl_seconds})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, session_id: str) -> Verdict | None:
        key = self._key(session_id)
        try:
            raw = await self._get_script(keys=[key, self._stats_key], args=[self._ttl_ms])
        except _ERRORS as exc:
            self._failed("get", exc)
            self._offline_misses += 1
            return None
        self._recovered()
        return await self._read(session_id, raw)

    async def get_many(self, session_ids: Sequence[str]) -> list[Verdict | None]:
        """Every :meth:`get` in one pipeline (one round trip), each through the same script."""
        if not session_ids:
            return []
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for session_id in session_ids:
                    await self._get_script(keys=[self._key(session_id), self._stats_key], args=[self._ttl_ms],
                                           client=pipe)  # fmt: skip
                raws = await pipe.execute()
        except _ERRORS as exc:
            self._failed("get", exc)
            self._offline_misses += len(session_ids)
            return [None] * len(session_ids)
        self._recovered()
        return [await self._read(session_id, raw) for session_id, raw in zip(session_ids, raws, strict=True)]

    async def _read(self, session_id: str, raw: object) -> Verdict | None:
        if raw is None:
            return None
        verdict = _decode(raw)
        if verdict is None:  # not ours or corrupt: drop it and count the read as a miss
            log.warning("verdict cache: unreadable entry for session %s dropped", session_id)
            await self._quietly("repair", self._repair(self._key(session_id)))
        return verdict

    async def put(self, session_id: str, verdict: Verdict) -> None:
        await self._quietly("put", self._client.set(self._key(session_id), _encode(verdict), px=2 * self._ttl_ms))

    async def invalidate(self, session_id: str) -> None:
        await self._quietly("invalidate", self._client.delete(self._key(session_id)))

    async def stats(self) -> CacheStats:
        counters: dict[str, int] = {}
        entries = 0
        try:
            raw = await self._client.hgetall(self._stats_key)
            counters = {_text(k): int(v) for k, v in raw.items()}
            async for _ in self._client.scan_iter(match=f"{_glob_escape(self.prefix)}v:*", count=1000):
                entries += 1
        except _ERRORS as exc:
            self._failed("stats", exc)
        else:
            self._recovered()
        return CacheStats(
            backend=self.backend,
            hits=counters.get("hits", 0),
            misses=counters.get("misses", 0) + self._offline_misses,
            entries=entries,
            expired=counters.get("expired", 0),
            evictions=counters.get("evictions", 0),
            last_sweep=None,  # Redis expires keys itself
            ttl_seconds=self.ttl_seconds,
            max_entries=0,  # bounded by Redis' memory policy
        )

    def _key(self, session_id: str) -> str:
        return f"{self.prefix}v:{session_id}"

    async def _repair(self, key: str) -> None:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hincrby(self._stats_key, "hits", -1)
            pipe.hincrby(self._stats_key, "misses", 1)
            await pipe.execute()

    async def _quietly(self, operation: str, call: Awaitable[object]) -> None:
        try:
            await call
        except _ERRORS as exc:
            self._failed(operation, exc)
        else:
            self._recovered()

    def _failed(self, operation: str, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            log.warning(
                "verdict cache: Redis unavailable during %s (%s: %s); serving without the cache",
                operation,
                type(exc).__name__,
                exc,
            )
        else:
            log.debug("verdict cache: Redis still unavailable during %s (%s)", operation, type(exc).__name__)

    def _recovered(self) -> None:
        if self._down:
            self._down = False
            log.info("verdict cache: Redis available again")


def _encode(verdict: Verdict) -> str:
    data: dict[str, object] = {"k": verdict.kind.value, "r": verdict.reason, "t": verdict.checked_at.isoformat()}
    if verdict.retry_after is not None:
        data["a"] = verdict.retry_after
    if verdict.frozen:
        data["f"] = 1
    return json.dumps(data, separators=(",", ":"))


def _decode(raw: object) -> Verdict | None:
    try:
        data = json.loads(_text(raw))
        retry_after = data.get("a")
        return Verdict(
            kind=VerdictKind(data["k"]),
            reason=str(data["r"]),
            checked_at=ensure_utc(datetime.fromisoformat(data["t"])),
            retry_after=float(retry_after) if retry_after is not None else None,
            frozen=bool(data.get("f", 0)),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
