"""The baselines of bench/factory.py, done with the raw drivers (aiosqlite, asyncpg) and nothing of the project.

``RawWarmFetch`` is the least a warm fetch can do against the service's own database: ONE indexed SELECT of the
account and its primary (id, session id, ciphertext), ONE audit INSERT into ``events`` and its COMMIT. On SQLite it
opens its own aiosqlite connection with the service's pragmas (WAL, synchronous=NORMAL: the same durability); on
PostgreSQL it uses one asyncpg connection in autocommit, so the INSERT is its own commit (two round trips, the
minimum). ``add_filler_accounts`` grows the fleet with rows written by plain SQL (they never decrypt: their
ciphertexts are bound to other rows; only their index entries matter for the latency-against-size figure).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import asyncpg

SELECT_PRIMARY = (
    "SELECT a.id, s.session_id, s.string_ct FROM accounts a JOIN sessions s ON s.account_id = a.id "
    "AND s.role = 'primary' WHERE a.phone = {p}"
)
INSERT_EVENT = (
    "INSERT INTO events (account_id, action, actor, outcome, at, session_id, reason, detail) "
    "VALUES ({p1}, 'handed_out', 'bench', 'ok', {p2}, {p3}, NULL, '{{\"how\": \"cached\"}}')"
)
SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=10000")


class RawWarmFetch:
    """``await fetch(phone)``: SELECT + INSERT + COMMIT with the raw driver of ``url`` (a SQLAlchemy-style URL)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._sqlite: aiosqlite.Connection | None = None
        self._pg: Any = None

    async def __aenter__(self) -> RawWarmFetch:
        if self._url.startswith("sqlite"):
            self._sqlite = await aiosqlite.connect(self._url.split(":///", 1)[1])
            for pragma in SQLITE_PRAGMAS:
                await self._sqlite.execute(pragma)
        else:
            self._pg = await asyncpg.connect(asyncpg_dsn(self._url))
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._sqlite is not None:
            await self._sqlite.close()
        if self._pg is not None:
            await self._pg.close()

    async def fetch(self, phone: str) -> bytes:
        at = datetime.now(UTC)
        if self._sqlite is not None:
            async with self._sqlite.execute(SELECT_PRIMARY.format(p="?"), (phone,)) as cursor:
                account_id, session_id, string_ct = await cursor.fetchone()  # type: ignore[misc]
            await self._sqlite.execute(INSERT_EVENT.format(p1="?", p2="?", p3="?"),
                                       (account_id, at.isoformat(), session_id))  # fmt: skip
            await self._sqlite.commit()
            return bytes(string_ct)
        row = await self._pg.fetchrow(SELECT_PRIMARY.format(p="$1"), phone)
        await self._pg.execute(INSERT_EVENT.format(p1="$1", p2="$2", p3="$3"), row["id"], at, row["session_id"])
        return bytes(row["string_ct"])


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def rate(call: Any, args: list[str], seconds: float) -> float:
    """Calls per second of ``await call(arg)``, one at a time, cycling through ``args``, for ``seconds``."""
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        await call(args[count % len(args)])
        count += 1
    return count / (time.perf_counter() - started)


async def add_filler_accounts(url: str, start: int, count: int) -> None:
    """``count`` more accounts (phones 7700<start..>), each with a primary row, written by plain SQL in bulk."""
    now = datetime.now(UTC)
    identity = json.dumps({"api_id": 1, "api_hash": "x", "device_model": "bench"})
    chunk = 50_000
    naive = now.replace(tzinfo=None).isoformat(sep=" ")  # how the service's UtcDateTime stores it on SQLite
    if url.startswith("sqlite"):
        async with aiosqlite.connect(url.split(":///", 1)[1]) as db:
            for first in range(start, start + count, chunk):
                n = min(chunk, start + count - first)
                await db.executemany(
                    "INSERT INTO accounts (phone, identity, state, frozen, created_at, updated_at, version) "
                    "VALUES (?, ?, 'active', 0, ?, ?, 1)",
                    [(f"7700{first + i:08d}", identity, naive, naive) for i in range(n)],
                )
                await db.execute(_FILL_SESSIONS_SQLITE, (identity, naive, naive, f"7700{first:08d}"))
                await db.commit()
        return
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for first in range(start, start + count, chunk):
            n = min(chunk, start + count - first)
            await conn.execute(
                "INSERT INTO accounts (phone, identity, state, frozen, created_at, updated_at, version) "
                "SELECT '7700' || lpad(g::text, 8, '0'), $1, 'active', false, $2, $2, 1 "
                "FROM generate_series($3::int, $4::int) g",
                identity, now, first, first + n - 1,
            )  # fmt: skip
            await conn.execute(_FILL_SESSIONS_PG, identity, now, f"7700{first:08d}")
        await conn.execute("ANALYZE accounts; ANALYZE sessions")
    finally:
        await conn.close()


_FILL_SESSIONS_SQLITE = (
    "INSERT INTO sessions (account_id, session_id, role, origin, string_ct, identity, created_at, role_since, "
    "consecutive_failures) SELECT id, 'filler-' || id, 'primary', 'imported', x'00', ?, ?, ?, 0 FROM accounts "
    "WHERE phone >= ? AND id NOT IN (SELECT account_id FROM sessions)"
)
_FILL_SESSIONS_PG = (
    "INSERT INTO sessions (account_id, session_id, role, origin, string_ct, identity, created_at, role_since, "
    "consecutive_failures) SELECT a.id, 'filler-' || a.id, 'primary', 'imported', '\\x00'::bytea, $1, $2, $2, 0 "
    "FROM accounts a WHERE a.phone >= $3 AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.account_id = a.id)"
)
