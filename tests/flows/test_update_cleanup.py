"""update_session, add_account and cleanup_sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.flows.conftest import PHONE, MakeFactory, seed
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.errors import AccountExists, InvalidInput, SessionRejected, TelegramUnavailable, UnknownPhone
from tgsessions.domain.secret import Secret
from tgsessions.service.factory import SessionFactory
from tgsessions.service.session_strings import session_id_of

OTHER = "447700900123"


def sid(factory: SessionFactory, secret: Secret) -> str:
    return session_id_of(factory._ctx.cipher, secret)


async def test_update_makes_the_new_string_primary_and_the_old_one_the_newest_backup(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    seeded = await seed(factory, world, backups=2)
    fresh = world.create_session(PHONE, age=timedelta(hours=1))
    info = await factory.update_session(PHONE, fresh.reveal())
    assert info.role == "primary" and info.session_id == sid(factory, fresh)
    assert (await factory.fetch_one(PHONE)).session == fresh
    backups = await factory.list_backups(PHONE)
    assert backups[0].session_id == sid(factory, seeded.primary)
    assert [b.session_id for b in backups[1:]] == [sid(factory, b) for b in seeded.backups]


async def test_update_retires_a_dead_old_primary(factory: SessionFactory, world: SimulatedTelegram) -> None:
    seeded = await seed(factory, world, backups=1)
    world.revoke(seeded.primary)
    fresh = world.create_session(PHONE)
    await factory.update_session(PHONE, fresh)
    assert [b.session_id for b in await factory.list_backups(PHONE)] == [sid(factory, seeded.backups[0])]


async def test_update_rejects_dead_and_foreign_strings_without_changing_anything(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    seeded = await seed(factory, world, backups=1)
    world.add_account(OTHER)
    foreign = world.create_session(OTHER)
    with pytest.raises(SessionRejected, match="another phone"):
        await factory.update_session(PHONE, foreign)
    dead = world.create_session(PHONE)
    world.revoke(dead)
    with pytest.raises(SessionRejected, match="dead"):
        await factory.update_session(PHONE, dead)
    with pytest.raises(SessionRejected, match="keeper"):
        await factory.update_session(PHONE, seeded.keeper)
    with pytest.raises(InvalidInput, match="empty"):
        await factory.update_session(PHONE, "   ")
    with pytest.raises(InvalidInput, match="not a session string"):
        await factory.update_session(PHONE, "abc def")
    with pytest.raises(InvalidInput, match=r"fits no session layout \(tried: telethon, gramjs, pyrogram\)"):
        await factory.update_session(PHONE, "1" + "A" * 350)
    with pytest.raises(UnknownPhone):
        await factory.update_session("79990000000", foreign)
    assert (await factory.fetch_one(PHONE)).session == seeded.primary
    assert len(await factory.list_backups(PHONE)) == 1


async def test_update_with_telegram_down_changes_nothing(factory: SessionFactory, world: SimulatedTelegram) -> None:
    seeded = await seed(factory, world)
    fresh = world.create_session(PHONE)
    world.server_error(PHONE, calls=3)
    with pytest.raises(TelegramUnavailable):
        await factory.update_session(PHONE, fresh)
    assert (await factory.fetch_one(PHONE)).session == seeded.primary


async def test_update_promotes_an_existing_backup(factory: SessionFactory, world: SimulatedTelegram) -> None:
    seeded = await seed(factory, world, backups=2)
    await factory.update_session(PHONE, seeded.backups[1])
    assert (await factory.fetch_one(PHONE)).session == seeded.backups[1]
    ids = [b.session_id for b in await factory.list_backups(PHONE)]
    assert ids == [sid(factory, seeded.primary), sid(factory, seeded.backups[0])]


async def test_update_keeps_the_pool_within_max_backups_revoking_the_oldest(
    make_factory: MakeFactory, world: SimulatedTelegram
) -> None:
    factory = make_factory(max_backups=2)
    seeded = await seed(factory, world, backups=2)
    fresh = world.create_session(PHONE)
    await factory.update_session(PHONE, fresh)
    backups = await factory.list_backups(PHONE)
    assert [b.session_id for b in backups] == [sid(factory, seeded.primary), sid(factory, seeded.backups[0])]
    assert not world.is_alive(seeded.backups[1])  # revoked at Telegram, not just forgotten


async def test_add_account_validates_its_input(factory: SessionFactory, world: SimulatedTelegram) -> None:
    world.add_account(PHONE)
    s1, s2 = world.create_session(PHONE), world.create_session(PHONE)
    with pytest.raises(InvalidInput, match="primary session or a keeper"):
        await factory.add_account(PHONE)
    with pytest.raises(InvalidInput, match="different session"):
        await factory.add_account(PHONE, primary=s1, keeper=s1)
    with pytest.raises(InvalidInput, match="too short"):
        await factory.add_account("123", primary=s1)
    added = await factory.add_account(PHONE, primary=s1, backups=[s2, s2, s1])
    assert [s.role for s in added.sessions] == ["primary", "backup"]  # repeats dropped
    with pytest.raises(AccountExists):
        await factory.add_account(PHONE, primary=s2)
    world.add_account(OTHER)
    with pytest.raises(InvalidInput, match="already stored"):
        await factory.add_account(OTHER, primary=s1)


async def test_cleanup_retires_dead_and_revokes_surplus_live_backups(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    seeded = await seed(factory, world, backups=5)
    world.revoke(seeded.backups[1])
    report = await factory.cleanup_sessions(PHONE, 2)
    assert report.retired_dead == [sid(factory, seeded.backups[1])]
    assert report.revoked == [sid(factory, seeded.backups[3]), sid(factory, seeded.backups[4])]
    assert [b.session_id for b in await factory.list_backups(PHONE)] == [
        sid(factory, seeded.backups[0]),
        sid(factory, seeded.backups[2]),
    ]
    assert not world.is_alive(seeded.backups[3]) and not world.is_alive(seeded.backups[4])
    assert world.is_alive(seeded.primary) and seeded.keeper is not None and world.is_alive(seeded.keeper)
    assert (await factory.session_status(PHONE)).last_cleanup is not None


async def test_cleanup_keeps_the_last_live_session(factory: SessionFactory, world: SimulatedTelegram) -> None:
    seeded = await seed(factory, world, backups=1, keeper=False)
    world.revoke(seeded.primary)
    report = await factory.cleanup_sessions(PHONE, 0)
    assert report.revoked == [] and report.kept == [sid(factory, seeded.backups[0])]
    assert world.is_alive(seeded.backups[0])


async def test_cleanup_validates_its_limit(factory: SessionFactory, world: SimulatedTelegram) -> None:
    await seed(factory, world)
    for bad in (-1, 21, True, "3"):
        with pytest.raises(InvalidInput, match="0 to 20"):
            await factory.cleanup_sessions(PHONE, bad)  # type: ignore[arg-type]
    report = await factory.cleanup_sessions(PHONE)
    assert report.max_backups == 5


async def test_cleanup_defers_a_revocation_telegram_cannot_do_now(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    seeded = await seed(factory, world, backups=3)
    await factory.cleanup_sessions(PHONE, 5)  # every verdict is now cached
    world.server_error(PHONE, calls=1)
    report = await factory.cleanup_sessions(PHONE, 1)
    assert report.deferred == [sid(factory, seeded.backups[1])]
    assert report.revoked == [sid(factory, seeded.backups[2])]
    assert world.is_alive(seeded.backups[1])  # still live, so still kept as a backup
    assert len(await factory.list_backups(PHONE)) == 2
