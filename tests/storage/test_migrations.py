"""Alembic migrations: the stairway (up, down, up) on SQLite and PostgreSQL, and no drift from tables.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from tests.support.db_fixtures import create_pg_database, database_url_with_name, drop_pg_database
from tgsessions.adapters.sql.engine import create_engine
from tgsessions.adapters.sql.migrate import current_revision, downgrade, head_revision, is_current, upgrade
from tgsessions.adapters.sql.tables import metadata

TABLES = {"accounts", "sessions", "events", "leases", "api_keys", "maintenance_runs", "account_deletions", "meta"}
TABLES_0001 = {"accounts", "sessions", "events", "leases"}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path: Path):
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'stairway.db'}"
        return
    postgres_url = request.getfixturevalue("postgres_url")
    name = create_pg_database(postgres_url)
    try:
        yield database_url_with_name(postgres_url, name)
    finally:
        drop_pg_database(postgres_url, name)


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def column_names(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            columns = await conn.run_sync(lambda sync: inspect(sync).get_columns(table))
        return {column["name"] for column in columns}
    finally:
        await engine.dispose()


async def schema_drift(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
            )
    finally:
        await engine.dispose()


async def test_stairway_up_down_up(empty_url):
    assert await current_revision(empty_url) is None
    assert not await is_current(empty_url)

    await upgrade(empty_url)
    assert await table_names(empty_url) >= TABLES
    assert await current_revision(empty_url) == head_revision() == "0006"
    assert await is_current(empty_url)

    await downgrade(empty_url, "base")
    assert not (TABLES & await table_names(empty_url))
    assert await current_revision(empty_url) is None

    await upgrade(empty_url)
    assert await table_names(empty_url) >= TABLES
    assert await is_current(empty_url)
    await upgrade(empty_url)  # idempotent at head
    assert await current_revision(empty_url) == "0006"


async def test_stairway_one_revision_at_a_time(empty_url):
    await upgrade(empty_url, "0001")
    assert await table_names(empty_url) >= TABLES_0001
    assert not ({"api_keys", "maintenance_runs"} & await table_names(empty_url))

    await upgrade(empty_url, "0002")
    assert await table_names(empty_url) >= TABLES - {"account_deletions", "meta"}
    assert await current_revision(empty_url) == "0002"

    await upgrade(empty_url, "0003")
    assert {"last_account_id", "holder"} <= await column_names(empty_url, "maintenance_runs")
    await downgrade(empty_url, "0002")
    assert not ({"last_account_id", "holder"} & await column_names(empty_url, "maintenance_runs"))
    assert await current_revision(empty_url) == "0002"

    await downgrade(empty_url, "0001")
    names = await table_names(empty_url)
    assert names >= TABLES_0001
    assert not ({"api_keys", "maintenance_runs"} & names)
    assert await current_revision(empty_url) == "0001"

    await upgrade(empty_url, "0005")
    assert "account_deletions" in await table_names(empty_url)
    await downgrade(empty_url, "0004")
    assert "account_deletions" not in await table_names(empty_url)

    await upgrade(empty_url, "0006")
    assert {"account_deletions", "meta"} <= await table_names(empty_url)
    await downgrade(empty_url, "0005")
    assert "meta" not in await table_names(empty_url)
    assert await current_revision(empty_url) == "0005"

    await upgrade(empty_url)
    assert await schema_drift(empty_url) == []


async def test_migrations_match_the_table_definitions(empty_url):
    await upgrade(empty_url)
    assert await schema_drift(empty_url) == []


def test_migrations_ship_inside_the_package():
    from tgsessions.adapters.sql import migrate

    folder = migrate.MIGRATIONS
    assert (folder / "env.py").is_file()
    assert (folder / "script.py.mako").is_file()
    assert (folder / "__init__.py").is_file()
    assert (folder / "versions" / "__init__.py").is_file()
    assert (folder / "versions" / "0001_initial.py").is_file()
    assert (folder / "versions" / "0002_keys_and_runs.py").is_file()
    assert (folder / "versions" / "0003_run_cursor.py").is_file()
