"""Benchmark of ``import mongo-export``: N generated archivedClients documents into a fresh SQLite database.

The export is generated line by line into a temporary file (never held in memory): each account has a primary, 0-3
backups (with repeats, as the replaced service kept them), ``$oid``/``$date``/``$numberLong`` values and, for every
other account, a ``sessionHistory``. Then the import runs through the service (the path the CLI takes, without the
progress bar) with the default batch size.

Prints one `name: value` per line:
  accounts          accounts in the file
  generate_s        seconds to write the file
  import_s          seconds to import it
  accounts_per_s    accounts imported per second
  peak_rss_mb       the process's peak resident set size (getrusage ru_maxrss; target < 300)

Usage: .venv/bin/python bench/import.py [--accounts 1000000] [--batch-size 500]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tgsessions.adapters.crypto.aesgcm import AesGcmCipher
from tgsessions.adapters.crypto.keyring import KeyRing
from tgsessions.adapters.mongo import ExtendedJsonReader
from tgsessions.adapters.sql import migrate
from tgsessions.adapters.sql.database import SqlDatabase
from tgsessions.domain.clock import SystemClock
from tgsessions.service.migration.importing import Importer, ImportOptions

BASE = datetime(2023, 1, 1, tzinfo=UTC)


def string_session() -> str:
    return "1" + base64.urlsafe_b64encode(os.urandom(264)).decode()


def document(i: int) -> dict[str, object]:
    created = BASE + timedelta(seconds=i)
    backups = [string_session() for _ in range(i % 4)]
    primary = string_session()
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


async def run_import(directory: Path, export: Path, batch_size: int) -> int:
    url = f"sqlite+aiosqlite:///{directory / 'bench.db'}"
    await migrate.upgrade(url)
    clock = SystemClock()
    cipher = AesGcmCipher(KeyRing.generate())
    db = await SqlDatabase.open(url, cipher=cipher, clock=clock)
    try:
        importer = Importer(db, cipher, clock, ImportOptions(batch_size=batch_size))
        await importer.import_archived_clients(ExtendedJsonReader(export).records())
        report = importer.finish()
    finally:
        await db.aclose()
    if report.rejected:
        print(f"unexpected rejections: {len(report.rejected)}", file=sys.stderr)
    return report.accounts_created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tgs-import-bench-") as tmp:
        directory = Path(tmp)
        export = directory / "archivedClients.json"
        started = time.perf_counter()
        generate(export, args.accounts)
        generated = time.perf_counter()
        created = asyncio.run(run_import(directory, export, args.batch_size))
        finished = time.perf_counter()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"accounts: {created}")
    print(f"generate_s: {generated - started:.1f}")
    print(f"import_s: {finished - generated:.1f}")
    print(f"accounts_per_s: {created / (finished - generated):.0f}")
    print(f"peak_rss_mb: {peak_kib / 1024:.0f}")


if __name__ == "__main__":
    main()
