"""One caller at a time per phone: in one process (single flight) and across processes (database lease)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tests.flows.conftest import PHONE, no_sleep, seed
from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.sql.database import SqlDatabase
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.model import Action
from tgsessions.domain.ports import Cipher
from tgsessions.service.factory import SessionFactory
from tgsessions.service.options import FactoryOptions
from tgsessions.testing.clock import FakeClock


async def test_200_concurrent_cold_fetches_validate_once(factory: SessionFactory, world: SimulatedTelegram) -> None:
    seeded = await seed(factory, world)
    world.latency = 0.02
    results = await asyncio.gather(*(factory.fetch_one(PHONE) for _ in range(200)))
    assert {r.session_id for r in results} == {results[0].session_id}
    assert all(r.session == seeded.primary for r in results)
    assert world.calls["validate"] == 1


async def test_two_instances_on_one_database_promote_exactly_once(
    sql_database: SqlDatabase,
    open_same_database: Callable[[], Awaitable[SqlDatabase]],
    cipher: Cipher,
    clock: FakeClock,
    options: FactoryOptions,
) -> None:
    world = SimulatedTelegram(clock, seed=3)
    world.latency = 0.02  # both instances are inside Telegram calls at the same time

    def instance(db: SqlDatabase) -> SessionFactory:
        return SessionFactory(
            db=db,
            gateway=SimulatedTelegramGateway(world),
            cache=MemoryVerdictCache(clock),  # separate caches, separate locks: only the database is shared
            cipher=cipher,
            clock=clock,
            options=options,
            sleep=no_sleep,
        )

    first = instance(sql_database)
    second = instance(await open_same_database())
    assert first._ctx.locks.holder != second._ctx.locks.holder
    seeded = await seed(first, world, backups=3)
    world.revoke(seeded.primary)
    results = await asyncio.gather(*(f.fetch_one(PHONE) for f in (first, second, first, second)))
    assert {r.session for r in results} == {seeded.backups[0]}
    assert sorted(r.how for r in results).count("promoted") == 1
    page = await first.history(PHONE, limit=500)
    assert [e.action for e in page.events].count(Action.PROMOTED) == 1
    assert [e.action for e in page.events].count(Action.RETIRED) == 1
    await first.aclose()
    await second.aclose()


async def test_two_instances_share_verdicts_through_redis(
    sql_database: SqlDatabase,
    open_same_database: Callable[[], Awaitable[SqlDatabase]],
    cipher: Cipher,
    clock: FakeClock,
    options: FactoryOptions,
    redis_url: str,
) -> None:
    import uuid

    from tgsessions.adapters.cache.redis import RedisVerdictCache

    world = SimulatedTelegram(clock, seed=5)
    prefix = f"tgs:test:{uuid.uuid4().hex}:"
    caches = [RedisVerdictCache.from_url(redis_url, prefix=prefix) for _ in range(2)]
    dbs = [sql_database, await open_same_database()]
    first, second = (
        SessionFactory(
            db=db, gateway=SimulatedTelegramGateway(world), cache=cache, cipher=cipher, clock=clock,
            options=options, sleep=no_sleep,
        )
        for db, cache in zip(dbs, caches, strict=True)
    )  # fmt: skip
    try:
        seeded = await seed(first, world)
        assert (await first.fetch_one(PHONE)).how == "validated"
        result = await second.fetch_one(PHONE)
        assert result.session == seeded.primary and result.how == "cached"
        assert world.calls["validate"] == 1  # the second instance used the first one's verdict
        stats = await second.cache_stats()
        assert stats.backend == "redis" and stats.hits >= 1
    finally:
        await first.aclose()
        await second.aclose()
        client = caches[0]._client
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        for cache in caches:
            await cache.aclose()
