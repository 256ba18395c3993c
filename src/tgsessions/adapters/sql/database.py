"""SqlDatabase: the Database port over SQLAlchemy (async), for SQLite and PostgreSQL.

URLs: ``sqlite+aiosqlite:///relative/or/absolute/path.db`` (four slashes for an absolute path) or
``postgresql+asyncpg://user:password@host:5432/dbname``. The schema is managed by Alembic (see migrate.py);
``open`` does not create tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tgsessions.adapters.sql import warm_hand_out
from tgsessions.adapters.sql.engine import backend_of, create_engine
from tgsessions.adapters.sql.errors import translated
from tgsessions.adapters.sql.leases import SqlLeaseStore
from tgsessions.adapters.sql.unit_of_work import SqlUnitOfWork
from tgsessions.domain.ports import Cipher, Clock, Database, Lease, LeaseStore, UnitOfWork
from tgsessions.domain.warm_hand_out import WarmAnswer, WarmRequest, hand_out_in


class SqlDatabase:
    """Owns one engine (connection pool). Create with ``await SqlDatabase.open(url, cipher=..., clock=...)`` and
    close with ``await db.aclose()``. ``backend`` is ``"sqlite"`` or ``"postgresql"``."""

    def __init__(self, engine: AsyncEngine, *, cipher: Cipher, clock: Clock) -> None:
        self.engine = engine
        self.backend: str = backend_of(engine.url)
        self.url = engine.url.render_as_string(hide_password=True)
        self._cipher = cipher
        self._clock = clock
        self._leases = SqlLeaseStore(engine, clock)

    @classmethod
    async def open(cls, url: str, *, cipher: Cipher, clock: Clock, **engine_options: Any) -> SqlDatabase:
        """Create the engine and check that the database answers (StorageUnavailable when it does not)."""
        engine = create_engine(url, **engine_options)
        database = cls(engine, cipher=cipher, clock=clock)
        try:
            await database.ping()
        except BaseException:
            await engine.dispose()
            raise
        return database

    async def aclose(self) -> None:
        await self.engine.dispose()

    def unit_of_work(self, *, fence: Lease | None = None, release: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self._cipher, self._clock, fence, release)

    @property
    def leases(self) -> SqlLeaseStore:
        return self._leases

    async def hand_out_warm(self, requests: Sequence[WarmRequest], now: datetime) -> list[WarmAnswer]:
        answers = await warm_hand_out.hand_out_warm(self.engine, self._cipher, requests, now)
        if answers is not None:
            return answers
        async with self.unit_of_work() as uow:
            return await hand_out_in(uow, requests, now)

    async def ping(self) -> None:
        """Run ``SELECT 1``; StorageUnavailable when the database is unreachable."""
        async with translated(), self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    def __repr__(self) -> str:
        return f"SqlDatabase({self.url!r})"


def _conforms(db: SqlDatabase) -> tuple[Database, UnitOfWork, LeaseStore]:
    """Checked by mypy: SqlDatabase, its units of work and its lease store implement the ports."""
    return db, db.unit_of_work(), db.leases
