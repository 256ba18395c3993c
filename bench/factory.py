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

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.crypto.aesgcm import AesGcmCipher
from tgsessions.adapters.crypto.keyring import KeyRing
from tgsessions.adapters.sql import migrate
from tgsessions.adapters.sql.database import SqlDatabase
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.clock import SystemClock
from tgsessions.service.factory import SessionFactory
from tgsessions.service.options import FactoryOptions


async def build(url: str, latency: float) -> tuple[SessionFactory, SimulatedTelegram, SqlDatabase]:
    await migrate.upgrade(url)
    clock = SystemClock()
    cipher = AesGcmCipher(KeyRing.generate())
    db = await SqlDatabase.open(url, cipher=cipher, clock=clock)
    world = SimulatedTelegram(clock, latency=latency, seed=1)
    factory = SessionFactory(
        db=db,
        gateway=SimulatedTelegramGateway(world),
        cache=MemoryVerdictCache(clock),
        cipher=cipher,
        clock=clock,
        options=FactoryOptions(top_up_in_background=False),
    )
    return factory, world, db


async def seed(factory: SessionFactory, world: SimulatedTelegram, phone: str) -> None:
    world.add_account(phone)
    primary = world.create_session(phone, age=timedelta(days=40))
    keeper = world.create_session(phone, age=timedelta(days=90))
    backups = [world.create_session(phone, age=timedelta(days=30)) for _ in range(2)]
    await factory.add_account(phone, primary=primary, keeper=keeper, backups=backups)


async def concurrent_single_phone(factory: SessionFactory, world: SimulatedTelegram) -> int:
    phone = "79990000001"
    await seed(factory, world, phone)
    world.reset_calls()
    await asyncio.gather(*(factory.fetch_one(phone) for _ in range(200)))
    return sum(world.calls.values())


async def batch_of_50(factory: SessionFactory, world: SimulatedTelegram, latency: float) -> float:
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


async def raw_select_insert(db: SqlDatabase, seconds: float) -> float:
    engine = db.engine
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
        factory, world, db = await build(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", args.latency)
        try:
            print(f"validations_for_200_concurrent_fetches: {await concurrent_single_phone(factory, world)}")
            print(f"batch50_latency_multiple: {await batch_of_50(factory, world, args.latency):.2f}")
            warm = await warm_fetches(factory, args.seconds)
            raw = await raw_select_insert(db, args.seconds)
            print(f"warm_fetch_per_s: {warm:.0f}")
            print(f"raw_select_insert_per_s: {raw:.0f}")
            print(f"warm_fetch_ratio: {warm / raw:.2f}")
        finally:
            await factory.aclose()
            await db.aclose()
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
        factory, world, db = await build(url, latency)
        try:
            return await batch_of_50(factory, world, latency)
        finally:
            await factory.aclose()
            await db.aclose()
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
