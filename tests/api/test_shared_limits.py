"""Two instances of the service on one PostgreSQL database: with Redis configured (``TGS_CACHE_BACKEND=redis``) a
key's rate limit holds across both, not once per instance; without it each instance counts on its own.

Each instance is what ``serve`` runs: the app over a runtime built by the composition root (``open_runtime``) from
the same settings, with its own database engine, key manager, Redis connections and limiter. Redis is the test one
(db 15); the rate windows of the test's key are deleted afterwards. The flood gates' counterpart (a flood wait one
Telethon gateway met, honoured by another) is in tests/telegram/test_flood_gates.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from redis.asyncio import Redis

from tests.support.db_fixtures import on_backends
from tgsessions.adapters.sql import SqlDatabase
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.api import create_app
from tgsessions.bootstrap import new_key_file, open_runtime
from tgsessions.config import Settings
from tgsessions.domain.access import Scope
from tgsessions.service.runtime import Runtime
from tgsessions.testing.clock import FakeClock

pytestmark = on_backends("postgresql", fixture="sql_database")

LIMIT = 5
PROBE = "/readyz"  # any key, no scope: the limiter is what answers


def instance_settings(tmp_path: Path, database: SqlDatabase, **extra: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "key_file": tmp_path / "tgsessions.key",
        "database_url": database.engine.url.render_as_string(hide_password=False),
        "telegram_backend": "simulated",
        "_env_file": None,
    }
    return Settings(**(values | extra))  # type: ignore[arg-type]


@dataclass
class Instance:
    client: httpx.AsyncClient
    runtime: Runtime

    async def probe(self, plaintext: str) -> httpx.Response:
        return await self.client.get(PROBE, headers={"Authorization": f"Bearer {plaintext}"})


@contextlib.asynccontextmanager
async def instances(settings: Settings, count: int = 2) -> AsyncIterator[list[Instance]]:
    """``count`` instances of the app on ``settings``, each on its own runtime, with an HTTP client."""
    clock = FakeClock()
    world = SimulatedTelegram(clock, seed=5)
    async with contextlib.AsyncExitStack() as stack:
        running = []
        for _ in range(count):
            app = create_app(lambda: open_runtime(settings, clock=clock, world=world))
            manager = await stack.enter_async_context(LifespanManager(app))
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver")
            running.append(Instance(await stack.enter_async_context(client), app.state.runtime))
        yield running


@pytest.fixture
async def forget_windows(redis_url: str) -> AsyncIterator[Callable[[str], None]]:
    """``forget(key_id)``: the Redis rate windows of that key are deleted at the end of the test."""
    key_ids: list[str] = []
    yield key_ids.append
    client = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        for key_id in key_ids:
            keys = [key async for key in client.scan_iter(match=f"tgs:limits:*{key_id}*")]
            if keys:
                await client.delete(*keys)
    finally:
        await client.aclose()


async def limited_key(instance: Instance) -> tuple[str, str]:
    """A key of ``LIMIT`` requests a minute, created at one instance (the other finds it in the database)."""
    key, plaintext = await instance.runtime.keys.create("shared", [Scope.STATUS_READ], rate_limit_per_minute=LIMIT)
    return key.key_id, plaintext


async def test_with_redis_one_keys_limit_holds_across_two_instances(
    tmp_path: Path, sql_database: SqlDatabase, redis_url: str, forget_windows: Callable[[str], None]
) -> None:
    assert sql_database.backend == "postgresql"
    settings = instance_settings(tmp_path, sql_database, cache_backend="redis", redis_url=redis_url)
    new_key_file(settings)
    async with instances(settings) as (one, two):
        key_id, plaintext = await limited_key(one)
        forget_windows(key_id)
        spread = [await (one if i % 2 == 0 else two).probe(plaintext) for i in range(LIMIT)]
        assert [r.status_code for r in spread] == [200] * LIMIT  # the limit's worth, spread over both instances
        for instance in (one, two):
            refused = await instance.probe(plaintext)
            assert refused.status_code == 429, refused.text
            assert refused.json()["error"] == "rate_limited"
            assert 1 <= int(refused.headers["Retry-After"]) <= 60


async def test_without_redis_each_instance_counts_a_keys_limit_on_its_own(
    tmp_path: Path, sql_database: SqlDatabase
) -> None:
    settings = instance_settings(tmp_path, sql_database, cache_backend="memory")
    new_key_file(settings)
    async with instances(settings) as (one, two):
        _key_id, plaintext = await limited_key(one)
        for instance in (one, two):
            passed = [(await instance.probe(plaintext)).status_code for _ in range(LIMIT)]
            assert passed == [200] * LIMIT  # each instance lets the whole limit through
            assert (await instance.probe(plaintext)).status_code == 429
