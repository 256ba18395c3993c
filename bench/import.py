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

import sys
from pathlib import Path

# bench/http.py must not shadow the standard library's http package (prometheus_client imports it).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

from tgsessions.bootstrap import open_keys_and_database, read_mongo_export  # noqa: E402
from tgsessions.config import Settings  # noqa: E402
from tgsessions.domain.clock import SystemClock  # noqa: E402
from tgsessions.domain.session_codec import SessionData, SessionFormat, render  # noqa: E402
from tgsessions.service.migration import Importer, ImportOptions  # noqa: E402

BASE = datetime(2023, 1, 1, tzinfo=UTC)


def string_session() -> str:
    """A Telethon string session (DC 2, its production address) with a random auth key."""
    return render(SessionData(2, "149.154.167.51", 443, os.urandom(256)), SessionFormat.TELETHON).reveal()


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
    """Into the embedded SQLite default in ``directory`` (migrated, its key file created), as the CLI opens it."""
    settings = Settings(data_dir=directory / "data", database_url=None, key_file=None, _env_file=None)
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
