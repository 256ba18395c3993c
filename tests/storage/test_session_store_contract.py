"""The SessionStore contract (``uow.sessions``), run against memory, SQLite and PostgreSQL.

Covers sessions (order, include_retired), find_session, add_session, save_session.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.storage.builders import account, add_account, session, session_string
from tgsessions.domain.errors import ConcurrentModification, InvalidInput
from tgsessions.domain.model import AccountDeletion, ClientIdentity, Origin, Role
from tgsessions.domain.secret import Secret
from tgsessions.domain.session_codec import SessionFormat
from tgsessions.domain.verdict import VerdictKind


async def test_duplicate_session_string_is_invalid_input(database, clock, cipher):
    first = await add_account(database, "300", clock.now())
    second = await add_account(database, "301", clock.now())
    async with database.unit_of_work() as uow:
        await uow.sessions.add_session(session(cipher, first.id, "a", clock.now()))
        await uow.commit()
    async with database.unit_of_work() as uow:
        with pytest.raises(InvalidInput) as caught:
            await uow.sessions.add_session(session(cipher, second.id, "a", clock.now()))
        assert caught.value.field == "session"
        assert caught.value.message == "this session string is already stored"
        assert session_string("a") not in str(caught.value), "the error must not carry the session string"


async def test_duplicate_session_in_the_same_unit_of_work_and_the_unit_of_work_stays_usable(database, clock, cipher):
    owner = await add_account(database, "310", clock.now())
    t0 = clock.now()
    async with database.unit_of_work() as uow:
        first = await uow.sessions.add_session(session(cipher, owner.id, "a", t0))
        with pytest.raises(InvalidInput, match="already stored"):
            await uow.sessions.add_session(session(cipher, owner.id, "a", t0))
        second = await uow.sessions.add_session(session(cipher, owner.id, "b", t0 + timedelta(seconds=1)))
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert [s.session_id for s in await uow.sessions.sessions(owner.id)] == [second.session_id, first.session_id]


async def test_add_session_sets_the_id_and_a_retired_session_keeps_no_string(database, clock, cipher):
    owner = await add_account(database, "320", clock.now())
    async with database.unit_of_work() as uow:
        live = session(cipher, owner.id, "l", clock.now())
        retired = session(cipher, owner.id, "r", clock.now(), role=Role.RETIRED)
        assert await uow.sessions.add_session(live) is live
        assert await uow.sessions.add_session(retired) is retired
        await uow.commit()
    assert live.id is not None and retired.id is not None and live.id != retired.id
    assert retired.string is None, "the object given is updated as stored"
    async with database.unit_of_work() as uow:
        (everything,) = [s for s in await uow.sessions.sessions(owner.id, include_retired=True) if s.id == retired.id]
    assert everything.string is None and everything.role is Role.RETIRED


async def test_sessions_round_trip_filter_and_order(database, clock, cipher):
    owner = await add_account(database, "600", clock.now())
    other = await add_account(database, "601", clock.now())
    t0 = clock.now()
    async with database.unit_of_work() as uow:
        keeper = await uow.sessions.add_session(session(cipher, owner.id, "k", t0, role=Role.KEEPER))
        old = await uow.sessions.add_session(session(cipher, owner.id, "old", t0 + timedelta(seconds=1)))
        new = await uow.sessions.add_session(session(cipher, owner.id, "new", t0 + timedelta(seconds=2)))
        gone = await uow.sessions.add_session(session(cipher, owner.id, "gone", t0 + timedelta(seconds=3)))
        await uow.sessions.add_session(session(cipher, other.id, "x", t0))
        await uow.commit()
    assert len({keeper.id, old.id, new.id, gone.id}) == 4

    gone.retire(t0 + timedelta(seconds=4))
    async with database.unit_of_work() as uow:
        await uow.sessions.save_session(gone)
        await uow.commit()

    async with database.unit_of_work() as uow:
        live = await uow.sessions.sessions(owner.id)
        everything = await uow.sessions.sessions(owner.id, include_retired=True)
    assert [s.session_id for s in live] == [new.session_id, old.session_id, keeper.session_id]
    assert live[0] == new
    assert live[0].string == Secret(session_string("new"))
    assert {s.session_id for s in everything} == {keeper.session_id, old.session_id, new.session_id, gone.session_id}
    retired = next(s for s in everything if s.session_id == gone.session_id)
    assert retired.role is Role.RETIRED
    assert retired.string is None


async def test_sessions_order_newest_role_since_first_then_newest_id(database, clock, cipher):
    owner = await add_account(database, "610", clock.now())
    t0 = clock.now()
    async with database.unit_of_work() as uow:
        first = await uow.sessions.add_session(session(cipher, owner.id, "t1", t0))
        second = await uow.sessions.add_session(session(cipher, owner.id, "t2", t0))  # same role_since, newer id
        newest = await uow.sessions.add_session(session(cipher, owner.id, "t3", t0 + timedelta(microseconds=1)))
        old = await uow.sessions.add_session(session(cipher, owner.id, "t4", t0 - timedelta(days=1), role=Role.RETIRED))
        assert [s.id for s in await uow.sessions.sessions(owner.id)] == [newest.id, second.id, first.id]  # own writes
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert [s.id for s in await uow.sessions.sessions(owner.id)] == [newest.id, second.id, first.id]
        assert [s.id for s in await uow.sessions.sessions(owner.id, include_retired=True)] == [
            newest.id,
            second.id,
            first.id,
            old.id,
        ]
        assert await uow.sessions.sessions(owner.id + 1000) == []
        assert await uow.sessions.sessions(owner.id + 1000, include_retired=True) == []


async def test_find_session_finds_any_account_and_retired_ones(database, clock, cipher):
    owner = await add_account(database, "700", clock.now())
    async with database.unit_of_work() as uow:
        stored = await uow.sessions.add_session(session(cipher, owner.id, "f", clock.now(), role=Role.RETIRED))
        await uow.commit()
    async with database.unit_of_work() as uow:
        found = await uow.sessions.find_session(stored.session_id)
        missing = await uow.sessions.find_session("s_" + "0" * 32)
    assert found is not None
    assert (found.id, found.account_id, found.role, found.string) == (stored.id, owner.id, Role.RETIRED, None)
    assert missing is None


async def test_find_session_across_accounts_live_and_retired(database, clock, cipher):
    first = await add_account(database, "710", clock.now())
    second = await add_account(database, "711", clock.now())
    async with database.unit_of_work() as uow:
        mine = await uow.sessions.add_session(session(cipher, first.id, "m", clock.now(), role=Role.PRIMARY))
        theirs = await uow.sessions.add_session(session(cipher, second.id, "t", clock.now()))
        found_inside = await uow.sessions.find_session(theirs.session_id)  # its own writes
        await uow.commit()
    assert found_inside is not None and found_inside.account_id == second.id
    theirs.retire(clock.advance(5))
    async with database.unit_of_work() as uow:
        await uow.sessions.save_session(theirs)
        await uow.commit()
    async with database.unit_of_work() as uow:
        found_mine = await uow.sessions.find_session(mine.session_id)
        found_theirs = await uow.sessions.find_session(theirs.session_id)
    assert found_mine is not None and (found_mine.account_id, found_mine.role) == (first.id, Role.PRIMARY)
    assert found_mine.string == Secret(session_string("m"))
    assert found_theirs is not None and (found_theirs.account_id, found_theirs.role) == (second.id, Role.RETIRED)
    assert found_theirs.string is None


async def test_save_session_round_trip(database, clock, cipher):
    owner = await add_account(database, "800", clock.now())
    async with database.unit_of_work() as uow:
        stored = await uow.sessions.add_session(session(cipher, owner.id, "s", clock.now(), origin=Origin.MINTED))
        await uow.commit()
    later = clock.advance(3600)
    stored.role = Role.PRIMARY
    stored.role_since = later
    stored.origin = Origin.PROMOTED
    stored.identity = ClientIdentity(api_id=1, device_model="Other")
    stored.verdict = VerdictKind.DEAD
    stored.verdict_reason = "auth_key_unregistered"
    stored.verdict_at = later
    stored.consecutive_failures = 3
    stored.open_until = later + timedelta(minutes=5)
    stored.auth_hash = -(2**62) + 7
    async with database.unit_of_work() as uow:
        await uow.sessions.save_session(stored)
        await uow.commit()
    async with database.unit_of_work() as uow:
        loaded = await uow.sessions.find_session(stored.session_id)
    assert loaded == stored
    assert loaded.open_until.utcoffset() == timedelta(0)


async def test_save_session_clears_optional_fields_and_keeps_the_source_format(database, clock, cipher):
    owner = await add_account(database, "810", clock.now())
    stored = session(cipher, owner.id, "o", clock.now())
    stored.source_format = SessionFormat.PYROGRAM
    stored.verdict = VerdictKind.ALIVE
    stored.verdict_at = clock.now()
    stored.auth_hash = 5
    async with database.unit_of_work() as uow:
        await uow.sessions.add_session(stored)
        await uow.commit()
    async with database.unit_of_work() as uow:
        loaded = await uow.sessions.find_session(stored.session_id)
    assert loaded == stored and loaded.source_format is SessionFormat.PYROGRAM
    loaded.verdict = loaded.verdict_at = loaded.auth_hash = None
    async with database.unit_of_work() as uow:
        await uow.sessions.save_session(loaded)
        await uow.commit()
    async with database.unit_of_work() as uow:
        again = await uow.sessions.find_session(stored.session_id)
    assert again == loaded and (again.verdict, again.verdict_at, again.auth_hash) == (None, None, None)


async def test_saving_a_session_that_is_no_longer_stored_is_concurrent_modification(database, clock, cipher):
    owner = await add_account(database, "820", clock.now())
    async with database.unit_of_work() as uow:
        stored = await uow.sessions.add_session(session(cipher, owner.id, "d", clock.now()))
        await uow.commit()
    async with database.unit_of_work() as uow:
        deletion = AccountDeletion("820", owner.id, clock.now(), "test", (stored.session_id,), ())
        await uow.accounts.delete_account(deletion)
        await uow.commit()
    stored.verdict = VerdictKind.ALIVE
    async with database.unit_of_work() as uow:
        with pytest.raises(ConcurrentModification):
            await uow.sessions.save_session(stored)


async def test_save_session_needs_a_stored_session(database, clock, cipher):
    owner = await add_account(database, "830", clock.now())
    async with database.unit_of_work() as uow:
        with pytest.raises(ValueError, match="id is None"):
            await uow.sessions.save_session(session(cipher, owner.id, "n", clock.now()))


async def test_session_writes_are_not_stored_without_commit(database, clock, cipher):
    async with database.unit_of_work() as uow:
        owner = await uow.accounts.add_account(account("840", clock.now()))
        added = await uow.sessions.add_session(session(cipher, owner.id, "u", clock.now()))
        assert await uow.sessions.find_session(added.session_id) is not None
    async with database.unit_of_work() as uow:
        assert await uow.sessions.find_session(added.session_id) is None
        assert await uow.sessions.sessions(owner.id, include_retired=True) == []
