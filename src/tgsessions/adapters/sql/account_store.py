"""SqlAccountStore: the AccountStore port over SQLAlchemy Core, inside one connection's transaction."""

from __future__ import annotations

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tgsessions.adapters.sql import mapping
from tgsessions.adapters.sql.integrity import violates_unique
from tgsessions.adapters.sql.tables import account_deletions, accounts, events, sessions
from tgsessions.domain.errors import AccountExists, ConcurrentModification
from tgsessions.domain.model import Account, AccountDeletion, Role, Session
from tgsessions.domain.ports import Cipher

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


class SqlAccountStore:
    """Every method runs in the unit of work's transaction; nothing is visible to others before its commit.

    Entities returned are fresh objects: mutating them changes nothing until they are saved.
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

    async def delete_account(self, deletion: AccountDeletion) -> None:
        await self._conn.execute(insert(account_deletions).values(mapping.deletion_values(deletion)))
        for table in (events, sessions):
            await self._conn.execute(delete(table).where(table.c.account_id == deletion.account_id))
        await self._conn.execute(delete(accounts).where(accounts.c.id == deletion.account_id))
