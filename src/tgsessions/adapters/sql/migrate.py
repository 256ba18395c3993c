"""Schema migrations with Alembic, configured in code (no alembic.ini needed at run time).

``await upgrade(url)`` brings a database to the newest revision; ``await is_current(url)`` tells whether it is there;
``head_revision()`` names the newest revision shipped with this code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from tgsessions.adapters.sql.engine import create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config pointing at the packaged migrations folder."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations are packaged")
    return head


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (the newest by default), in one transaction."""
    config = alembic_config(url)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    await _run_sync(url, run)


async def downgrade(url: str, revision: str = "base") -> None:
    """Migrate down to ``revision`` (``"base"``: drop everything)."""
    config = alembic_config(url)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    await _run_sync(url, run)


async def current_revision(url: str) -> str | None:
    """The revision the database is at; None for an empty (never migrated) database."""
    found: list[str | None] = []

    def run(connection: Connection) -> None:
        found.append(MigrationContext.configure(connection).get_current_revision())

    await _run_sync(url, run)
    return found[0]


async def is_current(url: str) -> bool:
    return await current_revision(url) == head_revision()


async def _run_sync(url: str, work: Callable[[Connection], None]) -> None:
    engine: AsyncEngine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(work)
    finally:
        await engine.dispose()
