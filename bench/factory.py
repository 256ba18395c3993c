"""Benchmark of the session factory against the simulated Telegram (100 ms per call) on SQLite.

Prints one `name: value` per line:
  validations_for_200_concurrent_fetches  Telegram calls made by 200 concurrent fetch_one of one phone, cold cache
                                          (target 1)
  batch50_latency_multiple                wall time of batch_fetch of 50 cold phones / one call's latency (target <= 5)
  warm_fetch_per_s                        fetch_one per second with the verdict cached (audit row included)
  raw_select_insert_per_s                 a raw single-row SELECT plus one INSERT, committed, same driver, same run
  warm_fetch_ratio                        warm_fetch_per_s / raw_select_insert_per_s (target >= 0.5)

Usage: .venv/bin/python bench/factory.py [--latency 0.1] [--seconds 3]
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py must not shadow the standard library's http package (prometheus_client imports it).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import make_url, text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from tgsessions.bootstrap import migrate_database, new_key_file, open_runtime, simulated_world  # noqa: E402
from tgsessions.config import Settings  # noqa: E402
from tgsessions.domain.clock import SystemClock  # noqa: E402
from tgsessions.service.factory import SessionFactory  # noqa: E402
from tgsessions.service.options import FactoryOptions  # noqa: E402
from tgsessions.service.runtime import Runtime  # noqa: E402


def bench_settings(data_dir: Path, database_url: str | None = None) -> Settings:
    """The embedded SQLite in ``data_dir``, or ``database_url`` (its key file in ``data_dir``); nothing from the
    environment."""
    key_file = data_dir / "bench.key" if database_url else None
    return Settings(data_dir=data_dir, database_url=database_url, key_file=key_file, telegram_backend="simulated",
                    cache_backend="memory", _env_file=None)  # fmt: skip


@asynccontextmanager
async def build(settings: Settings, latency: float) -> AsyncIterator[tuple[Runtime, Any]]:
    """The runtime as the composition root builds it, over a simulated Telegram of ``latency`` seconds per call
    (and that world: its call counters are read here)."""
    clock = SystemClock()
    world = simulated_world(clock, latency=latency, seed=1)
    options = FactoryOptions(top_up_in_background=False)
    async with open_runtime(settings, clock=clock, world=world, options=options) as runtime:
        yield runtime, world


async def seed(factory: SessionFactory, world: Any, phone: str) -> None:
    world.add_account(phone)
    primary = world.create_session(phone, age=timedelta(days=40))
    keeper = world.create_session(phone, age=timedelta(days=90))
    backups = [world.create_session(phone, age=timedelta(days=30)) for _ in range(2)]
    await factory.add_account(phone, primary=primary, keeper=keeper, backups=backups)


async def concurrent_single_phone(factory: SessionFactory, world: Any) -> int:
    phone = "79990000001"
    await seed(factory, world, phone)
    world.reset_calls()
    await asyncio.gather(*(factory.fetch_one(phone) for _ in range(200)))
    return sum(world.calls.values())


async def batch_of_50(factory: SessionFactory, world: Any, latency: float) -> float:
    phones = [f"7998{i:07d}" for i in range(50)]
    for phone in phones:
        await seed(factory, world, phone)
    started = time.perf_counter()
    items = await factory.batch_fetch(phones)
    elapsed = time.perf_counter() - started
    assert all(item.result is not None for item in items), "every phone must succeed"
    return elapsed / latency


async def warm_fetches(factory: SessionFactory, seconds: float) -> float:
    phone = "79990000001"
    await factory.fetch_one(phone)
    count, deadline = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        await factory.fetch_one(phone)
        count += 1
    return count / (time.perf_counter() - started)


async def raw_select_insert(runtime: Runtime, seconds: float) -> float:
    engine = runtime.database.engine  # the SQL database's own engine: the same driver, pool and pragmas
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS bench_raw (id INTEGER PRIMARY KEY, at TEXT, note TEXT)"))
    count, deadline = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        async with engine.begin() as conn:
            row = await conn.execute(text("SELECT id, phone, version FROM accounts WHERE phone = :p"),
                                     {"p": "79990000001"})  # fmt: skip
            row.one()
            await conn.execute(text("INSERT INTO bench_raw (at, note) VALUES (:at, :note)"),
                               {"at": datetime.now(UTC).isoformat(), "note": "x"})  # fmt: skip
        count += 1
    return count / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per simulated Telegram call")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each throughput measurement")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TGS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"),
        help="also measure the batch on PostgreSQL (a throw-away database is created there); empty to skip",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        async with build(bench_settings(Path(tmp)), args.latency) as (runtime, world):
            factory = runtime.factory
            print(f"validations_for_200_concurrent_fetches: {await concurrent_single_phone(factory, world)}")
            print(f"batch50_latency_multiple: {await batch_of_50(factory, world, args.latency):.2f}")
            warm = await warm_fetches(factory, args.seconds)
            raw = await raw_select_insert(runtime, args.seconds)
            print(f"warm_fetch_per_s: {warm:.0f}")
            print(f"raw_select_insert_per_s: {raw:.0f}")
            print(f"warm_fetch_ratio: {warm / raw:.2f}")
    if args.postgres_url:
        print(f"batch50_latency_multiple_postgresql: {await batch_on_postgresql(args.postgres_url, args.latency):.2f}")


async def batch_on_postgresql(admin_url: str, latency: float) -> float:
    """The same batch of 50 cold phones on a throw-away PostgreSQL database (several connections, no single writer)."""
    name = f"tgs_bench_{secrets.token_hex(4)}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        with tempfile.TemporaryDirectory() as tmp:
            settings = bench_settings(Path(tmp), url)
            await migrate_database(settings)
            new_key_file(settings)
            async with build(settings, latency) as (runtime, world):
                return await batch_of_50(runtime.factory, world, latency)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
