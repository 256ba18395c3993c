"""Benchmark of ``import mongo-export``: N generated archivedClients documents into a fresh database, against the raw
driver writing the same rows in the same run.

The export is generated line by line into a temporary file (never held in memory): each account has a primary, 0-3
backups (with repeats, as the replaced service kept them), all GramJS strings (the replaced service's layout),
``$oid``/``$date``/``$numberLong`` values and, for every other account, a ``sessionHistory``. Then the import runs
through the service (the path the CLI takes, without the progress bar) with the default batch size, on the embedded
SQLite default, or (``--database-url``) on a throw-away PostgreSQL database created on that server and dropped after.

The baseline: the raw driver (aiosqlite with the service's pragmas, or asyncpg) inserts the same accounts and
sessions rows (ciphertexts made beforehand, explicit account ids, random session ids like the real fingerprints, so
that their unique index is as costly to fill) into another fresh, migrated database of the same backend,
``executemany`` per table, one transaction per batch of the same size. Nothing of the project runs in it:
no parsing, no encryption, no audit rows, no lookups.

Prints one `name: value` per line:
  backend           sqlite or postgresql
  accounts          accounts in the file (and imported)
  generate_s        seconds to write the file
  import_s          seconds to import it
  accounts_per_s    accounts imported per second                                 (target >= 2000, at 1 M accounts)
  peak_rss_mb       the process's peak resident set size after the import
                    (getrusage ru_maxrss)                                        (target < 300, at 1 M accounts)
  raw_rows_per_s    rows (accounts + sessions) the raw driver inserts per second
  raw_accounts_per_s  accounts (with their sessions) the raw driver inserts per second
  import_over_raw   accounts_per_s / raw_accounts_per_s (absolute figures depend on the machine; this does less so)

Usage: .venv/bin/python bench/import.py [--accounts 100000] [--batch-size 500]
           [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]
The targets are judged with ``--accounts 1000000`` (about ten minutes); the default runs in a couple of minutes.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py must not shadow the standard library's http package (prometheus_client imports it).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import secrets  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import AsyncIterator, Iterator  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

import aiosqlite  # noqa: E402
import asyncpg  # noqa: E402
from sqlalchemy import make_url  # noqa: E402

from tgsessions.bootstrap import migrate_database, new_key_file, open_keys_and_database, read_mongo_export  # noqa: E402
from tgsessions.config import Settings  # noqa: E402
from tgsessions.domain.clock import SystemClock  # noqa: E402
from tgsessions.domain.session_codec import PRODUCTION_DCS, SessionData, SessionFormat, render  # noqa: E402
from tgsessions.service.migration import Importer, ImportOptions  # noqa: E402

BASE = datetime(2023, 1, 1, tzinfo=UTC)
SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON")


def string_session(i: int) -> str:
    """A GramJS string session (a production DC's address) with a random auth key."""
    dc = i % 5 + 1
    return render(SessionData(dc, PRODUCTION_DCS[dc], 443, os.urandom(256)), SessionFormat.GRAMJS).reveal()


def backup_count(i: int) -> int:
    return i % 4


def document(i: int) -> dict[str, object]:
    created = BASE + timedelta(seconds=i)
    backups = [string_session(i) for _ in range(backup_count(i))]
    primary = string_session(i)
    doc: dict[str, object] = {
        "_id": {"$oid": f"{i:024x}"},
        "mobile": f"7{9_000_000_000 + i}",
        "session": primary,
        "oldSessions": [*backups, primary, *backups[:1]],
        "createdAt": {"$date": created.strftime("%Y-%m-%dT%H:%M:%S.000Z")},
        "updatedAt": {"$date": {"$numberLong": str(int(created.timestamp() * 1000) + 5000)}},
        "lastUpdated": {"$date": {"$numberLong": str(int(created.timestamp() * 1000) + 3000)}},
        "retries": {"$numberLong": "3"},
    }
    if i % 2 == 0:
        entry = {"_id": {"$oid": f"{i + 1:024x}"}, "action": "updated", "session": (backups or [primary])[0]}
        doc["sessionHistory"] = [{**entry, "date": {"$date": created.strftime("%Y-%m-%dT%H:%M:%SZ")}}]
    return doc


def generate(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            out.write(json.dumps(document(i)) + "\n")


def bench_settings(directory: Path, database_url: str | None) -> Settings:
    """The embedded SQLite default in ``directory``, or ``database_url`` with a key file made here."""
    key_file = directory / "bench.key" if database_url else None
    return Settings(data_dir=directory / "data", database_url=database_url, key_file=key_file, _env_file=None)


async def run_import(settings: Settings, export: Path, batch_size: int) -> int:
    """As the CLI opens the database (the embedded default migrated and its key file created, else checked)."""
    clock = SystemClock()
    cipher, db = await open_keys_and_database(settings, clock)
    try:
        importer = Importer(db, cipher, clock, ImportOptions(batch_size=batch_size))
        await importer.import_archived_clients(read_mongo_export(export).records())
        report = importer.finish()
    finally:
        await db.aclose()
    if report.rejected:
        print(f"unexpected rejections: {len(report.rejected)}", file=sys.stderr)
    return report.accounts_created


# -- the raw driver's baseline ------------------------------------------------------------------------------------

SQLITE_INSERTS = (
    "INSERT INTO accounts (id, phone, identity, state, frozen, created_at, updated_at, last_updated, version) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "INSERT INTO sessions (account_id, session_id, role, origin, string_ct, identity, created_at, role_since, "
    "consecutive_failures, source_format) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
)
POSTGRES_INSERTS = tuple(
    statement.replace("?", "${}").format(*range(1, statement.count("?") + 1)) for statement in SQLITE_INSERTS
)
IDENTITY = json.dumps({"api_id": None, "app_version": "1.0", "device_model": "tgsessions", "lang_code": "en",
                       "system_lang_code": "en", "system_version": "Linux"}, sort_keys=True)  # fmt: skip
CIPHERTEXT = secrets.token_bytes(2 + 2 + 12 + 353 + 16)  # an AES-GCM blob of a canonical (Telethon) string


def raw_batches(count: int, batch_size: int, sqlite: bool) -> Iterator[tuple[list[tuple[object, ...]], ...]]:
    """(accounts rows, sessions rows) per batch: what the import stores for the generated file."""
    for first in range(0, count, batch_size):
        accounts: list[tuple[object, ...]] = []
        sessions: list[tuple[object, ...]] = []
        for i in range(first, min(count, first + batch_size)):
            moment = BASE + timedelta(seconds=i)
            at: object = moment.replace(tzinfo=None).isoformat(sep=" ") if sqlite else moment
            accounts.append((i + 1, f"7{9_000_000_000 + i}", IDENTITY, "active", False, at, at, at, 1))
            for k in range(1 + backup_count(i)):
                role = "primary" if k == 0 else "backup"
                session_id = "s_" + secrets.token_hex(16)  # random, as the keyed fingerprints are
                sessions.append((i + 1, session_id, role, "imported", CIPHERTEXT, IDENTITY, at, at, 0, "gramjs"))
        yield accounts, sessions


async def raw_insert(url: str, count: int, batch_size: int) -> tuple[int, float]:
    """Rows written and seconds taken by the raw driver (see the module docstring)."""
    sqlite = url.startswith("sqlite")
    rows = 0
    if sqlite:
        add_accounts, add_sessions = SQLITE_INSERTS
        async with aiosqlite.connect(url.split(":///", 1)[1], isolation_level=None) as db:
            for pragma in SQLITE_PRAGMAS:
                await db.execute(pragma)
            started = time.perf_counter()
            for accounts, sessions in raw_batches(count, batch_size, sqlite=True):
                await db.execute("BEGIN IMMEDIATE")
                await db.executemany(add_accounts, accounts)
                await db.executemany(add_sessions, sessions)
                await db.execute("COMMIT")
                rows += len(accounts) + len(sessions)
            return rows, time.perf_counter() - started
    add_accounts, add_sessions = POSTGRES_INSERTS
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        started = time.perf_counter()
        for accounts, sessions in raw_batches(count, batch_size, sqlite=False):
            async with conn.transaction():
                await conn.executemany(add_accounts, accounts)
                await conn.executemany(add_sessions, sessions)
            rows += len(accounts) + len(sessions)
        return rows, time.perf_counter() - started
    finally:
        await conn.close()


# -- databases ----------------------------------------------------------------------------------------------------


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def throwaway_database(server_url: str | None) -> AsyncIterator[str | None]:
    """A new, empty PostgreSQL database on ``server_url``'s server (dropped on the way out); None stays None."""
    if server_url is None:
        yield None
        return
    name = f"tgs_import_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def prepared(directory: Path, database_url: str | None) -> Settings:
    """Settings for a fresh database: PostgreSQL migrated and given a key file; SQLite is migrated on opening."""
    settings = bench_settings(directory, database_url)
    if database_url is not None:
        new_key_file(settings)  # its directory too
        await migrate_database(settings)
    return settings


async def measure(args: argparse.Namespace, directory: Path, export: Path) -> dict[str, float]:
    figures: dict[str, float] = {}
    async with throwaway_database(args.database_url) as url:
        settings = await prepared(directory / "service", url)
        started = time.perf_counter()
        figures["accounts"] = await run_import(settings, export, args.batch_size)
        figures["import_s"] = time.perf_counter() - started
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    async with throwaway_database(args.database_url) as url:
        settings = await prepared(directory / "raw", url)
        raw_url, _revision = await migrate_database(settings)
        rows, seconds = await raw_insert(raw_url, args.accounts, args.batch_size)
    figures["accounts_per_s"] = figures["accounts"] / figures["import_s"]
    figures["raw_rows_per_s"] = rows / seconds
    figures["raw_accounts_per_s"] = args.accounts / seconds
    figures["import_over_raw"] = figures["accounts_per_s"] / figures["raw_accounts_per_s"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=ImportOptions().batch_size)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server (postgresql+asyncpg://...)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tgs-import-bench-") as tmp:
        directory = Path(tmp)
        export = directory / "archivedClients.json"
        started = time.perf_counter()
        generate(export, args.accounts)
        generate_s = time.perf_counter() - started
        figures = asyncio.run(measure(args, directory, export))
    print(f"backend: {'postgresql' if args.database_url else 'sqlite'}")
    print(f"accounts: {figures['accounts']:.0f}")
    print(f"generate_s: {generate_s:.1f}")
    print(f"import_s: {figures['import_s']:.1f}")
    print(f"accounts_per_s: {figures['accounts_per_s']:.0f}")
    print(f"peak_rss_mb: {figures['peak_rss_mb']:.0f}")
    print(f"raw_rows_per_s: {figures['raw_rows_per_s']:.0f}")
    print(f"raw_accounts_per_s: {figures['raw_accounts_per_s']:.0f}")
    print(f"import_over_raw: {figures['import_over_raw']:.2f}")


if __name__ == "__main__":
    main()
