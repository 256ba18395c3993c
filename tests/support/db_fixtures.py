"""Database fixtures (a pytest plugin registered in tests/conftest.py).

* ``cipher``: an AesGcmCipher over a fresh key ring.
* ``database``: a fresh, empty Database for each of ``memory``, ``sqlite`` and ``postgresql``.
* ``sql_database``: the same for ``sqlite`` and ``postgresql`` only; ``open_same_database`` opens a second,
  independent SqlDatabase (own engine and pool) on the same database, as another process would.
* The test pyramid: a directory's conftest narrows ``database`` (or ``sql_database``) with
  ``database = database_fixture("memory")``; a module or test widens it again with ``on_backends(...)``
  (``pytestmark = on_backends(*ALL_BACKENDS)``), and the PostgreSQL smoke path is marked ``postgresql_smoke``.
* ``pg_test_url``: one throwaway PostgreSQL database per test session (``tgs_test_<hex>``), migrated once, dropped
  at the end. PostgreSQL being unreachable fails the tests that need it; nothing is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tgsessions.adapters.crypto import AesGcmCipher, KeyRing
from tgsessions.adapters.sql import SqlDatabase
from tgsessions.adapters.sql.migrate import upgrade
from tgsessions.adapters.sql.tables import ALL_TABLES
from tgsessions.testing.clock import FakeClock
from tgsessions.testing.memory_db import InMemoryDatabase

T = TypeVar("T")
ALL_BACKENDS = ["memory", "sqlite", "postgresql"]
SQL_BACKENDS = ["sqlite", "postgresql"]


def run_blocking(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a private event loop in another thread (safe inside a running loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def database_url_with_name(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _admin(postgres_url: str, statement: str) -> None:
    engine = create_async_engine(postgres_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def create_pg_database(postgres_url: str) -> str:
    """CREATE DATABASE tgs_test_<hex> next to ``postgres_url``; returns its name. Fails the test if unreachable."""
    name = f"tgs_test_{secrets.token_hex(6)}"
    try:
        run_blocking(lambda: _admin(postgres_url, f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        where = make_url(postgres_url).render_as_string(hide_password=True)
        pytest.fail(f"PostgreSQL is unreachable or refused CREATE DATABASE at {where}: {type(exc).__name__}")
    return name


def drop_pg_database(postgres_url: str, name: str) -> None:
    run_blocking(lambda: _admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_test_url(postgres_url: str) -> Iterator[str]:
    name = create_pg_database(postgres_url)
    url = database_url_with_name(postgres_url, name)
    try:
        run_blocking(lambda: upgrade(url))
        yield url
    finally:
        drop_pg_database(postgres_url, name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    run_blocking(lambda: upgrade(sqlite_url(path)))
    return path


@pytest.fixture
def cipher() -> AesGcmCipher:
    return AesGcmCipher(KeyRing.generate())


async def _open_fresh(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, cipher: AesGcmCipher, clock: FakeClock
) -> SqlDatabase:
    if kind == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "tgsessions.db"
        shutil.copyfile(template, path)
        return await SqlDatabase.open(sqlite_url(path), cipher=cipher, clock=clock)
    url: str = request.getfixturevalue("pg_test_url")
    db = await SqlDatabase.open(url, cipher=cipher, clock=clock)
    names = ", ".join(table.name for table in ALL_TABLES)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    return db


@contextlib.asynccontextmanager
async def open_database(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, cipher: AesGcmCipher, clock: FakeClock
) -> AsyncIterator[InMemoryDatabase | SqlDatabase]:
    """A fresh, empty database of ``kind`` (``memory``, ``sqlite`` or ``postgresql``), closed on exit."""
    if kind == "memory":
        yield InMemoryDatabase(clock)
        return
    db = await _open_fresh(kind, request, tmp_path, cipher, clock)
    try:
        yield db
    finally:
        await db.aclose()


def database_fixture(*backends: str, name: str = "database") -> Any:
    """A fixture ``name`` giving a fresh database for each of ``backends``: a conftest narrows ``database`` or
    ``sql_database`` for its directory with ``database = database_fixture("memory")``."""
    unknown = set(backends) - set(ALL_BACKENDS)
    assert backends and not unknown, f"unknown backends: {sorted(unknown)}"

    @pytest.fixture(name=name, params=list(backends), ids=list(backends))
    async def fresh_database(
        request: pytest.FixtureRequest, tmp_path: Path, cipher: AesGcmCipher, clock: FakeClock
    ) -> AsyncIterator[InMemoryDatabase | SqlDatabase]:
        async with open_database(request.param, request, tmp_path, cipher, clock) as db:
            yield db

    return fresh_database


def on_backends(*backends: str, fixture: str = "database") -> pytest.MarkDecorator:
    """Runs a test (or, as ``pytestmark``, a module) on ``backends``, whatever its directory's conftest narrowed
    ``fixture`` to; the test ids keep their ``[memory]``/``[sqlite]``/``[postgresql]`` suffix."""
    unknown = set(backends) - set(ALL_BACKENDS)
    assert backends and not unknown, f"unknown backends: {sorted(unknown)}"
    return pytest.mark.parametrize(fixture, list(backends), ids=list(backends), indirect=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgresql_smoke: the one end-to-end HTTP path on PostgreSQL (select with -m postgresql_smoke)"
    )


database = database_fixture(*ALL_BACKENDS)
sql_database = database_fixture(*SQL_BACKENDS, name="sql_database")


@pytest.fixture
async def open_same_database(
    sql_database: SqlDatabase, cipher: AesGcmCipher, clock: FakeClock
) -> AsyncIterator[Callable[[], Awaitable[SqlDatabase]]]:
    """``await open_same_database()``: another SqlDatabase with its own engine on ``sql_database``'s database."""
    opened: list[SqlDatabase] = []
    url = sql_database.engine.url.render_as_string(hide_password=False)

    async def open_second() -> SqlDatabase:
        db = await SqlDatabase.open(url, cipher=cipher, clock=clock)
        opened.append(db)
        return db

    try:
        yield open_second
    finally:
        for db in opened:
            await db.aclose()
