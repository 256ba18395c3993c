"""Memory of the in-process verdict cache: bytes per entry, measured with tracemalloc.

Fills the runtime's in-memory verdict cache (built by the composition root, default backend) with N alive verdicts
keyed by realistic session ids (43-character keyed fingerprints, as the service makes them) and prints:
  entries                 N
  cache_bytes_per_entry   traced bytes allocated by the filled cache / N
  dict_bytes_per_entry    the same N (key, verdict) pairs in a plain dict: the floor any map of them costs
  cache_over_dict         cache_bytes_per_entry / dict_bytes_per_entry
  cache_mb_at_1m          the cache's size at 1,000,000 entries, from the per-entry figure

Usage: .venv/bin/python bench/cache.py [--entries 200000]
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py must not shadow the standard library's http package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import base64  # noqa: E402
import gc  # noqa: E402
import hashlib  # noqa: E402
import tempfile  # noqa: E402
import tracemalloc  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

from tgsessions.bootstrap import open_runtime  # noqa: E402
from tgsessions.config import Settings  # noqa: E402
from tgsessions.domain.ports import VerdictCache  # noqa: E402
from tgsessions.domain.verdict import Verdict  # noqa: E402


def session_ids(n: int) -> list[str]:
    return [base64.urlsafe_b64encode(hashlib.sha256(str(i).encode()).digest()).decode().rstrip("=") for i in range(n)]


async def traced(build: object) -> int:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = await build() if callable(build) else None  # type: ignore[misc]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return after - before


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=200_000)
    args = parser.parse_args()
    ids = session_ids(args.entries)
    at = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), telegram_backend="simulated", cache_backend="memory",
                            cache_max_entries=args.entries, _env_file=None)  # fmt: skip
        async with open_runtime(settings) as runtime:
            cache: VerdictCache = runtime.cache

            async def fill_cache() -> None:
                for i, session_id in enumerate(ids):  # one verdict object per entry, as in life
                    await cache.put(session_id, Verdict.alive(at, user_id=100_000 + i))

            async def plain_dict() -> dict[str, Verdict]:
                return {session_id: Verdict.alive(at, user_id=100_000 + i) for i, session_id in enumerate(ids)}

            cache_bytes = await traced(fill_cache) / args.entries
            dict_bytes = await traced(plain_dict) / args.entries
            assert (await cache.stats()).entries == args.entries, "every entry is held"
    print(f"entries: {args.entries}")
    print(f"cache_bytes_per_entry: {cache_bytes:.0f}")
    print(f"dict_bytes_per_entry: {dict_bytes:.0f}")
    print(f"cache_over_dict: {cache_bytes / dict_bytes:.2f}")
    print(f"cache_mb_at_1m: {cache_bytes * 1_000_000 / 2**20:.0f}")


if __name__ == "__main__":
    asyncio.run(main())
