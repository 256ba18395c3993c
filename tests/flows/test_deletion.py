"""Deleting an account: it goes with its sessions and history, one deletion record stays (ids only), and with
``revoke`` nothing is deleted until Telegram has terminated every session — each termination kept as it happens."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.flows.conftest import PHONE
from tests.support.db_fixtures import ALL_BACKENDS, on_backends
from tgsessions.adapters.sql import SqlDatabase
from tgsessions.adapters.sql.tables import account_deletions
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.errors import TelegramUnavailable, UnknownPhone
from tgsessions.domain.model import Role
from tgsessions.domain.ports import Database
from tgsessions.service.factory import SessionFactory
from tgsessions.testing.memory_db import InMemoryDatabase

# every backend: the deletion record is read back from each store itself (the account_deletions table on SQL)
pytestmark = on_backends(*ALL_BACKENDS)


async def deletions(database: Database, phone: str) -> list[dict[str, object]]:
    if isinstance(database, InMemoryDatabase):
        return [{"session_ids": list(d.session_ids), "revoked": list(d.revoked), "actor": d.actor}
                for d in database.store.deletions if d.phone == phone]  # fmt: skip
    assert isinstance(database, SqlDatabase)
    async with database.engine.connect() as conn:
        rows = (await conn.execute(select(account_deletions).where(account_deletions.c.phone == phone))).mappings()
        return [{"session_ids": json.loads(r["session_ids"]), "revoked": json.loads(r["revoked"]), "actor": r["actor"]}
                for r in rows]  # fmt: skip


async def seed(factory: SessionFactory, world: SimulatedTelegram) -> list[str]:
    world.add_account(PHONE)
    strings = [world.create_session(PHONE) for _ in range(3)]
    await factory.add_account(PHONE, primary=strings[0], keeper=strings[1], backups=[strings[2]])
    return [s.reveal() for s in strings]


async def test_delete_keeps_a_record_of_what_went_and_leaves_the_sessions_alive(
    factory: SessionFactory, world: SimulatedTelegram, database: Database
) -> None:
    strings = await seed(factory, world)
    ids = [s.session_id for s in await factory.list_backups(PHONE)]
    gone = await factory.delete_account(PHONE, actor="operator")
    assert len(gone.session_ids) == 3 and set(ids) <= set(gone.session_ids) and gone.revoked == []
    with pytest.raises(UnknownPhone):
        await factory.fetch_one(PHONE)
    assert all(world.find(s).alive for s in strings)  # type: ignore[union-attr]
    [kept] = await deletions(database, PHONE)
    assert kept == {"session_ids": gone.session_ids, "revoked": [], "actor": "operator"}
    assert not any(s in json.dumps(kept) for s in strings)
    await factory.add_account(PHONE, primary=world.create_session(PHONE))  # the phone is free again
    with pytest.raises(UnknownPhone):
        await factory.delete_account("79990000000")


async def test_revoke_first_deletes_nothing_until_telegram_terminated_every_session(
    factory: SessionFactory, world: SimulatedTelegram, database: Database
) -> None:
    strings = await seed(factory, world)
    world.server_error(PHONE, calls=1)  # the first termination fails now
    with pytest.raises(TelegramUnavailable, match="nothing was deleted"):
        await factory.delete_account(PHONE, revoke=True, actor="operator")
    assert await deletions(database, PHONE) == []
    still = await factory.record(PHONE)
    assert still.phone == PHONE
    alive = [s for s in strings if world.find(s).alive]  # type: ignore[union-attr]
    assert len(alive) == 1  # two were terminated and are retired in the store already
    async with database.unit_of_work() as uow:
        account = await uow.accounts.get_account(PHONE)
        assert account is not None and account.id is not None
        stored = await uow.sessions.sessions(account.id, include_retired=True)
    assert sum(s.role is Role.RETIRED for s in stored) == 2
    gone = await factory.delete_account(PHONE, revoke=True, actor="operator")
    assert not any(world.find(s).alive for s in strings)  # type: ignore[union-attr]
    assert len(gone.revoked) == 1
    [kept] = await deletions(database, PHONE)
    assert kept["revoked"] == gone.revoked
