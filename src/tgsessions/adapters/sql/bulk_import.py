"""SqlBulkImport: the BulkImport port over SQLAlchemy Core, inside one connection's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tgsessions.adapters.sql import mapping
from tgsessions.adapters.sql.integrity import DUPLICATE_SESSION_MESSAGE, violates_unique
from tgsessions.adapters.sql.tables import accounts, sessions
from tgsessions.domain.errors import AccountExists, InvalidInput
from tgsessions.domain.model import Account, Role, Session
from tgsessions.domain.ports import Cipher

_IN_CHUNK = 500  # values per IN (...) list: well under SQLite's and asyncpg's parameter limits
SQLITE_CACHE_KIB = 16384  # SQLite's page cache once bulk work used the connection (its default is 2 MB)
_CACHE_SIZED = "tgsessions.bulk_cache_sized"


def _chunks(values: Sequence[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(values))
    return [unique[i : i + _IN_CHUNK] for i in range(0, len(unique), _IN_CHUNK)]


def account_rows(batch: Sequence[Account], cipher: Cipher) -> list[dict[str, Any]]:
    """The column values of a batch of accounts (mapping's own; each distinct identity is serialised once, see
    ``mapping.identity_to_json``)."""
    return [mapping.account_values(account, cipher) for account in batch]


def session_rows(batch: Sequence[Session], cipher: Cipher) -> list[dict[str, Any]]:
    """The column values of a batch of sessions (mapping's own)."""
    return [mapping.session_values(session, cipher) for session in batch]


class SqlBulkImport:
    """Batches of accounts and sessions in a few statements: reads by chunked ``IN`` lists; inserts as multi-row
    ``INSERT ... VALUES (...), (...) RETURNING id, <unique key>`` (SQLAlchemy's "insertmanyvalues", a few hundred
    rows a statement), inside a savepoint so that a failed batch inserts nothing and leaves the unit of work usable.

    The ids come back by their row's unique key (phone, session_id), not by position: asking for them in parameter
    order (``sort_by_parameter_order``) makes SQLAlchemy fall back to one INSERT per row on SQLite."""

    def __init__(self, connection: AsyncConnection, cipher: Cipher) -> None:
        self._conn = connection
        self._cipher = cipher

    async def _size_cache(self) -> None:
        """On SQLite, a page cache that holds one batch's working set, set once per connection (the pool keeps it,
        and the mark in its ``info``): with the default 2 MB, the index pages a batch's lookups read (session ids are
        random, so each one is another page of their unique index) are gone again when its inserts need them."""
        if self._conn.dialect.name != "sqlite" or self._conn.info.get(_CACHE_SIZED):
            return
        await self._conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        self._conn.info[_CACHE_SIZED] = True

    async def accounts_by_phone(self, phones: Sequence[str]) -> list[Account]:
        found: list[Account] = []
        for chunk in _chunks(phones):
            await self._size_cache()
            rows = (await self._conn.execute(select(accounts).where(accounts.c.phone.in_(chunk)))).mappings().all()
            found += [mapping.account_from_row(row, self._cipher) for row in rows]
        return found

    async def sessions_by_id(self, session_ids: Sequence[str]) -> list[Session]:
        found: list[Session] = []
        for chunk in _chunks(session_ids):
            await self._size_cache()
            statement = select(sessions).where(sessions.c.session_id.in_(chunk))
            rows = (await self._conn.execute(statement)).mappings().all()
            found += [mapping.session_from_row(row, self._cipher) for row in rows]
        return found

    async def add_accounts(self, batch: Sequence[Account]) -> None:
        if not batch:
            return
        await self._size_cache()
        try:
            async with self._conn.begin_nested():
                ids = await self._insert(accounts, "phone", account_rows(batch, self._cipher))
        except IntegrityError as exc:
            if violates_unique(exc, "accounts", "phone"):
                raise AccountExists("(one of a batch)") from None
            raise
        for account in batch:
            account.id = ids[account.phone]

    async def add_sessions(self, batch: Sequence[Session]) -> None:
        if not batch:
            return
        await self._size_cache()
        try:
            async with self._conn.begin_nested():
                ids = await self._insert(sessions, "session_id", session_rows(batch, self._cipher))
        except IntegrityError as exc:
            if violates_unique(exc, "sessions", "session_id"):
                raise InvalidInput(DUPLICATE_SESSION_MESSAGE, field="session") from None
            raise
        for session in batch:
            session.id = ids[session.session_id]
            if session.role is Role.RETIRED:
                session.string = None

    async def _insert(self, table: Table, key: str, rows: list[dict[str, Any]]) -> dict[Any, int]:
        """Insert ``rows`` as multi-row ``INSERT ... RETURNING id, <key>`` statements; the new ids by ``key``."""
        result = await self._conn.execute(insert(table).returning(table.c.id, table.c[key]), rows)
        return {found: row_id for row_id, found in result.all()}
