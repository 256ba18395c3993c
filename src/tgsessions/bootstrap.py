"""The composition root: the only place that reads settings into adapters, and the only module (the adapters aside)
that imports them. Entry points get from here the one :class:`~tgsessions.service.runtime.Runtime`
(:func:`open_runtime`), storage alone (:func:`open_key_manager`, :func:`open_key_rotation`, :func:`migrate_database`)
and each adapter they need on its own (mongoexport files, Telethon login and ``.session`` files, logging)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tgsessions.adapters import files
from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.cache.redis import RedisVerdictCache
from tgsessions.adapters.crypto.aesgcm import AesGcmCipher
from tgsessions.adapters.crypto.key_file import RotatableKeyFile
from tgsessions.adapters.crypto.keyring import KeyRing, create_key_file, load_key_file
from tgsessions.adapters.limits import open_limits
from tgsessions.adapters.logs import configure_logging as configure_logging
from tgsessions.adapters.metrics.measured_gateway import MeasuredGateway
from tgsessions.adapters.metrics.prometheus import PrometheusMetrics
from tgsessions.adapters.mongo import ExtendedJsonReader, ExtendedJsonWriter
from tgsessions.adapters.sql import meta, migrate
from tgsessions.adapters.sql.database import SqlDatabase
from tgsessions.adapters.sql.key_coverage import key_coverage, stored_ciphertexts_if_any
from tgsessions.adapters.sql.rotation import SqlKeyRotationStore
from tgsessions.adapters.telegram.session_files import read_telethon_file as read_telethon_file
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.persistence import PersistentSimulatedGateway
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.config import Settings, backend_switch_refusal, check_backend, options_from, telegram_rsa_key
from tgsessions.domain.access import ALL_SCOPES
from tgsessions.domain.clock import SystemClock
from tgsessions.domain.errors import ConfigurationError
from tgsessions.domain.ports import Clock, DeadlineBoard, TelegramGateway, VerdictCache
from tgsessions.domain.secret import Secret
from tgsessions.service.access import KeyManager, RateLimiter
from tgsessions.service.factory import SessionFactory
from tgsessions.service.keys import KeyRotation, coverage_refusal, missing_key_file
from tgsessions.service.maintenance import MaintenanceScheduler
from tgsessions.service.options import FactoryOptions
from tgsessions.service.runtime import Runtime, readiness_probe

if TYPE_CHECKING:
    from tgsessions.adapters.telegram.telethon import TelethonConfig
    from tgsessions.adapters.telegram.telethon.login import LoggedIn

SIMULATED_STATE = "simulated-telegram.json"

log = logging.getLogger("tgsessions.bootstrap")


def new_key_file(settings: Settings) -> Path:
    """A new key file (mode 0600) at TGS_KEY_FILE or DATA_DIR/tgsessions.key; never overwrites one."""
    path = settings.effective_key_file()
    create_key_file(path)
    return path


async def open_keys_and_database(settings: Settings, clock: Clock) -> tuple[AesGcmCipher, SqlDatabase]:
    """The key file checked against what the database stores, and the database open (the embedded default
    migrated first). ConfigurationError (one line) when the key file is missing over a database that holds
    ciphertexts, or does not decrypt them; only the embedded default over a database without ciphertexts gets a new
    one. The cipher reloads the key file when it meets a key id it does not hold (a rotation reaches a server)."""
    path = settings.effective_key_file()
    if path.exists():
        ring = load_key_file(path)
        url = await prepare_database(settings)
    else:
        url = await prepare_database(settings) if settings.embedded else settings.effective_database_url()
        guarded = await stored_ciphertexts_if_any(url)
        if sum(guarded.values()) or not settings.embedded:
            raise missing_key_file(str(path), guarded, embedded=settings.embedded)
        ring = create_key_file(path)
    cipher = AesGcmCipher(ring, reload=lambda: load_key_file(path))
    return cipher, await _open_checked(url, cipher, ring, path, clock)


async def _open_checked(url: str, cipher: AesGcmCipher, ring: KeyRing, path: Path, clock: Clock) -> SqlDatabase:
    """The database open, once ``ring`` is known to decrypt the stored secrets: else ConfigurationError (one line:
    none of its keys decrypts them, or some are under key ids it does not hold; see key_file_checks.py)."""
    database = await SqlDatabase.open(url, cipher=cipher, clock=clock)
    try:
        coverage = await key_coverage(database.engine, AesGcmCipher(ring), sorted(ring.keys))
        refusal = coverage_refusal(coverage, str(path))
        if refusal is not None:
            raise refusal
    except BaseException:
        await database.aclose()
        raise
    return database


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
        raise backend_switch_refusal(recorded, current)
    await meta.write(database.engine, meta.TELEGRAM_BACKEND, current, clock.now())
    log.warning("the database was written by the %s Telegram backend: switched to %s (TGS_ALLOW_BACKEND_SWITCH)",
                recorded, current)  # fmt: skip


def build_gateway(
    settings: Settings, clock: Clock, *, client_class: type | None = None, flood_waits: DeadlineBoard | None = None
) -> tuple[TelegramGateway, SimulatedTelegram | None]:
    """The simulated Telegram (saved in the data dir) or the Telethon gateway, its flood waits on ``flood_waits`` if
    shared. ``client_class`` replaces Telethon's TelegramClient (a test hook: the gateway over a fake transport)."""
    check_backend(settings)
    if settings.telegram_backend == "telethon":
        from tgsessions.adapters.telegram.telethon import TelethonGateway

        config = telethon_config(settings)
        if client_class is None:
            return TelethonGateway(config, clock=clock, flood_waits=flood_waits), None
        return TelethonGateway(config, clock=clock, client_class=client_class, flood_waits=flood_waits), None
    gateway = PersistentSimulatedGateway.open(clock, settings.data_dir / SIMULATED_STATE)
    return gateway, gateway.world


def telethon_config(settings: Settings) -> TelethonConfig:
    from tgsessions.adapters.telegram.telethon import TelethonConfig

    assert settings.api_id is not None
    assert settings.api_hash is not None
    return TelethonConfig(
        api_id=settings.api_id,
        api_hash=Secret(settings.api_hash.get_secret_value()),
        endpoint=settings.telegram_endpoint,
        dc_id=settings.telegram_dc_id,
        host=settings.telegram_host,
        port=settings.telegram_port,
        rsa_key_pem=telegram_rsa_key(settings),
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


async def migrate_database(settings: Settings) -> tuple[str, str | None]:
    """The configured database brought to the newest schema: its URL and revision."""
    url = settings.effective_database_url()
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    await migrate.upgrade(url)
    return url, await migrate.current_revision(url)


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
async def open_key_rotation(settings: Settings, *, holder: str) -> AsyncIterator[KeyRotation]:
    """Data-key rotation: the key file (which must exist) and the database, once the key file is known to decrypt
    what it stores (else ConfigurationError, one line). ``holder`` names this process in the rotation lease."""
    path = settings.effective_key_file()
    ring = load_key_file(path)
    database = await _open_checked(await prepare_database(settings), AesGcmCipher(ring), ring, path, SystemClock())
    try:
        yield KeyRotation(SqlKeyRotationStore(database.engine), RotatableKeyFile(path, ring), database.leases,
                          holder=holder)  # fmt: skip
    finally:
        await database.aclose()


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    telegram_client_class: type | None = None,
    world: SimulatedTelegram | None = None,
    options: FactoryOptions | None = None,
) -> AsyncIterator[Runtime]:
    """Build everything from settings; migrate the embedded default; close everything on exit.
    ``telegram_client_class`` is the test hook of :func:`build_gateway`. Benches and tests may inject a ``world``
    (:func:`simulated_world`, never saved) instead of the configured backend, and ``options`` for the settings'."""
    clock = clock or SystemClock()
    check_backend(settings)
    async with AsyncExitStack() as stack:
        cipher, database = await open_keys_and_database(settings, clock)
        stack.push_async_callback(database.aclose)
        await check_backend_record(settings, database, clock)
        url = settings.effective_database_url()
        shared_redis = settings.redis_url if settings.cache_backend == "redis" else None  # shared by every instance
        limits = await stack.enter_async_context(open_limits(shared_redis))
        gateway: TelegramGateway
        if world is None:
            gateway, world = build_gateway(settings, clock, client_class=telegram_client_class,
                                           flood_waits=limits.flood_waits)  # fmt: skip
        else:
            gateway = SimulatedTelegramGateway(world)
        closer: Callable[[], Awaitable[None]] | None = getattr(gateway, "aclose", None)
        if closer is not None:
            stack.push_async_callback(closer)
        cache: VerdictCache
        if settings.cache_backend == "redis":
            redis_cache = RedisVerdictCache.from_url(settings.redis_url, ttl_seconds=settings.verdict_ttl_seconds)
            stack.push_async_callback(redis_cache.aclose)
            cache = redis_cache
        else:
            cache = MemoryVerdictCache(clock, ttl_seconds=settings.verdict_ttl_seconds,
                                       max_entries=settings.cache_max_entries)  # fmt: skip
        metrics = PrometheusMetrics(cache)
        factory = SessionFactory(db=database, gateway=MeasuredGateway(gateway, metrics), cache=cache, cipher=cipher,
                                 clock=clock, options=options or options_from(settings), metrics=metrics)  # fmt: skip
        stack.push_async_callback(factory.aclose)
        readiness = readiness_probe(database.ping, lambda: migrate.is_current(url), gateway.backend)
        limiter = RateLimiter(limits.rate_window, default_per_minute=settings.rate_limit_per_minute)
        yield Runtime(factory, KeyManager(database, cipher, clock), limiter, database, gateway, cache, cipher, clock,
                      readiness, metrics=metrics.exposition, simulated=world)  # fmt: skip


def build_scheduler(runtime: Runtime, settings: Settings) -> MaintenanceScheduler:
    """Scheduled maintenance for ``serve``, every TGS_MAINTENANCE_INTERVAL_SECONDS (0: never) from
    TGS_MAINTENANCE_START_DELAY_SECONDS on. Start it once serving begins; close it before the runtime."""
    return MaintenanceScheduler(runtime.factory, runtime.clock, interval=settings.maintenance_interval_seconds,
                                start_delay=settings.maintenance_start_delay_seconds)  # fmt: skip


async def ensure_admin_key(runtime: Runtime) -> str | None:
    """The first key, with every scope, when no active key exists; its plaintext (shown once) or None."""
    if await runtime.keys.any_active():
        return None
    _key, plaintext = await runtime.keys.create("admin", ALL_SCOPES)
    return plaintext


def save_simulated_world(runtime: Runtime) -> None:
    """The simulated Telegram saved in the data directory (the next start finds it as it is now)."""
    if isinstance(runtime.gateway, PersistentSimulatedGateway):
        runtime.gateway.save()


def simulated_world(clock: Clock, *, latency: float = 0.0, seed: int | None = None) -> SimulatedTelegram:
    """A fresh simulated Telegram for :func:`open_runtime`'s ``world`` (``latency`` seconds per call)."""
    return SimulatedTelegram(clock, latency=latency, seed=seed)


def read_mongo_export(path: Path) -> ExtendedJsonReader:
    """A mongoexport file (one document per line, or --jsonArray), read as a stream."""
    return ExtendedJsonReader(path)


def write_mongo_export(path: Path, *, array: bool = False) -> ExtendedJsonWriter:
    """Where documents are written as mongoexport writes them (one per line, or one JSON array)."""
    return ExtendedJsonWriter(path, array=array)


async def telethon_login(
    settings: Settings, phone: str, ask: Callable[[str], Awaitable[str]], *, client_class: type | None = None
) -> LoggedIn:
    """An interactive login at real Telegram (``ask`` prompts for the code, then the 2FA password);
    ``client_class`` replaces Telethon's TelegramClient (a test hook)."""
    from tgsessions.adapters.telegram.telethon.clients import ClientFactory
    from tgsessions.adapters.telegram.telethon.login import interactive_login

    factory = ClientFactory(telethon_config(settings), **({"client_class": client_class} if client_class else {}))
    return await interactive_login(factory, phone, ask, identity=options_from(settings).default_identity)
