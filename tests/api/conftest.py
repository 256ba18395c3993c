"""The HTTP API over a real runtime: the ``database`` fixture (SQLite here; PostgreSQL only on the smoke path of
test_postgresql_smoke.py), the simulated Telegram, a memory verdict cache, real key management and rate limiting;
driven through httpx on the ASGI app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from types import TracebackType
from typing import Any, Self

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from tests.support.db_fixtures import database_fixture
from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.limits import LimitsRateWindow
from tgsessions.adapters.metrics.measured_gateway import MeasuredGateway
from tgsessions.adapters.metrics.prometheus import PrometheusMetrics
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.api import create_app
from tgsessions.domain.access import ALL_SCOPES, Scope
from tgsessions.domain.errors import StorageUnavailable
from tgsessions.domain.model import Event
from tgsessions.domain.ports import Cipher, Clock, Database, LeaseStore
from tgsessions.domain.secret import Secret
from tgsessions.domain.warm_hand_out import hand_out_in
from tgsessions.service.access.api_keys import KeyManager
from tgsessions.service.access.rate_limits import RateLimiter
from tgsessions.service.factory import SessionFactory
from tgsessions.service.options import FactoryOptions, RetryOptions
from tgsessions.service.runtime import Readiness, Runtime
from tgsessions.testing.clock import FakeClock

PHONE = "79161234567"
OTHER = "79167654321"


async def no_sleep(_seconds: float) -> None:
    return None


def fast_options(**overrides: Any) -> FactoryOptions:
    base = FactoryOptions(
        retry=RetryOptions(attempts=2, base_delay=0.0, max_delay=0.0),
        validation_timeout=0.3,
        mint_timeout=0.3,
        revoke_timeout=0.3,
        lease_wait=10.0,
        top_up_in_background=False,
    )
    return replace(base, **overrides)


def build_runtime(
    database: Database,
    world: SimulatedTelegram,
    cipher: Cipher,
    clock: Clock,
    *,
    options: FactoryOptions | None = None,
    readiness: Readiness | None = None,
) -> Runtime:
    """The runtime as the composition root would build it, on the test's adapters (metrics included)."""
    cache = MemoryVerdictCache(clock)
    metrics = PrometheusMetrics(cache)
    gateway = SimulatedTelegramGateway(world)
    factory = SessionFactory(
        db=database,
        gateway=MeasuredGateway(gateway, metrics),
        cache=cache,
        cipher=cipher,
        clock=clock,
        options=options or fast_options(),
        sleep=no_sleep,
        metrics=metrics,
    )
    ready = readiness or Readiness(True, "ok", "current", "simulated")

    async def check_readiness() -> Readiness:
        return ready

    return Runtime(
        factory=factory,
        keys=KeyManager(database, cipher, clock),
        limiter=RateLimiter(LimitsRateWindow.in_memory(), default_per_minute=10_000),
        database=database,
        gateway=gateway,
        cache=cache,
        cipher=cipher,
        clock=clock,
        readiness=check_readiness,
        metrics=metrics.exposition,
        simulated=world,
    )


def opener(runtime: Runtime) -> Callable[[], contextlib.AbstractAsyncContextManager[Runtime]]:
    @contextlib.asynccontextmanager
    async def open_test_runtime() -> AsyncIterator[Runtime]:
        try:
            yield runtime
        finally:
            await runtime.factory.aclose()

    return open_test_runtime


@dataclass
class Seeded:
    phone: str
    primary: Secret
    keeper: Secret | None
    backups: list[Secret] = field(default_factory=list)

    def all_strings(self) -> list[Secret]:
        return [self.primary, *([self.keeper] if self.keeper else []), *self.backups]


@dataclass
class Api:
    """A running app and what the tests need around it."""

    app: FastAPI
    client: httpx.AsyncClient
    runtime: Runtime
    world: SimulatedTelegram
    clock: FakeClock
    admin_key: str = ""  # every scope

    async def key(self, *scopes: Scope, rate: int | None = None, name: str | None = None) -> str:
        chosen = scopes or tuple(ALL_SCOPES)
        label = name or f"k{len(await self.runtime.keys.list())}"
        _key, plaintext = await self.runtime.keys.create(label, chosen, rate_limit_per_minute=rate)
        return plaintext

    async def seed(self, phone: str = PHONE, *, backups: int = 2, keeper: bool = True) -> Seeded:
        world = self.world
        if world.lookup_account(phone) is None:
            world.add_account(phone)
        primary = world.create_session(phone, age=timedelta(days=40))
        keep = world.create_session(phone, age=timedelta(days=90)) if keeper else None
        pool = [world.create_session(phone, age=timedelta(days=30 + i)) for i in range(backups)]
        await self.runtime.factory.add_account(phone, primary=primary, keeper=keep, backups=pool)
        return Seeded(phone, primary, keep, pool)

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}"}


@contextlib.asynccontextmanager
async def running_api(runtime: Runtime, world: SimulatedTelegram, clock: FakeClock) -> AsyncIterator[Api]:
    app = create_app(opener(runtime))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            api = Api(app, client, runtime, world, clock)
            api.admin_key = await api.key(name="all-scopes")
            yield api


# the HTTP layer is thin: SQLite only; storage is proven on every backend by tests/storage, PostgreSQL end to end
# by the smoke path (on_backends("postgresql"))
database = database_fixture("sqlite")


@pytest.fixture
def world(clock: FakeClock) -> SimulatedTelegram:
    return SimulatedTelegram(clock, seed=11)


@pytest.fixture
async def api(database: Database, world: SimulatedTelegram, cipher: Cipher, clock: FakeClock) -> AsyncIterator[Api]:
    async with running_api(build_runtime(database, world, cipher, clock), world, clock) as running:
        yield running


class _FailingAuditLog:
    """An AuditLog whose writes fail while ``switch.failing`` is set; everything else delegates."""

    def __init__(self, inner: Any, switch: AuditFailingDatabase) -> None:
        self._inner = inner
        self._switch = switch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def append_event(self, event: Event) -> None:
        self._switch.check()
        await self._inner.append_event(event)

    async def append_events(self, events: Sequence[Event]) -> None:
        self._switch.check()
        await self._inner.append_events(events)


class _FailingUnitOfWork:
    def __init__(self, inner: Any, switch: AuditFailingDatabase) -> None:
        self._inner = inner
        self._switch = switch

    async def __aenter__(self) -> Self:
        entered = await self._inner.__aenter__()
        self.accounts = entered.accounts
        self.sessions = entered.sessions
        self.audit = _FailingAuditLog(entered.audit, self._switch)
        self.bulk = entered.bulk
        self.keys = entered.keys

        self.runs = entered.runs
        self._entered = entered
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        await self._entered.commit()


class AuditFailingDatabase:
    """Wraps a Database so that writing audit events raises StorageUnavailable while ``failing`` is True."""

    def __init__(self, inner: Database) -> None:
        self._inner = inner
        self.backend = inner.backend
        self.failing = False

    def check(self) -> None:
        if self.failing:
            raise StorageUnavailable("the audit log could not be written", retry_after=5)

    @property
    def leases(self) -> LeaseStore:
        return self._inner.leases

    def unit_of_work(self, *, fence: Any = None, release: bool = False) -> Any:
        return _FailingUnitOfWork(self._inner.unit_of_work(fence=fence, release=release), self)

    async def hand_out_warm(self, requests: Any, now: Any) -> Any:
        """The warm hand-out through the failing unit of work: its audit rows fail like every other."""
        async with self.unit_of_work() as uow:
            return await hand_out_in(uow, requests, now)
