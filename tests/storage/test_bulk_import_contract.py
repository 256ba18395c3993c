"""The BulkImport contract (``uow.bulk``), run against memory, SQLite and PostgreSQL.

Covers accounts_by_phone, sessions_by_id, add_accounts, add_sessions (all or none). The first import-shaped round
trip lives in tests/migration/test_bulk_repository.py.
"""

from __future__ import annotations

import pytest

from tests.storage.builders import account, add_account, session, session_string
from tgsessions.domain.errors import AccountExists, InvalidInput
from tgsessions.domain.model import Account, ClientIdentity, Origin, Role, Session
from tgsessions.domain.ports import Database
from tgsessions.domain.secret import Secret
from tgsessions.testing.clock import FakeClock


async def test_add_accounts_sets_every_id_in_batch_order(database, clock):
    batch = [account(f"2000{n}", clock.now(), with_secrets=n == 1) for n in range(4)]
    async with database.unit_of_work() as uow:
        assert await uow.bulk.add_accounts(batch) is None
        await uow.commit()
    ids = [a.id for a in batch]
    assert None not in ids and ids == sorted(ids) and len(set(ids)) == 4
    async with database.unit_of_work() as uow:
        stored = await uow.accounts.accounts_page(after_id=None, limit=10)
    assert stored == batch
    assert stored[1].two_fa == Secret("2fa-password-20001")


async def test_add_accounts_is_all_or_none_when_a_phone_is_stored(database, clock):
    await add_account(database, "2101", clock.now())
    batch = [account(phone, clock.now()) for phone in ("2100", "2101", "2102")]
    async with database.unit_of_work() as uow:
        with pytest.raises(AccountExists):
            await uow.bulk.add_accounts(batch)
        assert all(a.id is None for a in batch)
        assert await uow.accounts.count_accounts() == 1  # none of the batch, not even the ones before the clash
        await uow.accounts.add_account(account("2103", clock.now()))  # the unit of work stays usable
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert sorted(a.phone for a in await uow.accounts.accounts_page(after_id=None, limit=10)) == ["2101", "2103"]


async def test_add_accounts_is_all_or_none_when_a_phone_is_repeated(database, clock):
    batch = [account(phone, clock.now()) for phone in ("2200", "2201", "2200")]
    async with database.unit_of_work() as uow:
        with pytest.raises(AccountExists):
            await uow.bulk.add_accounts(batch)
        assert all(a.id is None for a in batch)
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.accounts.count_accounts() == 0


async def test_add_sessions_sets_every_id_and_retired_ones_keep_no_string(database, clock, cipher):
    owner = await add_account(database, "2300", clock.now())
    batch = [
        session(cipher, owner.id, "b1", clock.now(), role=Role.PRIMARY),
        session(cipher, owner.id, "b2", clock.now(), role=Role.RETIRED),
        session(cipher, owner.id, "b3", clock.now()),
    ]
    async with database.unit_of_work() as uow:
        assert await uow.bulk.add_sessions(batch) is None
        await uow.commit()
    ids = [s.id for s in batch]
    assert None not in ids and ids == sorted(ids) and len(set(ids)) == 3
    assert batch[1].string is None and batch[0].string == Secret(session_string("b1"))
    async with database.unit_of_work() as uow:
        stored = {s.id: s for s in await uow.sessions.sessions(owner.id, include_retired=True)}
    assert stored == {s.id: s for s in batch}


async def test_add_sessions_is_all_or_none_when_a_string_is_stored(database, clock, cipher):
    owner = await add_account(database, "2400", clock.now())
    async with database.unit_of_work() as uow:
        await uow.sessions.add_session(session(cipher, owner.id, "s2", clock.now()))
        await uow.commit()
    batch = [session(cipher, owner.id, tag, clock.now()) for tag in ("s1", "s2", "s3")]
    async with database.unit_of_work() as uow:
        with pytest.raises(InvalidInput) as caught:
            await uow.bulk.add_sessions(batch)
        assert (caught.value.field, caught.value.message) == ("session", "this session string is already stored")
        assert session_string("s2") not in str(caught.value)
        assert all(s.id is None for s in batch)
        assert len(await uow.sessions.sessions(owner.id)) == 1
        await uow.sessions.add_session(session(cipher, owner.id, "s4", clock.now()))  # still usable
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert len(await uow.sessions.sessions(owner.id)) == 2


async def test_add_sessions_is_all_or_none_when_a_string_is_repeated(database, clock, cipher):
    owner = await add_account(database, "2500", clock.now())
    batch = [session(cipher, owner.id, tag, clock.now()) for tag in ("r1", "r2", "r1")]
    async with database.unit_of_work() as uow:
        with pytest.raises(InvalidInput):
            await uow.bulk.add_sessions(batch)
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.sessions.sessions(owner.id, include_retired=True) == []


async def test_empty_batches_write_nothing(database, clock):
    async with database.unit_of_work() as uow:
        await uow.bulk.add_accounts([])
        await uow.bulk.add_sessions([])
        assert await uow.bulk.accounts_by_phone([]) == []
        assert await uow.bulk.sessions_by_id([]) == []
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.accounts.count_accounts() == 0


async def test_accounts_by_phone_finds_the_stored_ones_once_each_over_many_phones(database, clock):
    phones = [f"26{n:04d}" for n in range(620)]  # more than one IN (...) chunk
    async with database.unit_of_work() as uow:
        await uow.bulk.add_accounts([account(phone, clock.now()) for phone in phones])
        await uow.commit()
    wanted = phones[::-1] + phones[:3] + ["79999999999"]  # reversed, some repeated, one unknown
    async with database.unit_of_work() as uow:
        found = await uow.bulk.accounts_by_phone(wanted)
        few = await uow.bulk.accounts_by_phone([phones[7], "nope", phones[600]])
    assert sorted(a.phone for a in found) == phones
    assert sorted(a.phone for a in few) == [phones[7], phones[600]]
    assert all(a.id is not None for a in found)


async def test_sessions_by_id_finds_any_account_and_retired_ones(database, clock, cipher):
    first = await add_account(database, "2700", clock.now())
    second = await add_account(database, "2701", clock.now())
    mine = session(cipher, first.id, "m", clock.now())
    retired = session(cipher, first.id, "x", clock.now(), role=Role.RETIRED)
    theirs = session(cipher, second.id, "t", clock.now(), role=Role.KEEPER)
    async with database.unit_of_work() as uow:
        await uow.bulk.add_sessions([mine, retired, theirs])
        await uow.commit()
    wanted = [theirs.session_id, retired.session_id, mine.session_id, mine.session_id, "s_" + "0" * 32]
    async with database.unit_of_work() as uow:
        found = {s.session_id: s for s in await uow.bulk.sessions_by_id(wanted)}
    assert len(found) == 3
    assert (found[mine.session_id].account_id, found[mine.session_id].string) == (first.id, mine.string)
    assert (found[theirs.session_id].account_id, found[theirs.session_id].role) == (second.id, Role.KEEPER)
    assert (found[retired.session_id].role, found[retired.session_id].string) == (Role.RETIRED, None)


async def test_bulk_writes_are_seen_by_the_other_stores_of_the_unit_of_work(database, clock, cipher):
    async with database.unit_of_work() as uow:
        batch = [account("2800", clock.now()), account("2801", clock.now())]
        await uow.bulk.add_accounts(batch)
        assert (await uow.accounts.get_account("2801")).id == batch[1].id
        assert {a.phone for a in await uow.bulk.accounts_by_phone(["2800", "2801"])} == {"2800", "2801"}
        added = session(cipher, batch[0].id, "w", clock.now(), role=Role.PRIMARY)
        await uow.bulk.add_sessions([added])
        assert [s.id for s in await uow.sessions.sessions(batch[0].id)] == [added.id]
        assert [s.id for s in await uow.bulk.sessions_by_id([added.session_id])] == [added.id]
        with pytest.raises(AccountExists):
            await uow.accounts.add_account(account("2800", clock.now()))
        with pytest.raises(InvalidInput):
            await uow.sessions.add_session(session(cipher, batch[1].id, "w", clock.now()))
    async with database.unit_of_work() as uow:  # not committed
        assert await uow.bulk.accounts_by_phone(["2800", "2801"]) == []


async def test_bulk_reads_and_inserts(database: Database, clock: FakeClock) -> None:
    now = clock.now()
    batch = [Account(f"7916000000{i}", ClientIdentity(), now, now, two_fa=Secret(f"pw{i}")) for i in range(3)]
    async with database.unit_of_work() as uow:
        await uow.bulk.add_accounts(batch)
        ids = [a.id for a in batch]
        assert None not in ids and len(set(ids)) == 3
        sessions = [
            Session(
                f"s_{i}", ids[i], Role.PRIMARY, Origin.IMPORTED, ClientIdentity(), now, now, string=Secret(f"1s{i}")
            )  # type: ignore[arg-type]
            for i in range(3)
        ]
        await uow.bulk.add_sessions(sessions)
        assert all(s.id is not None for s in sessions)
        with pytest.raises(AccountExists):
            await uow.bulk.add_accounts([Account("79160000001", ClientIdentity(), now, now)])
        with pytest.raises(InvalidInput):
            await uow.bulk.add_sessions([Session("s_1", ids[0], Role.BACKUP, Origin.IMPORTED,  # type: ignore[arg-type]
                                                     ClientIdentity(), now, now, string=Secret("1x"))])  # fmt: skip
        await uow.commit()
    async with database.unit_of_work() as uow:
        found = await uow.bulk.accounts_by_phone(["79160000002", "79160000000", "79999999999"])
        assert sorted((a.phone, a.two_fa.reveal() if a.two_fa else None) for a in found) == [
            ("79160000000", "pw0"),
            ("79160000002", "pw2"),
        ]
        stored = await uow.bulk.sessions_by_id(["s_0", "s_2", "s_9"])
        assert sorted((s.session_id, s.string.reveal() if s.string else None) for s in stored) == [
            ("s_0", "1s0"),
            ("s_2", "1s2"),
        ]
        assert await uow.accounts.count_accounts() == 3
