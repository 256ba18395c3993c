"""The AccountStore contract (``uow.accounts``), run against memory, SQLite and PostgreSQL.

Covers get_account, account_and_primary, add_account, save_account, accounts_page, count_accounts, delete_account.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.storage.builders import IDENTITY, account, add_account, deletion_records, session
from tgsessions.domain.errors import AccountExists, ConcurrentModification
from tgsessions.domain.model import AccountDeletion, AccountState, Action, ClientIdentity, Event, Proxy, Role
from tgsessions.domain.secret import Secret


async def test_account_round_trip_keeps_every_field(database, clock):
    now = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)
    original = account("79001234567", now, with_secrets=True)
    original.state = AccountState.BANNED
    original.frozen = True
    original.last_updated = now + timedelta(minutes=5)
    original.last_cleanup = now + timedelta(hours=1, microseconds=7)
    async with database.unit_of_work() as uow:
        stored = await uow.accounts.add_account(original)
        await uow.commit()
    assert stored.id is not None

    async with database.unit_of_work() as uow:
        loaded = await uow.accounts.get_account("79001234567")
    assert loaded is not None
    assert loaded == original
    assert loaded.two_fa == Secret("2fa-password-79001234567")
    assert loaded.proxy is not None
    assert loaded.proxy.password == Secret("proxy-pw-79001234567")
    assert (loaded.proxy.scheme, loaded.proxy.host, loaded.proxy.port) == ("socks5", "proxy.example", 1080)
    assert loaded.identity == IDENTITY
    for value in (loaded.created_at, loaded.updated_at, loaded.last_updated, loaded.last_cleanup):
        assert value is not None
        assert value.utcoffset() == timedelta(0)


async def test_account_without_optional_fields(database, clock):
    await add_account(database, "100", clock.now())
    async with database.unit_of_work() as uow:
        loaded = await uow.accounts.get_account("100")
        missing = await uow.accounts.get_account("101")
    assert loaded is not None
    assert (loaded.two_fa, loaded.proxy, loaded.last_updated, loaded.version) == (None, None, None, 1)
    assert loaded.identity == IDENTITY
    assert missing is None


async def test_add_account_sets_the_id_of_the_object_it_was_given(database, clock):
    async with database.unit_of_work() as uow:
        first = account("110", clock.now())
        second = account("111", clock.now())
        assert await uow.accounts.add_account(first) is first
        assert await uow.accounts.add_account(second) is second
        await uow.commit()
    assert first.id is not None and second.id is not None and second.id > first.id
    async with database.unit_of_work() as uow:
        loaded = await uow.accounts.get_account("111")
    assert loaded is not None and loaded.id == second.id


async def test_duplicate_phone_raises_account_exists_and_the_unit_of_work_stays_usable(database, clock):
    await add_account(database, "200", clock.now())
    async with database.unit_of_work() as uow:
        with pytest.raises(AccountExists) as caught:
            await uow.accounts.add_account(account("200", clock.now()))
        assert caught.value.phone == "200"
        await uow.accounts.add_account(account("201", clock.now()))
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.accounts.count_accounts() == 2


async def test_duplicate_phone_in_the_same_unit_of_work_raises_account_exists(database, clock):
    async with database.unit_of_work() as uow:
        await uow.accounts.add_account(account("210", clock.now()))
        with pytest.raises(AccountExists):
            await uow.accounts.add_account(account("210", clock.now()))
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.accounts.count_accounts() == 1


async def test_save_account_is_optimistic(database, clock):
    await add_account(database, "400", clock.now())
    async with database.unit_of_work() as uow:
        mine = await uow.accounts.get_account("400")
    async with database.unit_of_work() as uow:
        theirs = await uow.accounts.get_account("400")
    assert mine is not None
    assert theirs is not None

    mine.frozen = True
    async with database.unit_of_work() as uow:
        await uow.accounts.save_account(mine)
        await uow.commit()
    assert mine.version == 2

    theirs.state = AccountState.UNRECOVERABLE
    async with database.unit_of_work() as uow:
        with pytest.raises(ConcurrentModification):
            await uow.accounts.save_account(theirs)

    async with database.unit_of_work() as uow:
        stored = await uow.accounts.get_account("400")
    assert stored is not None
    assert (stored.version, stored.frozen, stored.state) == (2, True, AccountState.ACTIVE)


async def test_a_version_conflict_names_the_phone_and_leaves_the_version_alone(database, clock):
    await add_account(database, "405", clock.now())
    async with database.unit_of_work() as uow:
        stale = await uow.accounts.get_account("405")
        fresh = await uow.accounts.get_account("405")
        await uow.accounts.save_account(fresh)
        await uow.commit()
    assert stale is not None and stale.version == 1
    async with database.unit_of_work() as uow:
        with pytest.raises(ConcurrentModification) as caught:
            await uow.accounts.save_account(stale)
    assert caught.value.phone == "405"
    assert stale.version == 1, "a refused save does not bump the caller's version"


async def test_saving_twice_in_one_unit_of_work_bumps_twice(database, clock):
    await add_account(database, "410", clock.now())
    async with database.unit_of_work() as uow:
        loaded = await uow.accounts.get_account("410")
        assert loaded is not None
        await uow.accounts.save_account(loaded)
        await uow.accounts.save_account(loaded)
        await uow.commit()
    async with database.unit_of_work() as uow:
        stored = await uow.accounts.get_account("410")
    assert stored is not None
    assert stored.version == loaded.version == 3


async def test_save_account_writes_every_field(database, clock):
    await add_account(database, "420", clock.now())
    later = clock.advance(3600)
    async with database.unit_of_work() as uow:
        loaded = await uow.accounts.get_account("420")
        assert loaded is not None
        loaded.identity = ClientIdentity(api_id=7, device_model="Other phone")
        loaded.updated_at = later
        loaded.two_fa = Secret("a-new-2fa-password")
        loaded.proxy = Proxy("http", "other.example", 8080)
        loaded.state = AccountState.DEACTIVATED
        loaded.frozen = True
        loaded.last_updated = later
        loaded.last_cleanup = later + timedelta(microseconds=3)
        loaded.user_id = 2**40 + 1
        await uow.accounts.save_account(loaded)
        await uow.commit()
    async with database.unit_of_work() as uow:
        again = await uow.accounts.get_account("420")
    assert again == loaded
    assert again is not None and again.version == 2 and again.two_fa == Secret("a-new-2fa-password")
    again.two_fa = None  # clearing secrets is saved too
    again.proxy = None
    async with database.unit_of_work() as uow:
        await uow.accounts.save_account(again)
        await uow.commit()
    async with database.unit_of_work() as uow:
        cleared = await uow.accounts.get_account("420")
    assert cleared is not None and (cleared.two_fa, cleared.proxy, cleared.version) == (None, None, 3)


async def test_saving_an_account_that_is_no_longer_stored_is_concurrent_modification(database, clock):
    stored = await add_account(database, "430", clock.now())
    async with database.unit_of_work() as uow:
        loaded = await uow.accounts.get_account("430")
        await uow.accounts.delete_account(AccountDeletion("430", stored.id, clock.now(), "test", (), ()))
        await uow.commit()
    assert loaded is not None
    async with database.unit_of_work() as uow:
        with pytest.raises(ConcurrentModification):
            await uow.accounts.save_account(loaded)


async def test_save_account_needs_a_stored_account(database, clock):
    async with database.unit_of_work() as uow:
        with pytest.raises(ValueError, match="id is None"):
            await uow.accounts.save_account(account("440", clock.now()))


async def test_returned_entities_are_copies(database, clock, cipher):
    stored = await add_account(database, "520", clock.now())
    async with database.unit_of_work() as uow:
        await uow.sessions.add_session(session(cipher, stored.id, "c", clock.now()))
        await uow.commit()
    async with database.unit_of_work() as uow:
        loaded = await uow.accounts.get_account("520")
        loaded.frozen = True
        (first,) = await uow.sessions.sessions(stored.id)
        first.role = Role.PRIMARY
        assert (await uow.accounts.get_account("520")).frozen is False
        assert (await uow.sessions.sessions(stored.id))[0].role is Role.BACKUP
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert (await uow.accounts.get_account("520")).frozen is False


async def test_accounts_page_streams_all_in_id_order(database, clock):
    phones = [f"12{n:02d}" for n in range(11)]
    for phone in phones:
        await add_account(database, phone, clock.now())
    seen: list[str] = []
    after = None
    async with database.unit_of_work() as uow:
        assert await uow.accounts.count_accounts() == 11
        while page := await uow.accounts.accounts_page(after_id=after, limit=4):
            assert len(page) <= 4
            seen += [a.phone for a in page]
            after = page[-1].id
    assert seen == phones


async def test_accounts_page_limits_and_cursors(database, clock):
    async with database.unit_of_work() as uow:
        assert await uow.accounts.accounts_page(after_id=None, limit=10) == []
    added = [await add_account(database, f"13{n:02d}", clock.now()) for n in range(5)]
    ids = [a.id for a in added]
    async with database.unit_of_work() as uow:
        await uow.accounts.delete_account(AccountDeletion("1302", ids[2], clock.now(), "test", (), ()))
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert [a.id for a in await uow.accounts.accounts_page(after_id=None, limit=1)] == ids[:1]
        assert [a.id for a in await uow.accounts.accounts_page(after_id=None, limit=100)] == [
            ids[0],
            ids[1],
            ids[3],
            ids[4],
        ]
        assert [a.id for a in await uow.accounts.accounts_page(after_id=ids[1], limit=1)] == [ids[3]]  # over a gap
        assert [a.id for a in await uow.accounts.accounts_page(after_id=ids[2], limit=2)] == [ids[3], ids[4]]
        assert await uow.accounts.accounts_page(after_id=ids[4], limit=10) == []
        assert await uow.accounts.accounts_page(after_id=0, limit=2) == (
            await uow.accounts.accounts_page(after_id=None, limit=2)
        )
        (full,) = await uow.accounts.accounts_page(after_id=ids[3], limit=1)
    assert full == added[4] and full.identity == IDENTITY


async def test_count_accounts_counts_what_this_unit_of_work_sees(database, clock):
    async with database.unit_of_work() as uow:
        assert await uow.accounts.count_accounts() == 0
        await uow.accounts.add_account(account("1400", clock.now()))
        await uow.accounts.add_account(account("1401", clock.now()))
        assert await uow.accounts.count_accounts() == 2  # its own writes
    async with database.unit_of_work() as uow:
        assert await uow.accounts.count_accounts() == 0  # rolled back
    first = await add_account(database, "1402", clock.now())
    await add_account(database, "1403", clock.now())
    async with database.unit_of_work() as uow:
        assert await uow.accounts.count_accounts() == 2
        await uow.accounts.delete_account(AccountDeletion("1402", first.id, clock.now(), "test", (), ()))
        assert await uow.accounts.count_accounts() == 1
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.accounts.count_accounts() == 1


async def test_account_and_primary_reads_both_in_one_call(database, cipher, clock):
    now = clock.now()
    async with database.unit_of_work() as uow:
        assert await uow.accounts.account_and_primary("79990000000") is None
    stored = await add_account(database, "79001234567", now, with_secrets=True)
    async with database.unit_of_work() as uow:
        found = await uow.accounts.account_and_primary("79001234567")
        assert found is not None and found[0].id == stored.id and found[1] is None
        backup = await uow.sessions.add_session(session(cipher, stored.id, "b", now))
        primary = await uow.sessions.add_session(session(cipher, stored.id, "p", now, role=Role.PRIMARY))
        await uow.commit()
    async with database.unit_of_work() as uow:
        found = await uow.accounts.account_and_primary("79001234567")
    assert found is not None
    loaded_account, loaded_primary = found
    assert loaded_account.two_fa == stored.two_fa and loaded_account.proxy == stored.proxy
    assert loaded_primary is not None and loaded_primary.session_id == primary.session_id
    assert loaded_primary.string == primary.string and loaded_primary.session_id != backup.session_id
    assert loaded_primary.identity == IDENTITY and loaded_primary.created_at == now


async def test_account_and_primary_is_none_without_a_primary_and_ignores_other_accounts(database, cipher, clock):
    now = clock.now()
    owner = await add_account(database, "1500", now)
    other = await add_account(database, "1501", now)
    async with database.unit_of_work() as uow:
        await uow.sessions.add_session(session(cipher, owner.id, "k", now, role=Role.KEEPER))
        await uow.sessions.add_session(session(cipher, owner.id, "r", now, role=Role.RETIRED))
        theirs = await uow.sessions.add_session(session(cipher, other.id, "o", now, role=Role.PRIMARY))
        await uow.commit()
    async with database.unit_of_work() as uow:
        mine = await uow.accounts.account_and_primary("1500")
        found = await uow.accounts.account_and_primary("1501")
    assert mine is not None and mine[0].id == owner.id and mine[1] is None
    assert found is not None and found[1] is not None and found[1].session_id == theirs.session_id
    assert found[0].version == 1


async def test_delete_account_removes_its_sessions_and_events_and_keeps_the_record(database, cipher, clock):
    now = clock.now()
    gone = await add_account(database, "1600", now, with_secrets=True)
    kept = await add_account(database, "1601", now)
    async with database.unit_of_work() as uow:
        doomed = [
            await uow.sessions.add_session(session(cipher, gone.id, "g1", now, role=Role.PRIMARY)),
            await uow.sessions.add_session(session(cipher, gone.id, "g2", now, role=Role.RETIRED)),
        ]
        survivor = await uow.sessions.add_session(session(cipher, kept.id, "k1", now))
        await uow.audit.append_event(Event(gone.id, Action.LOGIN_ATTEMPT, "svc", "ok", now))
        await uow.audit.append_event(Event(kept.id, Action.LOGIN_ATTEMPT, "svc", "ok", now))
        await uow.commit()
    deletion = AccountDeletion(
        "1600", gone.id, clock.advance(60), "operator", tuple(s.session_id for s in doomed), (doomed[0].session_id,)
    )
    async with database.unit_of_work() as uow:
        await uow.audit.append_event(Event(gone.id, Action.HANDED_OUT, "operator", "ok", now))  # goes with the rest
        await uow.accounts.delete_account(deletion)
        assert await uow.accounts.get_account("1600") is None  # its own delete is visible
        await uow.commit()

    async with database.unit_of_work() as uow:
        assert await uow.accounts.get_account("1600") is None
        assert await uow.accounts.account_and_primary("1600") is None
        assert await uow.sessions.sessions(gone.id, include_retired=True) == []
        assert [await uow.sessions.find_session(s.session_id) for s in doomed] == [None, None]
        assert await uow.audit.events(gone.id, limit=10) == []
        assert await uow.audit.open_login_attempts(gone.id) == []
        assert await uow.audit.phones_with_open_login_attempts() == ["1601"]
        assert await uow.accounts.count_accounts() == 1
        assert [s.session_id for s in await uow.sessions.sessions(kept.id)] == [survivor.session_id]
        assert len(await uow.audit.events(kept.id, limit=10)) == 1
    assert await deletion_records(database) == [deletion]
    again = await add_account(database, "1600", clock.now())  # the phone is free again
    assert again.id != gone.id


async def test_delete_account_without_commit_deletes_nothing_and_keeps_no_record(database, clock):
    stored = await add_account(database, "1700", clock.now())
    async with database.unit_of_work() as uow:
        await uow.accounts.delete_account(AccountDeletion("1700", stored.id, clock.now(), "test", (), ()))
    async with database.unit_of_work() as uow:
        assert await uow.accounts.get_account("1700") is not None
    assert await deletion_records(database) == []
