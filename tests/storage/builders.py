"""Small builders for storage tests (no secrets of real accounts: every value here is made up)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from tgsessions.adapters.sql import SqlDatabase
from tgsessions.adapters.sql.tables import account_deletions
from tgsessions.domain.access import ApiKey, Scope
from tgsessions.domain.model import Account, AccountDeletion, ClientIdentity, Origin, Proxy, Role, Session
from tgsessions.domain.ports import Cipher, Database
from tgsessions.domain.secret import Secret
from tgsessions.service.session_strings import session_id_of
from tgsessions.testing.memory_db import InMemoryDatabase

IDENTITY = ClientIdentity(
    api_id=12345,
    device_model="Pixel 7",
    system_version="Android 14",
    app_version="10.1.2",
    lang_code="de",
    system_lang_code="de-DE",
)


def account(phone: str, now: datetime, *, with_secrets: bool = False) -> Account:
    extra = {}
    if with_secrets:
        extra = {
            "two_fa": Secret(f"2fa-password-{phone}"),
            "proxy": Proxy("socks5", "proxy.example", 1080, username="user", password=Secret(f"proxy-pw-{phone}")),
        }
    return Account(phone=phone, identity=IDENTITY, created_at=now, updated_at=now, **extra)  # type: ignore[arg-type]


def session_string(tag: str) -> str:
    return f"1BVtsOK8Bu{tag}" + "Qx" * 150 + tag


def session(
    cipher: Cipher,
    account_id: int,
    tag: str,
    now: datetime,
    *,
    role: Role = Role.BACKUP,
    origin: Origin = Origin.MANUAL,
) -> Session:
    string = session_string(tag)
    return Session(
        session_id=session_id_of(cipher, Secret(string)),
        account_id=account_id,
        role=role,
        origin=origin,
        identity=IDENTITY,
        created_at=now,
        role_since=now,
        string=Secret(string),
    )


async def add_account(database: Database, phone: str, now: datetime, **kwargs: bool) -> Account:
    """Add (and commit) an account made by :func:`account`."""
    async with database.unit_of_work() as uow:
        stored = await uow.accounts.add_account(account(phone, now, **kwargs))
        await uow.commit()
    return stored


async def deletion_records(database: Database) -> list[AccountDeletion]:
    """The deletion records kept by ``delete_account`` (no port reads them back: they are for operators)."""
    if isinstance(database, InMemoryDatabase):
        return list(database.store.deletions)
    assert isinstance(database, SqlDatabase)
    async with database.engine.connect() as conn:
        rows = (await conn.execute(select(account_deletions).order_by(account_deletions.c.id))).mappings().all()
    return [
        AccountDeletion(
            phone=row["phone"],
            account_id=row["account_id"],
            at=row["at"],
            actor=row["actor"],
            session_ids=tuple(json.loads(row["session_ids"])),
            revoked=tuple(json.loads(row["revoked"])),
        )
        for row in rows
    ]


KEY_CREATED_AT = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)


def api_key(tag: str, *, scopes: frozenset[Scope] = frozenset({Scope.STATUS_READ}), **kwargs: object) -> ApiKey:
    return ApiKey(
        key_id=f"kid{tag}",
        name=f"caller-{tag}",
        scopes=scopes,
        key_hash=f"hash-{tag}-" + "0" * 64,
        created_at=KEY_CREATED_AT,
        **kwargs,  # type: ignore[arg-type]
    )
