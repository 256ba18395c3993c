"""Contract of the VerdictCache port, run against the memory and the Redis cache.

Redis runs at the ``redis_url`` fixture; each test uses its own key prefix and deletes its keys afterwards. An
unreachable Redis makes these tests fail, never skip.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.cache.redis import RedisVerdictCache
from tgsessions.domain.ports import VerdictCache
from tgsessions.domain.verdict import Reason, Verdict, VerdictKind
from tgsessions.testing.clock import FakeClock


@dataclass
class CacheFactory:
    backend: str
    make: Callable[..., VerdictCache]  # make(ttl_seconds=...)
    expire: Callable[[float], Awaitable[None]]  # let time pass beyond a ttl
    short_ttl: float
    clock: FakeClock
    created: list[VerdictCache] = field(default_factory=list)


@pytest.fixture(params=["memory", "redis"])
async def caches(request: pytest.FixtureRequest, clock: FakeClock, redis_url: str) -> AsyncIterator[CacheFactory]:
    if request.param == "memory":

        async def advance(ttl: float) -> None:
            clock.advance(ttl + 1)

        yield CacheFactory("memory", lambda **kw: MemoryVerdictCache(clock, **kw), advance, 60.0, clock)
        return

    client = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    assert await client.ping()  # Redis must be there: fail, never skip
    prefix = f"tgs:test:{uuid.uuid4().hex}:"

    async def sleep(ttl: float) -> None:
        await asyncio.sleep(ttl + 0.1)

    yield CacheFactory("redis", lambda **kw: RedisVerdictCache(client, prefix=prefix, **kw), sleep, 0.2, clock)
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
def cache(caches: CacheFactory) -> VerdictCache:
    return caches.make()


def sample_verdicts(clock: FakeClock) -> list[Verdict]:
    at = clock.now() + timedelta(microseconds=123456)
    return [
        Verdict.alive(at),
        Verdict.alive(at, frozen=True),
        Verdict.dead(Reason.AUTH_KEY_UNREGISTERED, at),
        Verdict.account_dead(Reason.USER_BANNED, at),
        Verdict.unknown(Reason.FLOOD_WAIT, at, retry_after=42.5),
        Verdict(VerdictKind.UNKNOWN, Reason.TIMEOUT, at, retry_after=None, frozen=False),
    ]


async def test_round_trip_of_every_field(cache: VerdictCache, clock: FakeClock) -> None:
    verdicts = sample_verdicts(clock)
    for i, verdict in enumerate(verdicts):
        await cache.put(f"sid-{i}", verdict)
    for i, verdict in enumerate(verdicts):
        got = await cache.get(f"sid-{i}")
        assert got == verdict
        assert got is not None
        assert got.checked_at.utcoffset() == timedelta(0)
        assert type(got.kind) is VerdictKind


async def test_missing_entry_is_none(cache: VerdictCache) -> None:
    assert await cache.get("never-stored") is None


async def test_put_replaces(cache: VerdictCache, clock: FakeClock) -> None:
    await cache.put("sid", Verdict.alive(clock.now()))
    dead = Verdict.dead(Reason.SESSION_REVOKED, clock.now())
    await cache.put("sid", dead)
    assert await cache.get("sid") == dead
    assert (await cache.stats()).entries == 1


async def test_invalidate(cache: VerdictCache, clock: FakeClock) -> None:
    await cache.put("a", Verdict.alive(clock.now()))
    await cache.put("b", Verdict.alive(clock.now()))
    await cache.invalidate("a")
    await cache.invalidate("never-stored")
    assert await cache.get("a") is None
    assert await cache.get("b") is not None
    assert (await cache.stats()).entries == 1


async def test_get_many_answers_in_order_and_counts_like_get(cache: VerdictCache, clock: FakeClock) -> None:
    alive = Verdict.alive(clock.now())
    dead = Verdict.dead(Reason.AUTH_KEY_UNREGISTERED, clock.now())
    await cache.put("a", alive)
    await cache.put("b", dead)
    assert await cache.get_many([]) == []
    assert await cache.get_many(["b", "x", "a", "a"]) == [dead, None, alive, alive]
    stats = await cache.stats()
    assert (stats.hits, stats.misses) == (3, 1)


async def test_stats_count_hits_and_misses(caches: CacheFactory, cache: VerdictCache, clock: FakeClock) -> None:
    await cache.put("a", Verdict.alive(clock.now()))
    await cache.put("b", Verdict.dead(Reason.AUTH_KEY_UNREGISTERED, clock.now()))
    for sid in ("a", "a", "b", "x", "y"):
        await cache.get(sid)
    stats = await cache.stats()
    assert stats.backend == caches.backend
    assert (stats.hits, stats.misses, stats.entries) == (3, 2, 2)
    assert stats.hit_rate == pytest.approx(0.6)
    assert stats.expired == 0
    assert stats.evictions == 0
    assert stats.ttl_seconds == 300.0


async def test_entries_expire(caches: CacheFactory, clock: FakeClock) -> None:
    ttl = caches.short_ttl
    cache = caches.make(ttl_seconds=ttl)
    await cache.put("sid", Verdict.alive(clock.now()))
    assert await cache.get("sid") is not None
    await caches.expire(ttl)
    assert await cache.get("sid") is None
    stats = await cache.stats()
    assert (stats.hits, stats.misses, stats.expired, stats.entries) == (1, 1, 1, 0)
    assert stats.ttl_seconds == ttl
    # a fresh put lives again
    await cache.put("sid", Verdict.alive(clock.now()))
    assert await cache.get("sid") is not None


async def test_many_concurrent_coroutines(cache: VerdictCache, clock: FakeClock) -> None:
    verdict = Verdict.alive(clock.now())

    async def worker(n: int) -> None:
        for i in range(10):
            await cache.put(f"w{n}-{i}", verdict)
            assert await cache.get(f"w{n}-{i}") == verdict

    await asyncio.gather(*(worker(n) for n in range(20)))
    stats = await cache.stats()
    assert (stats.hits, stats.misses, stats.entries) == (200, 0, 200)


# -- memory only ---------------------------------------------------------------------------------------------------


async def test_memory_is_bounded_to_1000_entries(clock: FakeClock) -> None:
    cache = MemoryVerdictCache(clock)
    for i in range(1500):
        await cache.put(f"sid-{i}", Verdict.alive(clock.now()))
    stats = await cache.stats()
    assert (stats.entries, stats.evictions, stats.max_entries) == (1000, 500, 1000)
    assert await cache.get("sid-499") is None
    assert await cache.get("sid-500") is not None
    assert await cache.get("sid-1499") is not None


async def test_memory_evicts_least_recently_used(clock: FakeClock) -> None:
    cache = MemoryVerdictCache(clock, max_entries=3)
    for sid in ("a", "b", "c"):
        await cache.put(sid, Verdict.alive(clock.now()))
    assert await cache.get("a") is not None  # a is now the most recently used
    await cache.put("d", Verdict.alive(clock.now()))
    assert await cache.get("b") is None
    await cache.put("c", Verdict.alive(clock.now()))  # a put counts as a use too
    await cache.put("e", Verdict.alive(clock.now()))
    assert await cache.get("a") is None
    for sid in ("c", "d", "e"):
        assert await cache.get(sid) is not None
    assert (await cache.stats()).evictions == 2


async def test_memory_sweeps_at_most_every_fifth_of_the_ttl(clock: FakeClock) -> None:
    cache = MemoryVerdictCache(clock, ttl_seconds=100)
    assert (await cache.stats()).last_sweep is None
    first = clock.now()
    await cache.put("a", Verdict.alive(clock.now()))
    assert (await cache.stats()).last_sweep == first
    clock.advance(19)
    await cache.put("b", Verdict.alive(clock.now()))
    assert (await cache.stats()).last_sweep == first  # too soon for another sweep
    clock.advance(82)  # a expired at 100 s, b expires at 119 s
    await cache.put("c", Verdict.alive(clock.now()))
    stats = await cache.stats()
    assert stats.last_sweep == clock.now()
    assert (stats.expired, stats.entries, stats.misses) == (1, 2, 0)  # swept, not read


async def test_memory_sweeps_before_evicting_when_full(clock: FakeClock) -> None:
    cache = MemoryVerdictCache(clock, ttl_seconds=100, max_entries=2)
    await cache.put("a", Verdict.alive(clock.now()))
    clock.advance(95)
    await cache.put("b", Verdict.alive(clock.now()))  # sweeps (nothing expired yet)
    clock.advance(5.5)  # a has expired; the periodic sweep is not due
    await cache.put("c", Verdict.alive(clock.now()))
    stats = await cache.stats()
    assert (stats.evictions, stats.expired, stats.entries) == (0, 1, 2)
    assert stats.last_sweep == clock.now()
    assert await cache.get("b") is not None
    assert await cache.get("c") is not None


async def test_memory_expired_read_counts(clock: FakeClock) -> None:
    cache = MemoryVerdictCache(clock, ttl_seconds=10)
    await cache.put("a", Verdict.alive(clock.now()))
    clock.advance(9.9)
    assert await cache.get("a") is not None
    clock.advance(0.1)
    assert await cache.get("a") is None
    stats = await cache.stats()
    assert (stats.hits, stats.misses, stats.expired) == (1, 1, 1)


def test_memory_refuses_nonsense_settings(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="ttl"):
        MemoryVerdictCache(clock, ttl_seconds=0)
    with pytest.raises(ValueError, match="max_entries"):
        MemoryVerdictCache(clock, max_entries=0)


# -- redis only ----------------------------------------------------------------------------------------------------


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    assert await client.ping()
    yield client
    await client.aclose()


@pytest.fixture
async def redis_prefix(redis_client: Redis) -> AsyncIterator[str]:
    prefix = f"tgs:test:{uuid.uuid4().hex}:"
    yield prefix
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis_client.delete(*keys)


async def test_redis_keys_hold_only_the_session_id(redis_client: Redis, redis_prefix: str, clock: FakeClock) -> None:
    cache = RedisVerdictCache(redis_client, prefix=redis_prefix, ttl_seconds=30)
    await cache.put("abc123", Verdict.unknown(Reason.FLOOD_WAIT, clock.now(), retry_after=5))
    keys = sorted([k.decode() async for k in redis_client.scan_iter(match=f"{redis_prefix}*")])
    assert keys == [f"{redis_prefix}v:abc123"]
    assert 0 < await redis_client.pttl(keys[0]) <= 60_000  # served for the ttl, recognised as expired after
    raw = await redis_client.get(keys[0])
    assert raw is not None
    assert len(raw) < 120  # compact JSON
    stats = await cache.stats()
    assert (stats.max_entries, stats.last_sweep, stats.backend) == (0, None, "redis")


async def test_redis_instances_share_entries_and_counters(
    redis_client: Redis, redis_prefix: str, redis_url: str, clock: FakeClock
) -> None:
    one = RedisVerdictCache(redis_client, prefix=redis_prefix)
    two = RedisVerdictCache.from_url(redis_url, prefix=redis_prefix)
    try:
        await one.put("sid", Verdict.alive(clock.now()))
        assert await two.get("sid") == Verdict.alive(clock.now())
        assert await two.get("other") is None
        assert await one.get("sid") is not None
        for cache in (one, two):
            stats = await cache.stats()
            assert (stats.hits, stats.misses, stats.entries) == (2, 1, 1)
        await two.invalidate("sid")
        assert await one.get("sid") is None
    finally:
        await two.aclose()


async def test_redis_outage_does_not_break_callers(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    cache = RedisVerdictCache.from_url(f"redis://127.0.0.1:{closed_port}/0", timeout=0.5)
    try:
        with caplog.at_level(logging.WARNING, logger="tgsessions.adapters.cache.redis"):
            await cache.put("sid", Verdict.alive(clock.now()))
            assert await cache.get("sid") is None
            assert await cache.get("sid") is None
            await cache.invalidate("sid")
            stats = await cache.stats()
        assert stats.misses == 2
        assert stats.hits == 0
        assert stats.backend == "redis"
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1  # once per outage, not once per call
        assert "unavailable" in warnings[0].getMessage()
    finally:
        await cache.aclose()


async def test_redis_drops_unreadable_entries(redis_client: Redis, redis_prefix: str) -> None:
    cache = RedisVerdictCache(redis_client, prefix=redis_prefix)
    await redis_client.set(f"{redis_prefix}v:sid", b"{not json", px=60_000)
    assert await cache.get("sid") is None
    assert await redis_client.exists(f"{redis_prefix}v:sid") == 0
    stats = await cache.stats()
    assert (stats.hits, stats.misses) == (0, 1)
