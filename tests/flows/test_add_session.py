"""add_session: onboarding a keeper (creating the account when needed) and importing backups."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.flows.conftest import PHONE, seed
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.errors import InvalidInput, SessionRejected, UnknownPhone
from tgsessions.domain.model import Role
from tgsessions.service.factory import SessionFactory
from tgsessions.service.session_strings import session_id_of


async def test_a_keeper_for_an_unknown_phone_creates_the_account_then_fetch_mints(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    world.add_account(PHONE, two_fa="pw")
    keeper = world.create_session(PHONE, age=timedelta(minutes=1))
    info = await factory.add_session(PHONE, keeper, role=Role.KEEPER, two_fa="pw")
    assert info.role == "keeper"
    result = await factory.fetch_one(PHONE)
    assert result.how == "minted" and result.session != keeper  # the keeper is never handed out
    assert world.calls["mint_qr"] == 1


async def test_a_new_keeper_replaces_the_old_one_which_becomes_a_backup(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    seeded = await seed(factory, world, backups=1)
    fresh = world.create_session(PHONE)
    await factory.add_session(PHONE, fresh, role=Role.KEEPER)
    status = await factory.session_status(PHONE)
    assert status.keeper is not None and status.keeper.session_id == session_id_of(factory._ctx.cipher, fresh)
    backups = await factory.list_backups(PHONE)
    assert seeded.keeper is not None
    assert backups[0].session_id == session_id_of(factory._ctx.cipher, seeded.keeper)


async def test_a_backup_is_added_as_the_newest(factory: SessionFactory, world: SimulatedTelegram) -> None:
    await seed(factory, world, backups=2)
    fresh = world.create_session(PHONE)
    info = await factory.add_session(PHONE, fresh, role=Role.BACKUP)
    assert (await factory.list_backups(PHONE))[0].session_id == info.session_id


async def test_add_session_refuses_what_it_must(factory: SessionFactory, world: SimulatedTelegram) -> None:
    seeded = await seed(factory, world, backups=1)
    world.add_account("447700900123")
    foreign = world.create_session("447700900123")
    with pytest.raises(SessionRejected, match="another phone"):
        await factory.add_session(PHONE, foreign, role=Role.BACKUP)
    dead = world.create_session(PHONE)
    world.revoke(dead)
    with pytest.raises(SessionRejected, match="dead"):
        await factory.add_session(PHONE, dead, role=Role.KEEPER)
    with pytest.raises(SessionRejected, match="already the account's primary"):
        await factory.add_session(PHONE, seeded.primary, role=Role.BACKUP)
    with pytest.raises(InvalidInput, match="keeper or backup"):
        await factory.add_session(PHONE, world.create_session(PHONE), role=Role.PRIMARY)
    with pytest.raises(UnknownPhone):
        await factory.add_session("447700900123", foreign, role=Role.BACKUP)
    with pytest.raises(SessionRejected, match="another phone"):
        await factory.add_session("447700900999", foreign, role=Role.KEEPER)
