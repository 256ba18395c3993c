"""SqlBulkImport: the BulkImport port over SQLAlchemy Core, inside one connection's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tgsessions.adapters.sql import mapping
from tgsessions.adapters.sql.integrity import DUPLICATE_SESSION_MESSAGE, violates_unique
from tgsessions.adapters.sql.tables import accounts, sessions
from tgsessions.domain.errors import AccountExists, InvalidInput
from tgsessions.domain.model import Account, Role, Session
from tgsessions.domain.ports import Cipher

_IN_CHUNK = 500  # values per IN (...) list: well under SQLite's and asyncpg's parameter limits


def _chunks(values: Sequence[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(values))
    return [unique[i : i + _IN_CHUNK] for i in range(0, len(unique), _IN_CHUNK)]


class SqlBulkImport:
    """Batches of accounts and sessions in a few statements: reads by chunked ``IN`` lists, inserts as one
    executemany each, inside a savepoint so that a failed batch inserts nothing and leaves the unit of work usable."""

    def __init__(self, connection: AsyncConnection, cipher: Cipher) -> None:
        self._conn = connection
        self._cipher = cipher

    async def accounts_by_phone(self, phones: Sequence[str]) -> list[Account]:
        found: list[Account] = []
        for chunk in _chunks(phones):
            rows = (await self._conn.execute(select(accounts).where(accounts.c.phone.in_(chunk)))).mappings().all()
            found += [mapping.account_from_row(row, self._cipher) for row in rows]
        return found

    async def sessions_by_id(self, session_ids: Sequence[str]) -> list[Session]:
        found: list[Session] = []
        for chunk in _chunks(session_ids):
            statement = select(sessions).where(sessions.c.session_id.in_(chunk))
            rows = (await self._conn.execute(statement)).mappings().all()
            found += [mapping.session_from_row(row, self._cipher) for row in rows]
        return found

    async def add_accounts(self, batch: Sequence[Account]) -> None:
        if not batch:
            return
        statement = insert(accounts).returning(accounts.c.id, sort_by_parameter_order=True)
        try:
            async with self._conn.begin_nested():
                result = await self._conn.execute(statement, [mapping.account_values(a, self._cipher) for a in batch])
                ids = result.scalars().all()
        except IntegrityError as exc:
            if violates_unique(exc, "accounts", "phone"):
                raise AccountExists("(one of a batch)") from None
            raise
        for account, account_id in zip(batch, ids, strict=True):
            account.id = account_id

    async def add_sessions(self, batch: Sequence[Session]) -> None:
        if not batch:
            return
        statement = insert(sessions).returning(sessions.c.id, sort_by_parameter_order=True)
        try:
            async with self._conn.begin_nested():
                result = await self._conn.execute(statement, [mapping.session_values(s, self._cipher) for s in batch])
                ids = result.scalars().all()
        except IntegrityError as exc:
            if violates_unique(exc, "sessions", "session_id"):
                raise InvalidInput(DUPLICATE_SESSION_MESSAGE, field="session") from None
            raise
        for session, session_id in zip(batch, ids, strict=True):
            session.id = session_id
            if session.role is Role.RETIRED:
                session.string = None
