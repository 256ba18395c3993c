"""SqlUnitOfWork: one connection, one transaction, optionally fenced by a lease."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tgsessions.adapters.sql.account_store import SqlAccountStore
from tgsessions.adapters.sql.api_key_store import SqlApiKeyStore
from tgsessions.adapters.sql.audit_log import SqlAuditLog
from tgsessions.adapters.sql.bulk_import import SqlBulkImport
from tgsessions.adapters.sql.errors import as_unavailable, translated
from tgsessions.adapters.sql.run_store import SqlRunStore
from tgsessions.adapters.sql.session_store import SqlSessionStore
from tgsessions.adapters.sql.tables import leases
from tgsessions.domain.errors import ConcurrentModification
from tgsessions.domain.ports import (
    AccountStore,
    ApiKeyStore,
    AuditLog,
    BulkImport,
    Cipher,
    Clock,
    Lease,
    RunStore,
    SessionStore,
)

_STILL_HELD = (
    leases.c.name == bindparam("b_name"),
    leases.c.holder == bindparam("b_holder"),
    leases.c.token == bindparam("b_token"),
    leases.c.expires_at > bindparam("b_now"),
)
# Built once: one of these ends every write under a phone lock.
_FENCE = update(leases).where(*_STILL_HELD).values(expires_at=leases.c.expires_at)
_FENCE_AND_RELEASE = update(leases).where(*_STILL_HELD).values(expires_at=bindparam("b_now"))


class SqlUnitOfWork:
    """``async with db.unit_of_work() as uow: ...; await uow.commit()``.

    The transaction starts with the first statement and ends with ``commit()``; whatever is not committed is rolled
    back when the block exits. With a ``fence``, ``commit()`` first runs, in the same transaction,
    ``UPDATE leases SET expires_at = expires_at WHERE <name, holder, token match> AND expires_at > now``: no row means
    the lease was lost, so everything is rolled back and ConcurrentModification raised. On PostgreSQL that update
    also locks the lease row until the commit, so a concurrent acquirer waits for us. With ``release`` the same
    statement sets ``expires_at`` to now: the commit that writes the last changes also gives the lease up.

    A database outage inside the block (connection refused or lost, pool timeout, "database is locked" past the
    busy timeout) leaves it as StorageUnavailable.

    On SQLite every transaction holds the database's write lock from its first statement (BEGIN IMMEDIATE): keep
    units of work short, never wait for the network inside one, and never open a second one inside the first.
    """

    # Typed as the ports so this class satisfies UnitOfWork; all the stores share the one connection and transaction.
    accounts: AccountStore  # a SqlAccountStore
    sessions: SessionStore  # a SqlSessionStore
    audit: AuditLog  # a SqlAuditLog
    bulk: BulkImport  # a SqlBulkImport
    keys: ApiKeyStore  # a SqlApiKeyStore
    runs: RunStore  # a SqlRunStore

    def __init__(
        self, engine: AsyncEngine, cipher: Cipher, clock: Clock, fence: Lease | None = None, release: bool = False
    ) -> None:
        if release and fence is None:
            raise ValueError("release needs a fence")
        self._engine = engine
        self._cipher = cipher
        self._clock = clock
        self._fence = fence
        self._release = release
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        if self._conn is not None:
            raise RuntimeError("a unit of work cannot be entered twice")
        async with translated():
            self._conn = await self._engine.connect()
        self.accounts = SqlAccountStore(self._conn, self._cipher)
        self.sessions = SqlSessionStore(self._conn, self._cipher)
        self.audit = SqlAuditLog(self._conn)
        self.bulk = SqlBulkImport(self._conn, self._cipher)
        self.keys = SqlApiKeyStore(self._conn)
        self.runs = SqlRunStore(self._conn)

        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn = self._conn, None
        outage = as_unavailable(exc) if exc is not None else None
        if conn is not None:
            try:
                if conn.in_transaction():
                    await conn.rollback()
                await conn.close()
            except Exception:
                if outage is None and exc is None:
                    raise
                await conn.invalidate()
        if outage is not None:
            raise outage from exc

    async def commit(self) -> None:
        conn = self._conn
        if conn is None:
            raise RuntimeError("commit() outside of the unit of work's block")
        if self._fence is not None:
            await self._check_fence(conn, self._fence)
        await conn.commit()

    async def rollback(self) -> None:
        if self._conn is not None and self._conn.in_transaction():
            await self._conn.rollback()

    async def _check_fence(self, conn: AsyncConnection, fence: Lease) -> None:
        statement = _FENCE_AND_RELEASE if self._release else _FENCE
        params = {"b_name": fence.name, "b_holder": fence.holder, "b_token": fence.token, "b_now": self._clock.now()}
        if (await conn.execute(statement, params)).rowcount != 1:
            await conn.rollback()
            raise ConcurrentModification(f"lease on {fence.name} was lost")
