"""The composition root: the only place that reads settings and picks adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.cache.redis import RedisVerdictCache
from tgsessions.adapters.crypto.aesgcm import AesGcmCipher
from tgsessions.adapters.crypto.keyring import KeyRing, create_key_file, load_key_file
from tgsessions.adapters.sql import migrate
from tgsessions.adapters.sql.database import SqlDatabase
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.config import Settings
from tgsessions.domain.clock import SystemClock
from tgsessions.domain.errors import ConfigurationError
from tgsessions.domain.policies import BreakerPolicy, LoginBudget
from tgsessions.domain.ports import Clock, TelegramGateway, VerdictCache
from tgsessions.service.factory import SessionFactory
from tgsessions.service.options import FactoryOptions, RetryOptions


@dataclass
class Runtime:
    """A running composition: the factory and the adapters behind it."""

    settings: Settings
    factory: SessionFactory
    database: SqlDatabase
    gateway: TelegramGateway
    cache: VerdictCache
    simulated: SimulatedTelegram | None  # the simulated world, when that backend is chosen


def options_from(settings: Settings) -> FactoryOptions:
    return FactoryOptions(
        validation_timeout=settings.validation_timeout,
        mint_timeout=settings.mint_timeout,
        retry=RetryOptions(settings.retry_attempts, settings.retry_base_delay, settings.retry_max_delay),
        breaker=BreakerPolicy(settings.breaker_threshold, timedelta(seconds=settings.breaker_cooldown_seconds)),
        login_budget=LoginBudget(settings.login_budget, timedelta(hours=settings.login_window_hours)),
        login_reserve=settings.login_reserve,
        max_backups=settings.max_backups,
        target_backups=settings.target_backups,
        batch_concurrency=settings.batch_concurrency,
        lease_ttl=timedelta(seconds=settings.lease_ttl_seconds),
    )


def load_keys(settings: Settings) -> KeyRing:
    """The embedded default creates its key file (0600) on first start; anything else must name an existing one."""
    path = settings.effective_key_file()
    if not path.exists():
        if settings.embedded:
            return create_key_file(path)
        raise ConfigurationError(
            f"no encryption key: TGS_KEY_FILE={path} does not exist. Create it once (tgsessions keys init) and back "
            "it up: without it the stored sessions cannot be decrypted"
        )
    return load_key_file(path)


def build_gateway(settings: Settings, clock: Clock) -> tuple[TelegramGateway, SimulatedTelegram | None]:
    if settings.telegram_backend is None:
        missing = [name for name, value in (("TGS_API_ID", settings.api_id), ("TGS_API_HASH", settings.api_hash))
                   if value is None]  # fmt: skip
        raise ConfigurationError(
            "no Telegram backend chosen: set TGS_TELEGRAM_BACKEND=telethon with "
            f"{' and '.join(missing) or 'TGS_API_ID and TGS_API_HASH'}, or TGS_TELEGRAM_BACKEND=simulated for a demo"
        )
    if settings.telegram_backend == "simulated":
        world = SimulatedTelegram(clock)
        return SimulatedTelegramGateway(world), world
    raise ConfigurationError(
        "the Telethon backend is not available in this build yet; use TGS_TELEGRAM_BACKEND=simulated"
    )


@asynccontextmanager
async def open_runtime(settings: Settings, *, clock: Clock | None = None) -> AsyncIterator[Runtime]:
    """Build everything from settings; migrate the embedded default; close everything on exit."""
    clock = clock or SystemClock()
    gateway, world = build_gateway(settings, clock)
    cipher = AesGcmCipher(load_keys(settings))
    url = settings.effective_database_url()
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        await migrate.upgrade(url)
    elif not await migrate.is_current(url):
        raise ConfigurationError("the database schema is not current: run `tgsessions migrate` first")
    async with AsyncExitStack() as stack:
        database = await SqlDatabase.open(url, cipher=cipher, clock=clock)
        stack.push_async_callback(database.aclose)
        cache: VerdictCache
        if settings.cache_backend == "redis":
            redis_cache = RedisVerdictCache.from_url(settings.redis_url, ttl_seconds=settings.verdict_ttl_seconds)
            stack.push_async_callback(redis_cache.aclose)
            cache = redis_cache
        else:
            cache = MemoryVerdictCache(
                clock, ttl_seconds=settings.verdict_ttl_seconds, max_entries=settings.cache_max_entries
            )
        factory = SessionFactory(
            db=database, gateway=gateway, cache=cache, cipher=cipher, clock=clock, options=options_from(settings)
        )
        stack.push_async_callback(factory.aclose)
        yield Runtime(settings, factory, database, gateway, cache, world)
