"""The bare reference of bench/http.py: the least a fetch endpoint can do, with the raw driver, no project code.

``GET /archived-clients/fetch/{mobile}`` on a minimal FastAPI app: an in-memory key check (a dict lookup of the
``Authorization`` header), ONE indexed SELECT of the account's primary ciphertext, AES-GCM decrypt (``cryptography``,
bound to the row as the service binds its ciphertexts), ONE audit INSERT and its COMMIT, then a JSON answer. The string
is only returned once its audit row is committed, as the service promises.

- SQLite: aiosqlite, ONE connection (the service's engine holds one too) with an ``asyncio.Lock`` around
  select + insert + commit, and the service's pragmas (journal_mode=WAL, synchronous=NORMAL, ...).
- PostgreSQL: an asyncpg pool as large as the service's SQLAlchemy pool can grow (5 + 10 overflow); the INSERT runs in
  autocommit, so it is its own COMMIT.

It has its own copy of a minimal schema (tables ``ref_accounts``, ``ref_sessions``, ``ref_audit``) holding the same
fleet of phones as the service. :func:`no_op_app` is the do-nothing ASGI endpoint that shows what the generator and
uvicorn reach when the app costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

# The service's SQLite engine runs these on every connection (tgsessions/adapters/sql/engine.py): the same here, so
# both write with the same journal and the same durability.
SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA busy_timeout=10000", "PRAGMA foreign_keys=ON",
                  "PRAGMA synchronous=NORMAL")  # fmt: skip
PG_POOL_MIN, PG_POOL_MAX = 5, 15  # SQLAlchemy's default pool: 5 connections, 10 more in overflow
SELECT = ("SELECT s.id, s.session_id, s.ciphertext, s.created_at FROM ref_sessions s JOIN ref_accounts a "
          "ON a.id = s.account_id WHERE a.phone = {p} AND s.role = 'primary'")  # fmt: skip
SESSION_ROW = ("INSERT INTO ref_sessions (id, account_id, role, session_id, ciphertext, created_at) "
               "VALUES ({p[0]}, {p[1]}, 'primary', {p[2]}, {p[3]}, {p[4]})")  # fmt: skip
INSERT = ("INSERT INTO ref_audit (account_session_id, action, actor, session_id, at) "
          "VALUES ({p1}, 'handed_out', {p2}, {p3}, {p4})")  # fmt: skip


@dataclass(frozen=True)
class Fleet:
    """The phones both servers hold, the reference's key and its API key (written to a JSON file by bench/http.py)."""

    phones: list[str]
    aes_key: bytes
    api_key: str

    @staticmethod
    def generate(count: int) -> Fleet:
        phones = [f"7996{i:07d}" for i in range(count)]
        return Fleet(phones, AESGCM.generate_key(bit_length=256), f"ref_{secrets.token_urlsafe(32)}")

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"phones": self.phones, "aes_key": self.aes_key.hex(), "api_key": self.api_key}))

    @staticmethod
    def load(path: Path) -> Fleet:
        data = json.loads(path.read_text())
        return Fleet(data["phones"], bytes.fromhex(data["aes_key"]), data["api_key"])


def associated_data(session_row: int, session_id: str) -> bytes:
    return f"ref_sessions:{session_row}:{session_id}".encode()


class SqliteStore:
    """One aiosqlite connection; one lock around the SELECT, the INSERT and the COMMIT of a request."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self.lock = asyncio.Lock()

    @staticmethod
    async def open(path: str) -> SqliteStore:
        conn = await aiosqlite.connect(path)
        for pragma in SQLITE_PRAGMAS:
            await conn.execute(pragma)
        return SqliteStore(conn)

    async def handed_out(self, phone: str, actor: str, at: datetime) -> Sequence[Any] | None:
        async with self.lock:
            rows = list(await self.conn.execute_fetchall(SELECT.format(p="?"), (phone,)))
            if not rows:
                return None
            row = rows[0]
            await self.conn.execute(INSERT.format(p1="?", p2="?", p3="?", p4="?"), (row[0], actor, row[1],
                                                                                     at.isoformat()))  # fmt: skip
            await self.conn.commit()
            return row

    async def aclose(self) -> None:
        await self.conn.close()


class PostgresStore:
    """An asyncpg pool; the SELECT, then the INSERT in autocommit (its own COMMIT)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @staticmethod
    async def open(dsn: str) -> PostgresStore:
        return PostgresStore(await asyncpg.create_pool(dsn, min_size=PG_POOL_MIN, max_size=PG_POOL_MAX))

    async def handed_out(self, phone: str, actor: str, at: datetime) -> Sequence[Any] | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(SELECT.format(p="$1"), phone)
            if row is None:
                return None
            await conn.execute(INSERT.format(p1="$1", p2="$2", p3="$3", p4="$4"), row[0], actor, row[1], at)
            return tuple(row)

    async def aclose(self) -> None:
        await self.pool.close()


def dsn_of(database_url: str) -> str:
    """``postgresql+asyncpg://...`` (SQLAlchemy's spelling) as asyncpg's ``postgresql://...``."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def open_store(database_url: str) -> SqliteStore | PostgresStore:
    if database_url.startswith("sqlite"):
        return await SqliteStore.open(database_url.split(":///", 1)[1])
    return await PostgresStore.open(dsn_of(database_url))


def reference_app(database_url: str, fleet: Fleet) -> FastAPI:
    """The bare reference app over its schema at ``database_url`` (seeded by :func:`seed`)."""
    keys = {f"Bearer {fleet.api_key}": "ref-bench"}  # the header as sent -> the key's actor
    cipher = AESGCM(fleet.aes_key)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store = await open_store(database_url)
        try:
            yield
        finally:
            await app.state.store.aclose()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/archived-clients/fetch/{mobile}")
    async def fetch(mobile: str, request: Request) -> Any:
        actor = keys.get(request.headers.get("authorization", ""))
        if actor is None:
            return JSONResponse({"error": "unauthenticated"}, status_code=401)
        row = await request.app.state.store.handed_out(mobile, actor, datetime.now(UTC))
        if row is None:
            return JSONResponse({"error": "unknown_phone"}, status_code=404)
        session_row, session_id, ciphertext, created_at = row
        plain = cipher.decrypt(ciphertext[:12], ciphertext[12:], associated_data(session_row, session_id))
        return {"mobile": mobile, "session": plain.decode(), "sessionId": session_id, "role": "primary",
                "createdAt": str(created_at)}  # fmt: skip

    return app


async def seed(database_url: str, fleet: Fleet) -> None:
    """The reference's schema and one account with one encrypted primary (a 353-character string) per phone."""
    sqlite = database_url.startswith("sqlite")
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT" if sqlite else "BIGSERIAL PRIMARY KEY"
    blob, stamp = ("BLOB", "TEXT") if sqlite else ("BYTEA", "TIMESTAMPTZ")
    ddl = [
        "DROP TABLE IF EXISTS ref_audit", "DROP TABLE IF EXISTS ref_sessions", "DROP TABLE IF EXISTS ref_accounts",
        f"CREATE TABLE ref_accounts (id {serial}, phone TEXT NOT NULL UNIQUE)",
        f"CREATE TABLE ref_sessions (id {serial}, account_id BIGINT NOT NULL REFERENCES ref_accounts(id), role TEXT "
        f"NOT NULL, session_id TEXT NOT NULL UNIQUE, ciphertext {blob} NOT NULL, created_at {stamp} NOT NULL)",
        "CREATE INDEX ref_sessions_account_role ON ref_sessions (account_id, role)",
        f"CREATE TABLE ref_audit (id {serial}, account_session_id BIGINT NOT NULL, action TEXT NOT NULL, "
        f"actor TEXT NOT NULL, session_id TEXT, at {stamp} NOT NULL)",
    ]  # fmt: skip
    cipher = AESGCM(fleet.aes_key)
    now = datetime.now(UTC)
    rows = []
    for number, phone in enumerate(fleet.phones, start=1):
        session_id = secrets.token_hex(16)
        nonce = os.urandom(12)
        string = "1" + secrets.token_urlsafe(264)[:352]
        rows.append(
            (
                number,
                phone,
                session_id,
                nonce + cipher.encrypt(nonce, string.encode(), associated_data(number, session_id)),
            )
        )
    if sqlite:
        await _seed_sqlite(database_url.split(":///", 1)[1], ddl, rows, now.isoformat())
    else:
        await _seed_postgres(dsn_of(database_url), ddl, rows, now)


async def _seed_sqlite(path: str, ddl: list[str], rows: list[tuple[int, str, str, bytes]], now: str) -> None:
    async with aiosqlite.connect(path) as conn:
        for statement in ddl:
            await conn.execute(statement)
        await conn.executemany("INSERT INTO ref_accounts (id, phone) VALUES (?, ?)", [(r[0], r[1]) for r in rows])
        await conn.executemany(SESSION_ROW.format(p=("?",) * 5), [(r[0], r[0], r[2], r[3], now) for r in rows])
        await conn.commit()


async def _seed_postgres(dsn: str, ddl: list[str], rows: list[tuple[int, str, str, bytes]], now: datetime) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in ddl:
            await conn.execute(statement)
        await conn.executemany("INSERT INTO ref_accounts (id, phone) VALUES ($1, $2)", [(r[0], r[1]) for r in rows])
        await conn.executemany(SESSION_ROW.format(p=("$1", "$2", "$3", "$4", "$5")),
                               [(r[0], r[0], r[2], r[3], now) for r in rows])  # fmt: skip
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


ASGIReceive = Callable[[], Awaitable[dict[str, Any]]]
ASGISend = Callable[[dict[str, Any]], Awaitable[None]]
NO_OP_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"2")]


async def no_op_app(scope: dict[str, Any], receive: ASGIReceive, send: ASGISend) -> None:
    """A bare ASGI endpoint answering 200 ``ok`` to anything: what the generator and uvicorn reach together."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": NO_OP_HEADERS})
    await send({"type": "http.response.body", "body": b"ok"})
