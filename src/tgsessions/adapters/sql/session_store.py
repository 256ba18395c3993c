"""SqlSessionStore: the SessionStore port over SQLAlchemy Core, inside one connection's transaction."""

from __future__ import annotations

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tgsessions.adapters.sql import mapping
from tgsessions.adapters.sql.integrity import DUPLICATE_SESSION_MESSAGE, violates_unique
from tgsessions.adapters.sql.tables import sessions
from tgsessions.domain.errors import ConcurrentModification, InvalidInput
from tgsessions.domain.model import Role, Session
from tgsessions.domain.ports import Cipher

_ALL_SESSIONS = (
    select(sessions)
    .where(sessions.c.account_id == bindparam("account_id"))
    .order_by(sessions.c.role_since.desc(), sessions.c.id.desc())
)
_LIVE_SESSIONS = _ALL_SESSIONS.where(sessions.c.role != Role.RETIRED.value)
_SAVE_SESSION = update(sessions).where(sessions.c.id == bindparam("b_row_id"))  # SET from the parameters' keys


class SqlSessionStore:
    """Sessions in the ``sessions`` table, their strings encrypted (retired ones keep none). ``sessions`` are
    ordered by ``role_since`` newest first (then id, newest first). Returned sessions are fresh objects."""

    def __init__(self, connection: AsyncConnection, cipher: Cipher) -> None:
        self._conn = connection
        self._cipher = cipher

    async def sessions(self, account_id: int, *, include_retired: bool = False) -> list[Session]:
        statement = _ALL_SESSIONS if include_retired else _LIVE_SESSIONS
        rows = (await self._conn.execute(statement, {"account_id": account_id})).mappings().all()
        return [mapping.session_from_row(row, self._cipher) for row in rows]

    async def find_session(self, session_id: str) -> Session | None:
        statement = select(sessions).where(sessions.c.session_id == session_id)
        row = (await self._conn.execute(statement)).mappings().first()
        return mapping.session_from_row(row, self._cipher) if row is not None else None

    async def add_session(self, session: Session) -> Session:
        values = mapping.session_values(session, self._cipher)
        try:
            async with self._conn.begin_nested():  # a failed insert leaves the unit of work usable
                result = await self._conn.execute(insert(sessions).values(values).returning(sessions.c.id))
                session.id = result.scalar_one()
        except IntegrityError as exc:
            if violates_unique(exc, "sessions", "session_id"):
                raise InvalidInput(DUPLICATE_SESSION_MESSAGE, field="session") from None
            raise
        if session.role is Role.RETIRED:
            session.string = None
        return session

    async def save_session(self, session: Session) -> None:
        """Overwrite the stored row (last writer wins: sessions change under the account's lock or lease).
        ConcurrentModification when the row is gone."""
        if session.id is None:
            raise ValueError("save_session needs a stored session (id is None)")
        values = mapping.session_values(session, self._cipher)
        result = await self._conn.execute(_SAVE_SESSION, {**values, "b_row_id": session.id})
        if result.rowcount != 1:
            raise ConcurrentModification(f"session {session.session_id} is no longer stored")
        if session.role is Role.RETIRED:
            session.string = None
