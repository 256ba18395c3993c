"""The composition root: the only place that reads settings and picks adapters."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from tgsessions.adapters import files
from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.cache.redis import RedisVerdictCache
from tgsessions.adapters.crypto.aesgcm import AesGcmCipher
from tgsessions.adapters.crypto.keyring import KeyRing, create_key_file, load_key_file
from tgsessions.adapters.metrics.measured_gateway import MeasuredGateway
from tgsessions.adapters.metrics.prometheus import PrometheusMetrics
from tgsessions.adapters.sql import meta, migrate
from tgsessions.adapters.sql.database import SqlDatabase
from tgsessions.adapters.sql.engine import create_engine
from tgsessions.adapters.sql.rotation import KINDS, count_ciphertexts, key_coverage
from tgsessions.adapters.telegram.simulated.persistence import PersistentSimulatedGateway
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.config import Settings
from tgsessions.domain.access import ALL_SCOPES
from tgsessions.domain.clock import SystemClock
from tgsessions.domain.errors import ConfigurationError
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.policies import BreakerPolicy, LoginBudget
from tgsessions.domain.ports import Clock, TelegramGateway, VerdictCache
from tgsessions.domain.secret import Secret
from tgsessions.service.access.api_keys import KeyManager
from tgsessions.service.access.rate_limits import RateLimiter
from tgsessions.service.factory import SessionFactory
from tgsessions.service.maintenance.scheduler import MaintenanceScheduler
from tgsessions.service.options import FactoryOptions, MaintenanceOptions, RetryOptions
from tgsessions.service.runtime import Readiness, Services

if TYPE_CHECKING:
    from tgsessions.adapters.telegram.telethon import TelethonConfig

SIMULATED_STATE = "simulated-telegram.json"
DEMO_PHONES = ("79990000001", "79990000002", "79990000003")

log = logging.getLogger("tgsessions.bootstrap")


@dataclass
class Runtime:
    """A running composition: the services and the adapters behind them."""

    settings: Settings
    services: Services
    database: SqlDatabase
    gateway: TelegramGateway
    cache: VerdictCache
    simulated: SimulatedTelegram | None  # the simulated world, when that backend is chosen
    clock: Clock | None = None

    @property
    def factory(self) -> SessionFactory:
        return self.services.factory

    @property
    def keys(self) -> KeyManager:
        return self.services.keys


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
        default_identity=ClientIdentity(
            api_id=settings.api_id,
            device_model=settings.device_model,
            system_version=settings.system_version,
            app_version=settings.app_version,
            lang_code=settings.lang_code,
            system_lang_code=settings.system_lang_code,
        ),
        maintenance=MaintenanceOptions(
            keepalive=timedelta(hours=settings.keepalive_hours),
            calls_per_second=settings.maintenance_calls_per_second,
            account_calls_per_minute=settings.maintenance_account_calls_per_minute,
        ),
    )


def load_keys(settings: Settings) -> KeyRing:
    """The embedded default creates its key file (0600) on first start; anything else must name an existing one.
    The database is not looked at: :func:`open_keys_and_database` is what starts use (it refuses a missing or
    wrong key file over stored secrets)."""
    path = settings.effective_key_file()
    if not path.exists():
        if settings.embedded:
            return create_key_file(path)
        raise ConfigurationError(
            f"no encryption key: TGS_KEY_FILE={path} does not exist. Create it once with `tgsessions keys init` "
            "and back it up: without it the stored sessions cannot be decrypted"
        )
    return load_key_file(path)


KIND_NAMES = {"session": "session strings", "two_fa": "2FA passwords", "proxy": "proxies"}
FIX_KEY_FILE = "restore the key file from its backup, or point TGS_KEY_FILE at it"


def _secrets_phrase(rows: Mapping[str, int]) -> str:
    total = sum(rows.values())
    parts = ", ".join(f"{rows[kind]} {KIND_NAMES[kind]}" for kind in KINDS if rows.get(kind))
    return f"{total} encrypted secrets ({parts})"


def _no_sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).is_file())


async def _stored_secrets_if_any(url: str) -> dict[str, int]:
    """The ciphertexts a database holds, per kind, without creating or migrating anything (empty when the
    database or its tables do not exist, or it cannot be read: the caller refuses to start either way)."""
    if _no_sqlite_file(url):
        return {}
    engine = create_engine(url)
    try:
        return await count_ciphertexts(engine)
    except Exception:  # no tables yet, or unreachable: nothing to count
        return {}
    finally:
        await engine.dispose()


async def open_keys_and_database(settings: Settings, clock: Clock) -> tuple[AesGcmCipher, SqlDatabase]:
    """The key file checked against what the database stores, and the database open (the embedded default
    migrated first). ConfigurationError, one line naming the key file, how many stored secrets it guards and how
    to fix it, when the key file is missing over a database that holds ciphertexts, when none of its keys
    decrypts them, or when it lacks key ids they are under. Only the embedded default over a database without
    ciphertexts gets a new key file. The cipher reloads the key file when it meets a key id it does not hold, so
    a key rotation reaches a running process."""
    path = settings.effective_key_file()
    if path.exists():
        ring = load_key_file(path)
        url = await prepare_database(settings)
    elif not settings.embedded:
        guarded = await _stored_secrets_if_any(settings.effective_database_url())
        if sum(guarded.values()):
            raise ConfigurationError(
                f"key file {path} does not exist, but the database holds {_secrets_phrase(guarded)} that only it "
                f"can decrypt: {FIX_KEY_FILE}"
            )
        raise ConfigurationError(
            f"no encryption key: TGS_KEY_FILE={path} does not exist. Create it once with `tgsessions keys init` "
            "and back it up: without it the stored sessions cannot be decrypted"
        )
    else:
        url = await prepare_database(settings)
        guarded = await _stored_secrets_if_any(url)
        if sum(guarded.values()):
            raise ConfigurationError(
                f"key file {path} does not exist, but the database holds {_secrets_phrase(guarded)} that only it "
                f"can decrypt: {FIX_KEY_FILE} (a new key file would make them unreadable)"
            )
        ring = create_key_file(path)
    cipher = AesGcmCipher(ring, reload=lambda: load_key_file(path))
    database = await SqlDatabase.open(url, cipher=cipher, clock=clock)
    try:
        await check_key_file(database, ring, path)
    except BaseException:
        await database.aclose()
        raise
    return cipher, database


async def check_key_file(database: SqlDatabase, ring: KeyRing, path: Path) -> None:
    """ConfigurationError (one line) when ``ring`` cannot decrypt the stored secrets: none of its keys decrypts
    them, or some are under key ids it does not hold. Secrets it cannot decrypt for other reasons (one corrupted
    row) are left to the rows' own handling."""
    coverage = await key_coverage(database.engine, AesGcmCipher(ring), sorted(ring.keys))
    if not coverage.unreadable:
        return
    stored = _secrets_phrase(coverage.rows)
    if coverage.unknown:
        raise ConfigurationError(
            f"{sum(coverage.unknown.values())} of the {stored} in the database are under key ids "
            f"{', '.join(coverage.unknown)} that the key file {path} does not hold (a wrong or an older key file?); "
            f"{FIX_KEY_FILE}"
        )
    what = "holds no key that decrypts" if not coverage.readable else f"does not decrypt {coverage.unreadable} of"
    raise ConfigurationError(
        f"key file {path} {what} the {stored} in the database (its key ids {', '.join(coverage.undecryptable)} "
        f"name other keys than the ones that encrypted them: not their key file); {FIX_KEY_FILE}"
    )


async def check_backend_record(settings: Settings, database: SqlDatabase, clock: Clock) -> None:
    """The database records the Telegram backend that wrote it (``meta.telegram_backend``). Another backend is
    refused (one line) unless TGS_ALLOW_BACKEND_SWITCH=1, which records the new one. A database with no record
    takes the current backend; one that already holds sessions without a record (written before migration 0006)
    does too, with a warning."""
    current = settings.telegram_backend
    assert current is not None  # check_backend ran first
    recorded = await meta.read(database.engine, meta.TELEGRAM_BACKEND)
    if recorded == current:
        return
    if recorded is None:
        held = await meta.stored_sessions(database.engine)
        await meta.write(database.engine, meta.TELEGRAM_BACKEND, current, clock.now())
        if held:
            log.warning("the database holds %d sessions but no record of the Telegram backend that wrote them: "
                        "recorded %s; if they were written by the other backend, stop now", held, current)  # fmt: skip
        return
    if not settings.allow_backend_switch:
        if current == "simulated":
            why = "the simulated Telegram would find its real sessions dead and retire them"
        else:
            why = "its sessions are the simulated Telegram's, which real Telegram rejects as dead"
        raise ConfigurationError(
            f"this database was written by the {recorded} Telegram backend, not {current}: {why}; use a database "
            f"of its own for {current}, or set TGS_ALLOW_BACKEND_SWITCH=1 to switch it on purpose"
        )
    await meta.write(database.engine, meta.TELEGRAM_BACKEND, current, clock.now())
    log.warning("the database was written by the %s Telegram backend: switched to %s (TGS_ALLOW_BACKEND_SWITCH)",
                recorded, current)  # fmt: skip


def check_backend(settings: Settings) -> None:
    """The backend is never simulated by accident, and the real one needs its credentials."""
    if settings.telegram_backend is None:
        missing = [name for name, value in (("TGS_API_ID", settings.api_id), ("TGS_API_HASH", settings.api_hash))
                   if value is None]  # fmt: skip
        raise ConfigurationError(
            "no Telegram backend chosen: set TGS_TELEGRAM_BACKEND=telethon with "
            f"{' and '.join(missing) or 'TGS_API_ID and TGS_API_HASH'}, or TGS_TELEGRAM_BACKEND=simulated for a demo"
        )
    if settings.telegram_backend == "telethon" and (settings.api_id is None or settings.api_hash is None):
        missing = [name for name, value in (("TGS_API_ID", settings.api_id), ("TGS_API_HASH", settings.api_hash))
                   if value is None]  # fmt: skip
        raise ConfigurationError(f"the Telethon backend needs {' and '.join(missing)} (from my.telegram.org)")


def build_gateway(
    settings: Settings, clock: Clock, *, telegram_client_class: type | None = None
) -> tuple[TelegramGateway, SimulatedTelegram | None]:
    """The simulated Telegram (saved in the data dir) or the Telethon gateway. ``telegram_client_class`` replaces
    Telethon's TelegramClient (a test hook: the same gateway code over an in-memory transport)."""
    check_backend(settings)
    if settings.telegram_backend == "telethon":
        from tgsessions.adapters.telegram.telethon import TelethonGateway

        config = telethon_config(settings)
        if telegram_client_class is None:
            return TelethonGateway(config, clock=clock), None
        return TelethonGateway(config, clock=clock, client_class=telegram_client_class), None
    gateway = PersistentSimulatedGateway.open(clock, settings.data_dir / SIMULATED_STATE)
    return gateway, gateway.world


def telethon_config(settings: Settings) -> TelethonConfig:
    from tgsessions.adapters.telegram.telethon import TelethonConfig

    assert settings.api_id is not None
    assert settings.api_hash is not None
    rsa_key = None
    if settings.telegram_rsa_key_file is not None:
        try:
            rsa_key = settings.telegram_rsa_key_file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError):
            raise ConfigurationError(
                f"TGS_TELEGRAM_RSA_KEY_FILE={settings.telegram_rsa_key_file} cannot be read as a PEM file"
            ) from None
    return TelethonConfig(
        api_id=settings.api_id,
        api_hash=Secret(settings.api_hash.get_secret_value()),
        endpoint=settings.telegram_endpoint,
        dc_id=settings.telegram_dc_id,
        host=settings.telegram_host,
        port=settings.telegram_port,
        rsa_key_pem=rsa_key,
        max_concurrency=settings.telegram_max_concurrency,
        per_account_concurrency=settings.telegram_per_account_concurrency,
        pool_idle_seconds=settings.telegram_pool_idle_seconds,
        default_identity=options_from(settings).default_identity,
    )


async def prepare_database(settings: Settings) -> str:
    """The database URL, migrated when it is the embedded default; ConfigurationError when another is behind.
    The embedded data directory is made 0700 and a SQLite database's files 0600 (a warning when that fails)."""
    url = settings.effective_database_url()
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=files.OWNER_ONLY_DIR)
        files.restrict(settings.data_dir, files.OWNER_ONLY_DIR)
        await migrate.upgrade(url)
    elif not await migrate.is_current(url):
        raise ConfigurationError("the database schema is not current: run `tgsessions migrate` first")
    files.restrict_sqlite_files(url)  # before the service opens it: new -wal/-shm files take the database's mode
    return url


@asynccontextmanager
async def open_key_manager(settings: Settings, *, clock: Clock | None = None) -> AsyncIterator[KeyManager]:
    """Storage alone, for work that never talks to Telegram (API key management): no backend needs choosing."""
    clock = clock or SystemClock()
    cipher, database = await open_keys_and_database(settings, clock)
    try:
        yield KeyManager(database, cipher, clock)
    finally:
        await database.aclose()


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, clock: Clock | None = None, telegram_client_class: type | None = None
) -> AsyncIterator[Runtime]:
    """Build everything from settings; migrate the embedded default; close everything on exit.
    ``telegram_client_class`` is the test hook of :func:`build_gateway`."""
    clock = clock or SystemClock()
    check_backend(settings)
    async with AsyncExitStack() as stack:
        cipher, database = await open_keys_and_database(settings, clock)
        stack.push_async_callback(database.aclose)
        await check_backend_record(settings, database, clock)
        url = settings.effective_database_url()
        gateway, world = build_gateway(settings, clock, telegram_client_class=telegram_client_class)
        closer = getattr(gateway, "aclose", None)
        if closer is not None:
            stack.push_async_callback(closer)
        cache: VerdictCache
        if settings.cache_backend == "redis":
            redis_cache = RedisVerdictCache.from_url(settings.redis_url, ttl_seconds=settings.verdict_ttl_seconds)
            stack.push_async_callback(redis_cache.aclose)
            cache = redis_cache
        else:
            cache = MemoryVerdictCache(
                clock, ttl_seconds=settings.verdict_ttl_seconds, max_entries=settings.cache_max_entries
            )
        metrics = PrometheusMetrics(cache)
        factory = SessionFactory(
            db=database,
            gateway=MeasuredGateway(gateway, metrics),
            cache=cache,
            cipher=cipher,
            clock=clock,
            options=options_from(settings),
            metrics=metrics,
        )
        stack.push_async_callback(factory.aclose)

        async def readiness() -> Readiness:
            try:
                await database.ping()
            except Exception as exc:  # any driver error means "not ready"; the message names its type only
                return Readiness(False, f"unreachable ({type(exc).__name__})", "unknown", gateway.backend)
            current = await migrate.is_current(url)
            return Readiness(current, "ok", "current" if current else "behind: run `tgsessions migrate`",
                             gateway.backend)  # fmt: skip

        services = Services(
            factory=factory,
            keys=KeyManager(database, cipher, clock),
            limiter=RateLimiter(clock, default_per_minute=settings.rate_limit_per_minute),
            database_backend=database.backend,
            telegram_backend=gateway.backend,
            cache_backend=settings.cache_backend,
            readiness=readiness,
            metrics=metrics.exposition,
        )
        yield Runtime(settings, services, database, gateway, cache, world, clock)


def build_scheduler(runtime: Runtime) -> MaintenanceScheduler:
    """Scheduled maintenance for ``serve``, from TGS_MAINTENANCE_INTERVAL_SECONDS (0: disabled) and
    TGS_MAINTENANCE_START_DELAY_SECONDS. Start it once serving begins; close it before the runtime."""
    return MaintenanceScheduler(
        runtime.factory,
        runtime.clock or SystemClock(),
        interval=runtime.settings.maintenance_interval_seconds,
        start_delay=runtime.settings.maintenance_start_delay_seconds,
    )


async def seed_demo_accounts(runtime: Runtime) -> list[str]:
    """With the simulated backend and no account stored yet: three demo phones, each with a keeper, a primary and
    two backups, so every endpoint can be tried at once. Returns the phones seeded (none when not applicable)."""
    world = runtime.simulated
    if world is None or await runtime.factory.list_accounts(limit=1):
        return []
    for phone in DEMO_PHONES:
        if world.lookup_account(phone) is None:
            world.add_account(phone)
        keeper = world.create_session(phone, age=timedelta(days=120))
        primary = world.create_session(phone, age=timedelta(days=60))
        backups = [world.create_session(phone, age=timedelta(days=30 + i)) for i in range(2)]
        await runtime.factory.add_account(phone, primary=primary, keeper=keeper, backups=backups, actor="demo-seed")
    if isinstance(runtime.gateway, PersistentSimulatedGateway):
        runtime.gateway.save()
    return list(DEMO_PHONES)


async def ensure_admin_key(runtime: Runtime) -> str | None:
    """The first key, with every scope, when no active key exists; its plaintext (shown once) or None."""
    if await runtime.keys.any_active():
        return None
    _key, plaintext = await runtime.keys.create("admin", ALL_SCOPES)
    return plaintext
