"""SqlLeaseStore: time-limited claims on names in the ``leases`` table, with fencing tokens.

``try_acquire`` is one atomic ``INSERT ... ON CONFLICT (name) DO UPDATE ... WHERE <expired or ours> RETURNING
token``: it takes the name when it is new, expired or already held by ``holder``. The token increases every time the
name is (re)taken after it was free; renewing a lease that is still held keeps its token, so units of work fenced
with it stay valid. On PostgreSQL the upsert waits for the row lock that a fenced commit holds (see
unit_of_work.py), so a lease cannot change hands in the middle of a fenced commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import BindParameter

from tgsessions.adapters.sql.errors import translated
from tgsessions.adapters.sql.tables import leases
from tgsessions.domain.ports import Clock, Lease


class SqlLeaseStore:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        insert: Any = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        # Built once (these run for every locked operation); values come as bound parameters.
        holder: BindParameter[str] = bindparam("b_holder")
        now: BindParameter[datetime] = bindparam("b_now")
        expires_at: BindParameter[datetime] = bindparam("b_expires_at")
        still_ours = and_(leases.c.holder == holder, leases.c.expires_at > now)
        self._acquire = (
            insert(leases)
            .values(name=bindparam("b_name"), holder=holder, token=1, expires_at=expires_at)
            .on_conflict_do_update(
                index_elements=[leases.c.name],
                set_={
                    "holder": holder,
                    "token": case((still_ours, leases.c.token), else_=leases.c.token + 1),
                    "expires_at": expires_at,
                },
                where=or_(leases.c.expires_at <= now, leases.c.holder == holder),
            )
            .returning(leases.c.token)
        )
        self._release = (
            update(leases)
            .where(
                leases.c.name == bindparam("b_name"),
                leases.c.holder == bindparam("b_holder"),
                leases.c.token == bindparam("b_token"),
                leases.c.expires_at > bindparam("b_now"),
            )
            .values(expires_at=bindparam("b_now"))
        )
        self._forget = delete(leases).where(
            leases.c.name == bindparam("b_name"),
            leases.c.holder == bindparam("b_holder"),
            leases.c.token == bindparam("b_token"),
        )

    async def try_acquire(self, name: str, holder: str, ttl: timedelta) -> Lease | None:
        """Claim ``name`` if it is free, expired or already ours; None while someone else holds it."""
        now = self._clock.now()
        expires_at = now + ttl
        params = {"b_name": name, "b_holder": holder, "b_now": now, "b_expires_at": expires_at}
        async with translated(), self._engine.begin() as conn:
            token = (await conn.execute(self._acquire, params)).scalar_one_or_none()
        if token is None:
            return None
        return Lease(name=name, holder=holder, token=int(token), expires_at=expires_at)

    async def forget(self, lease: Lease) -> None:
        params = {"b_name": lease.name, "b_holder": lease.holder, "b_token": lease.token}
        async with translated(), self._engine.begin() as conn:
            await conn.execute(self._forget, params)

    async def release(self, lease: Lease) -> None:
        """Expire the lease now if it is still ours (same holder and token); a lost lease is ignored. The row stays,
        so the next holder gets a higher token."""
        params = {"b_name": lease.name, "b_holder": lease.holder, "b_token": lease.token, "b_now": self._clock.now()}
        async with translated(), self._engine.begin() as conn:
            await conn.execute(self._release, params)
