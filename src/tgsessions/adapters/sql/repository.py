"""SqlAccountRepository: the AccountRepository port over SQLAlchemy Core, inside one connection's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tgsessions.adapters.sql import mapping
from tgsessions.adapters.sql.tables import account_deletions, accounts, events, sessions
from tgsessions.domain.errors import AccountExists, ConcurrentModification, InvalidInput
from tgsessions.domain.model import Account, AccountDeletion, Action, Event, Role, Session
from tgsessions.domain.ports import Cipher
from tgsessions.domain.verdict import VerdictKind

_VERDICTS = {kind.value: kind for kind in VerdictKind}
DUPLICATE_SESSION_MESSAGE = "this session string is already stored"


def violates_unique(exc: IntegrityError, table: str, column: str) -> bool:
    """Whether ``exc`` is the unique violation of ``table.column`` (SQLite names the column, PostgreSQL the
    constraint, which the naming convention in tables.py spells ``uq_<table>_<column>``)."""
    text = str(exc.orig)
    return f"{table}.{column}" in text or f"uq_{table}_{column}" in text


_IN_CHUNK = 500  # values per IN (...) list: well under SQLite's and asyncpg's parameter limits


def _chunks(values: Sequence[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(values))
    return [unique[i : i + _IN_CHUNK] for i in range(0, len(unique), _IN_CHUNK)]


# Built once: this is the read of every warm fetch.
_ACCOUNT_AND_PRIMARY = (
    select(accounts, *(column.label(f"s_{column.name}") for column in sessions.c))
    .select_from(
        accounts.outerjoin(
            sessions, and_(sessions.c.account_id == accounts.c.id, sessions.c.role == Role.PRIMARY.value)
        )
    )
    .where(accounts.c.phone == bindparam("phone"))
    .limit(1)
)


_ACCOUNT_BY_PHONE = select(accounts).where(accounts.c.phone == bindparam("phone"))
_ALL_SESSIONS = (
    select(sessions)
    .where(sessions.c.account_id == bindparam("account_id"))
    .order_by(sessions.c.role_since.desc(), sessions.c.id.desc())
)
_LIVE_SESSIONS = _ALL_SESSIONS.where(sessions.c.role != Role.RETIRED.value)
_SAVE_SESSION = update(sessions).where(sessions.c.id == bindparam("b_row_id"))  # SET from the parameters' keys


class SqlAccountRepository:
    """Every method runs in the unit of work's transaction; nothing is visible to others before its commit.

    Entities returned are fresh objects: mutating them changes nothing until they are saved. ``sessions`` are
    ordered by ``role_since`` newest first (then id, newest first); ``event_times`` oldest first.
    """

    def __init__(self, connection: AsyncConnection, cipher: Cipher) -> None:
        self._conn = connection
        self._cipher = cipher

    async def get_account(self, phone: str) -> Account | None:
        row = (await self._conn.execute(_ACCOUNT_BY_PHONE, {"phone": phone})).mappings().first()
        return mapping.account_from_row(row, self._cipher) if row is not None else None

    async def account_and_primary(self, phone: str) -> tuple[Account, Session | None] | None:
        row = (await self._conn.execute(_ACCOUNT_AND_PRIMARY, {"phone": phone})).mappings().first()
        if row is None:
            return None
        account = mapping.account_from_row(row, self._cipher)
        if row["s_id"] is None:
            return account, None
        session_row = {column.name: row[f"s_{column.name}"] for column in sessions.c}
        return account, mapping.session_from_row(session_row, self._cipher)

    async def add_account(self, account: Account) -> Account:
        values = mapping.account_values(account, self._cipher)
        try:
            async with self._conn.begin_nested():  # a failed insert leaves the unit of work usable
                result = await self._conn.execute(insert(accounts).values(values).returning(accounts.c.id))
                account.id = result.scalar_one()
        except IntegrityError as exc:
            if violates_unique(exc, "accounts", "phone"):
                raise AccountExists(account.phone) from None
            raise
        return account

    async def save_account(self, account: Account) -> None:
        if account.id is None:
            raise ValueError("save_account needs a stored account (id is None)")
        values = mapping.account_values(account, self._cipher)
        values["version"] = account.version + 1
        statement = (
            update(accounts).where(accounts.c.id == account.id, accounts.c.version == account.version).values(values)
        )
        result = await self._conn.execute(statement)
        if result.rowcount != 1:
            raise ConcurrentModification(
                f"account {account.phone} was changed by someone else; reload and retry", phone=account.phone
            )
        account.version += 1

    async def accounts_page(self, *, after_id: int | None, limit: int) -> list[Account]:
        statement = select(accounts).order_by(accounts.c.id).limit(limit)
        if after_id is not None:
            statement = statement.where(accounts.c.id > after_id)
        rows = (await self._conn.execute(statement)).mappings().all()
        return [mapping.account_from_row(row, self._cipher) for row in rows]

    async def count_accounts(self) -> int:
        return int((await self._conn.execute(select(func.count()).select_from(accounts))).scalar_one())

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
            async with self._conn.begin_nested():
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

    async def delete_account(self, deletion: AccountDeletion) -> None:
        await self._conn.execute(insert(account_deletions).values(mapping.deletion_values(deletion)))
        for table in (events, sessions):
            await self._conn.execute(delete(table).where(table.c.account_id == deletion.account_id))
        await self._conn.execute(delete(accounts).where(accounts.c.id == deletion.account_id))

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

    async def recent_verdicts(self, account_id: int, limit: int) -> list[VerdictKind]:
        statement = (
            select(events.c.outcome)
            .where(events.c.account_id == account_id, events.c.action == Action.VALIDATED.value)
            .order_by(events.c.id.desc())
            .limit(limit)
        )
        outcomes = (await self._conn.execute(statement)).scalars().all()
        return [_VERDICTS[outcome] for outcome in outcomes if outcome in _VERDICTS]
