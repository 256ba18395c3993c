"""Flow tests: the SessionFactory against the simulated Telegram, on the in-memory database.

Storage behaviour is proven by the contract suites of tests/storage on every backend, so a flow runs once, on the
fake. A test about the SQL backends themselves asks for ``sql_database`` (cross-process concurrency, corrupt rows) or
widens ``database`` again with ``on_backends(...)`` (rows it reads back from the SQL tables)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest

from tests.support.db_fixtures import database_fixture
from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.ports import Cipher, Database
from tgsessions.domain.secret import Secret
from tgsessions.service.factory import SessionFactory
from tgsessions.service.options import FactoryOptions, RetryOptions
from tgsessions.testing.clock import FakeClock

PHONE = "79161234567"


async def no_sleep(_seconds: float) -> None:
    return None


database = database_fixture("memory")


@pytest.fixture
def world(clock: FakeClock) -> SimulatedTelegram:
    return SimulatedTelegram(clock, seed=7)


@pytest.fixture
def cache(clock: FakeClock) -> MemoryVerdictCache:
    return MemoryVerdictCache(clock)


@pytest.fixture
def options() -> FactoryOptions:
    return FactoryOptions(
        retry=RetryOptions(attempts=3, base_delay=0.0, max_delay=0.0),
        validation_timeout=0.3,
        mint_timeout=0.3,
        revoke_timeout=0.3,
        lease_wait=10.0,
        top_up_in_background=False,
    )


MakeFactory = Callable[..., SessionFactory]


@pytest.fixture
async def make_factory(
    database: Database,
    world: SimulatedTelegram,
    cache: MemoryVerdictCache,
    cipher: Cipher,
    clock: FakeClock,
    options: FactoryOptions,
) -> AsyncIterator[MakeFactory]:
    """Builds factories on the test's database, world and cache; keyword arguments override FactoryOptions."""
    made: list[SessionFactory] = []

    def build(**overrides: Any) -> SessionFactory:
        factory = SessionFactory(
            db=database,
            gateway=SimulatedTelegramGateway(world),
            cache=cache,
            cipher=cipher,
            clock=clock,
            options=replace(options, **overrides),
            sleep=no_sleep,
        )
        made.append(factory)
        return factory

    yield build
    for factory in made:
        await factory.aclose()


@pytest.fixture
def factory(make_factory: MakeFactory) -> SessionFactory:
    return make_factory()


@dataclass
class Seeded:
    phone: str
    primary: Secret
    keeper: Secret | None
    backups: list[Secret] = field(default_factory=list)  # newest first

    def all(self) -> list[Secret]:
        return [self.primary, *([self.keeper] if self.keeper else []), *self.backups]


async def seed(
    factory: SessionFactory,
    world: SimulatedTelegram,
    phone: str = PHONE,
    *,
    backups: int = 2,
    keeper: bool = True,
    two_fa: str | None = None,
) -> Seeded:
    world.add_account(phone, two_fa=two_fa)
    primary = world.create_session(phone, age=timedelta(days=40))
    keep = world.create_session(phone, age=timedelta(days=90)) if keeper else None
    pool = [world.create_session(phone, age=timedelta(days=30 + i)) for i in range(backups)]
    await factory.add_account(phone, primary=primary, keeper=keep, backups=pool, two_fa=two_fa)
    world.reset_calls()
    return Seeded(phone, primary, keep, pool)
