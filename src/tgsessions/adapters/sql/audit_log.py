"""SqlAuditLog: the AuditLog port over SQLAlchemy Core, inside one connection's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from tgsessions.adapters.sql import mapping
from tgsessions.adapters.sql.tables import accounts, events
from tgsessions.domain.model import Action, Event
from tgsessions.domain.verdict import VerdictKind

_VERDICTS = {kind.value: kind for kind in VerdictKind}


class SqlAuditLog:
    """Events in the ``events`` table (they hold no secrets). ``events`` and ``recent_verdicts`` are newest first
    (by id), ``event_times`` and ``open_login_attempts`` oldest first."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def append_event(self, event: Event) -> None:
        await self._conn.execute(insert(events).values(mapping.event_values(event)))

    async def append_events(self, batch: Sequence[Event]) -> None:
        if batch:
            await self._conn.execute(insert(events), [mapping.event_values(e) for e in batch])

    async def events(self, account_id: int, *, limit: int, before_id: int | None = None) -> list[Event]:
        statement = select(events).where(events.c.account_id == account_id).order_by(events.c.id.desc()).limit(limit)
        if before_id is not None:
            statement = statement.where(events.c.id < before_id)
        rows = (await self._conn.execute(statement)).mappings().all()
        return [mapping.event_from_row(row) for row in rows]

    async def event_times(self, account_id: int, action: Action, since: datetime) -> list[datetime]:
        statement = (
            select(events.c.at)
            .where(events.c.account_id == account_id, events.c.action == action.value, events.c.at >= since)
            .order_by(events.c.at, events.c.id)
        )
        return list((await self._conn.execute(statement)).scalars().all())

    async def recent_verdicts(self, account_id: int, limit: int) -> list[VerdictKind]:
        statement = (
            select(events.c.outcome)
            .where(events.c.account_id == account_id, events.c.action == Action.VALIDATED.value)
            .order_by(events.c.id.desc())
            .limit(limit)
        )
        outcomes = (await self._conn.execute(statement)).scalars().all()
        return [_VERDICTS[outcome] for outcome in outcomes if outcome in _VERDICTS]

    async def open_login_attempts(self, account_id: int) -> list[datetime]:
        reconciled = (
            select(func.coalesce(func.max(events.c.id), 0))
            .where(events.c.account_id == account_id, events.c.action == Action.RECONCILED.value)
            .scalar_subquery()
        )
        statement = (
            select(events.c.at)
            .where(events.c.account_id == account_id, events.c.action == Action.LOGIN_ATTEMPT.value)
            .where(events.c.id > reconciled)
            .order_by(events.c.id)
        )
        return [row[0] for row in (await self._conn.execute(statement)).all()]

    async def phones_with_open_login_attempts(self) -> list[str]:
        later = events.alias("later")
        reconciled = (
            select(later.c.id)
            .where(later.c.account_id == events.c.account_id, later.c.action == Action.RECONCILED.value)
            .where(later.c.id > events.c.id)
            .exists()
        )
        statement = (
            select(accounts.c.phone)
            .join(events, events.c.account_id == accounts.c.id)
            .where(events.c.action == Action.LOGIN_ATTEMPT.value, ~reconciled)
            .distinct()
            .order_by(accounts.c.phone)
        )
        return [row[0] for row in (await self._conn.execute(statement)).all()]
