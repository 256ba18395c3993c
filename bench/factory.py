"""Benchmark of the session factory (the Python API) against the raw drivers, on SQLite and PostgreSQL.

Every ratio is taken in the same run, on the same database file or server, against a baseline done with the raw
driver (bench/raw_drivers.py: aiosqlite or asyncpg, one indexed SELECT + one audit INSERT + COMMIT, nothing of the
project). Absolute figures are printed for the record; only the ratios are judged. Prints one `name: value` per line,
each figure suffixed with its backend (`_sqlite`, `_postgresql`):

  warm_fetch_per_s             fetch_one per second, one caller, verdicts cached, over 100 hot phones
  raw_select_insert_per_s      the raw driver's SELECT + INSERT + COMMIT per second, same phones, same run
  warm_fetch_ratio             warm_fetch_per_s / raw_select_insert_per_s            (target >= 0.7)
  warm_fetch_p50_us            median latency of one warm fetch_one
  batch50_latency_multiple     median batch_fetch of 50 warm phones / median warm fetch_one   (target <= 2)
  warm_latency_1m_over_1k      median warm fetch_one with 1 M accounts / with 1 k            (target <= 1.5)
and once, on SQLite:
  validations_for_200_concurrent_fetches   Telegram calls made by 200 concurrent fetch_one of one cold phone (1)
  batch50_cold_latency_multiple            batch_fetch of 50 cold phones / one Telegram call's latency   (<= 5)
  cache_hit_rate_10k                       verdict cache hits / lookups on a second pass over 10,000 phones with
                                           the default settings                                       (>= 0.99)

``--json FILE`` also writes {"figures": {...}, "latency_by_accounts": [{"backend", "accounts", "warm_fetch_ms"}]}
for bench/report.py. The fleet grows from 1 k to ``--max-accounts`` (default 1 M) with rows written by plain SQL.

Usage: .venv/bin/python bench/factory.py [--seconds 3] [--max-accounts 1000000] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py must not shadow the standard library's http package: the repository root replaces bench/ on the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402
from datetime import timedelta  # noqa: E402
from typing import Any  # noqa: E402

from bench.raw_drivers import RawWarmFetch, add_filler_accounts, rate  # noqa: E402
from sqlalchemy import make_url, text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from tgsessions.bootstrap import migrate_database, new_key_file, open_runtime, simulated_world  # noqa: E402
from tgsessions.config import Settings  # noqa: E402
from tgsessions.domain.clock import SystemClock  # noqa: E402
from tgsessions.service.factory import SessionFactory  # noqa: E402
from tgsessions.service.options import FactoryOptions  # noqa: E402
from tgsessions.service.runtime import Runtime  # noqa: E402

HOT = 100
SIZES = (1_000, 10_000, 100_000, 1_000_000)


def bench_settings(data_dir: Path, database_url: str | None = None, **extra: Any) -> Settings:
    """The embedded SQLite in ``data_dir``, or ``database_url``; nothing from the environment."""
    key_file = data_dir / "bench.key" if database_url else None
    return Settings(data_dir=data_dir, database_url=database_url, key_file=key_file, telegram_backend="simulated",
                    cache_backend="memory", _env_file=None, **extra)  # fmt: skip


@asynccontextmanager
async def build(settings: Settings, latency: float = 0.0) -> AsyncIterator[tuple[Runtime, Any]]:
    """The runtime as the composition root builds it, over a simulated Telegram (``latency`` s per call)."""
    clock = SystemClock()
    world = simulated_world(clock, latency=latency, seed=1)
    async with open_runtime(
        settings, clock=clock, world=world, options=FactoryOptions(top_up_in_background=False)
    ) as rt:
        yield rt, world


async def seed(factory: SessionFactory, world: Any, phone: str) -> None:
    world.add_account(phone)
    primary = world.create_session(phone, age=timedelta(days=40))
    keeper = world.create_session(phone, age=timedelta(days=90))
    backups = [world.create_session(phone, age=timedelta(days=30)) for _ in range(2)]
    await factory.add_account(phone, primary=primary, keeper=keeper, backups=backups)


async def median_seconds(call: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


Figures = tuple[dict[str, float], list[dict[str, Any]]]


async def warm_figures(runtime: Runtime, world: Any, url: str, args: argparse.Namespace) -> Figures:
    """The warm-path figures of one backend, and warm latency against the fleet's size."""
    factory = runtime.factory
    hot = [f"7999{i:07d}" for i in range(HOT)]
    for phone in hot:
        await seed(factory, world, phone)
    await factory.batch_fetch(hot[:50])
    await factory.batch_fetch(hot[50:])  # every verdict cached, every primary hint known
    figures: dict[str, float] = {}
    async with RawWarmFetch(url) as raw:
        for _ in range(2):  # the same order twice: any drift of the machine hits both
            figures["warm_fetch_per_s"] = await rate(factory.fetch_one, hot, args.seconds)
            figures["raw_select_insert_per_s"] = await rate(raw.fetch, hot, args.seconds)
    figures["warm_fetch_ratio"] = figures["warm_fetch_per_s"] / figures["raw_select_insert_per_s"]
    one = await median_seconds(lambda: factory.fetch_one(hot[7]), 300)
    batch = await median_seconds(lambda: factory.batch_fetch(hot[:50]), 30)
    figures["warm_fetch_p50_us"] = one * 1e6
    figures["batch50_latency_multiple"] = batch / one
    curve: list[dict[str, Any]] = []
    present = HOT
    for size in (s for s in SIZES if s <= args.max_accounts):
        await add_filler_accounts(url, present, size - present)
        present = size
        phone = hot[size % HOT]
        latency = await median_seconds(lambda phone=phone: factory.fetch_one(phone), 1000)  # type: ignore[misc]
        curve.append({"accounts": size, "warm_fetch_ms": latency * 1000})
    if len(curve) > 1:
        figures[f"warm_latency_{_label(curve[-1]['accounts'])}_over_1k"] = (
            curve[-1]["warm_fetch_ms"] / curve[0]["warm_fetch_ms"]
        )
    return figures, curve


def _label(n: int) -> str:
    return f"{n // 1_000_000}m" if n >= 1_000_000 else f"{n // 1000}k"


async def concurrent_single_phone(factory: SessionFactory, world: Any) -> int:
    phone = "79990000001"
    await seed(factory, world, phone)
    world.reset_calls()
    await asyncio.gather(*(factory.fetch_one(phone) for _ in range(200)))
    return sum(world.calls.values())


async def cold_batch_multiple(factory: SessionFactory, world: Any, latency: float) -> float:
    phones = [f"7998{i:07d}" for i in range(50)]
    for phone in phones:
        await seed(factory, world, phone)
    world.latency = latency
    started = time.perf_counter()
    items = await factory.batch_fetch(phones)
    elapsed = time.perf_counter() - started
    world.latency = 0.0
    assert all(item.result is not None for item in items), "every phone must succeed"
    return elapsed / latency


async def cache_hit_rate(runtime: Runtime, world: Any, accounts: int) -> float:
    """Hits / lookups of the verdict cache on a second pass over ``accounts`` phones (default cache settings)."""
    phones = [f"7997{i:07d}" for i in range(accounts)]
    for phone in phones:
        await seed(runtime.factory, world, phone)
    for first in range(0, accounts, 50):
        await runtime.factory.batch_fetch(phones[first : first + 50])
    before = await runtime.cache.stats()
    for first in range(0, accounts, 50):
        await runtime.factory.batch_fetch(phones[first : first + 50])
    after = await runtime.cache.stats()
    hits, misses = after.hits - before.hits, after.misses - before.misses
    return hits / (hits + misses)


async def on_sqlite(args: argparse.Namespace) -> Figures:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with build(bench_settings(Path(tmp) / "once")) as (runtime, world):
            figures["validations_for_200_concurrent_fetches"] = await concurrent_single_phone(runtime.factory, world)
            figures["batch50_cold_latency_multiple"] = await cold_batch_multiple(runtime.factory, world, args.latency)
        if args.cache_accounts:
            async with build(bench_settings(Path(tmp) / "cache")) as (runtime, world):
                figures[f"cache_hit_rate_{_label(args.cache_accounts)}"] = await cache_hit_rate(
                    runtime, world, args.cache_accounts
                )
        settings = bench_settings(Path(tmp) / "warm")
        async with build(settings) as (runtime, world):
            warm, curve = await warm_figures(runtime, world, settings.effective_database_url(), args)
    return {**figures, **warm}, curve


async def on_postgresql(admin_url: str, args: argparse.Namespace) -> Figures:
    """The warm figures on a throw-away PostgreSQL database (created, then dropped)."""
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
            async with build(settings) as (runtime, world):
                return await warm_figures(runtime, world, url, args)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per simulated Telegram call (cold batch)")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each throughput measurement")
    parser.add_argument("--max-accounts", type=int, default=1_000_000, help="largest fleet of the latency curve")
    parser.add_argument(
        "--cache-accounts", type=int, default=10_000, help="phones of the cache hit-rate pass (0: skip)"
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    default_pg = os.environ.get("TGS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--postgres-url", default=default_pg)
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON (for bench/report.py)")
    args = parser.parse_args()
    figures: dict[str, float] = {}
    curve: list[dict[str, Any]] = []
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for backend in backends:
        found, points = await (on_sqlite(args) if backend == "sqlite" else on_postgresql(args.postgres_url, args))
        for key, value in found.items():
            name = key if key.startswith(("validations_", "batch50_cold", "cache_hit")) else f"{key}_{backend}"
            figures[name] = value
            print(f"{name}: {value:.2f}" if isinstance(value, float) else f"{name}: {value}", flush=True)
        curve += [{"backend": backend, **point} for point in points]
        for point in points:
            print(f"warm_fetch_ms_at_{point['accounts']}_{backend}: {point['warm_fetch_ms']:.3f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"figures": figures, "latency_by_accounts": curve}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
