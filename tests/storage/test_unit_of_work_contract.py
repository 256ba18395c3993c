"""The UnitOfWork contract (one transaction over every store; commit, rollback, lease fences and release on commit),
run against memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.storage.builders import account, add_account, api_key, session
from tgsessions.domain.errors import ConcurrentModification
from tgsessions.domain.model import Action, Event
from tgsessions.domain.runs import MaintenanceRun

NOW = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)
TTL = timedelta(seconds=30)


async def test_backend_name(database):
    assert database.backend in ("memory", "sqlite", "postgresql")


async def test_nothing_is_stored_without_commit(database, clock, cipher):
    async with database.unit_of_work() as uow:
        added = await uow.accounts.add_account(account("500", clock.now()))
        await uow.audit.append_event(Event(added.id, Action.ACCOUNT_ADDED, "test", "ok", clock.now()))
        assert await uow.accounts.get_account("500") is not None, "a unit of work sees its own writes"
    async with database.unit_of_work() as uow:
        assert await uow.accounts.get_account("500") is None
        assert await uow.accounts.count_accounts() == 0


async def test_an_exception_rolls_back(database, clock):
    stored = await add_account(database, "510", clock.now())

    async def change_then_fail() -> None:
        async with database.unit_of_work() as uow:
            loaded = await uow.accounts.get_account("510")
            loaded.frozen = True
            await uow.accounts.save_account(loaded)
            await uow.audit.append_event(Event(stored.id, Action.STATE_CHANGED, "test", "ok", clock.now()))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await change_then_fail()
    async with database.unit_of_work() as uow:
        again = await uow.accounts.get_account("510")
        assert await uow.audit.events(stored.id, limit=10) == []
    assert again is not None
    assert (again.frozen, again.version) == (False, 1)


async def test_an_exception_rolls_back_keys_and_runs(database):
    async def add_then_fail() -> None:
        async with database.unit_of_work() as uow:
            await uow.keys.add_key(api_key("r"))
            await uow.runs.add_run(MaintenanceRun(actor="cli", started_at=NOW))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await add_then_fail()
    async with database.unit_of_work() as uow:
        assert await uow.keys.keys() == []
        assert await uow.runs.latest_run() is None


async def test_keys_share_the_transaction_of_accounts_and_runs(database, clock):
    async with database.unit_of_work() as uow:
        await uow.accounts.add_account(account("555", clock.now()))
        await uow.keys.add_key(api_key("t"))
        await uow.runs.add_run(MaintenanceRun(actor="cli", started_at=NOW))
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.accounts.count_accounts() == 1
        assert await uow.keys.key_by_id("kidt") is not None
        assert await uow.runs.latest_run() is not None


async def _write_through_every_store(uow, clock, cipher, tag: str) -> None:
    owner = await uow.accounts.add_account(account(f"60{tag}", clock.now()))
    await uow.sessions.add_session(session(cipher, owner.id, f"s{tag}", clock.now()))
    await uow.audit.append_event(Event(owner.id, Action.ACCOUNT_ADDED, "test", "ok", clock.now()))
    await uow.bulk.add_accounts([account(f"61{tag}", clock.now())])
    await uow.keys.add_key(api_key(tag))
    await uow.runs.add_run(MaintenanceRun(actor=f"run-{tag}", started_at=NOW))


async def _what_is_stored(database) -> tuple[list[str], int, int, list[str], str | None]:
    async with database.unit_of_work() as uow:
        phones = [a.phone for a in await uow.accounts.accounts_page(after_id=None, limit=10)]
        sessions = events = 0
        for stored in await uow.accounts.accounts_page(after_id=None, limit=10):
            sessions += len(await uow.sessions.sessions(stored.id))
            events += len(await uow.audit.events(stored.id, limit=10))
        keys = [k.key_id for k in await uow.keys.keys()]
        latest = await uow.runs.latest_run()
    return phones, sessions, events, keys, latest.actor if latest else None


async def test_every_store_commits_together(database, clock, cipher):
    async with database.unit_of_work() as uow:
        await _write_through_every_store(uow, clock, cipher, "1")
        await uow.commit()
    assert await _what_is_stored(database) == (["601", "611"], 1, 1, ["kid1"], "run-1")


async def _add_account_fenced(database, clock, phone, fence):
    async with database.unit_of_work(fence=fence) as uow:
        stored = await uow.accounts.add_account(account(phone, clock.now()))
        await uow.audit.append_event(Event(stored.id, Action.ACCOUNT_ADDED, "test", "ok", clock.now()))
        await uow.commit()


async def test_fenced_commit_with_a_valid_lease(database, clock):
    lease = await database.leases.try_acquire("account:77", "worker-a", TTL)
    await _add_account_fenced(database, clock, "77", lease)
    async with database.unit_of_work() as uow:
        assert await uow.accounts.get_account("77") is not None


async def test_fenced_commit_with_a_lost_lease_fails_and_writes_nothing(database, clock):
    lease = await database.leases.try_acquire("account:78", "worker-a", TTL)
    clock.advance(31)
    taken = await database.leases.try_acquire("account:78", "worker-b", TTL)
    assert taken is not None
    with pytest.raises(ConcurrentModification, match="lease on account:78 was lost"):
        await _add_account_fenced(database, clock, "78", lease)
    async with database.unit_of_work() as uow:
        assert await uow.accounts.get_account("78") is None
        assert await uow.accounts.count_accounts() == 0


async def test_fenced_commit_with_an_expired_lease_fails_even_if_nobody_took_it(database, clock):
    lease = await database.leases.try_acquire("account:79", "worker-a", TTL)
    clock.advance(30)
    with pytest.raises(ConcurrentModification):
        await _add_account_fenced(database, clock, "79", lease)
    async with database.unit_of_work() as uow:
        assert await uow.accounts.get_account("79") is None


async def test_fenced_commit_after_release_fails(database, clock):
    lease = await database.leases.try_acquire("account:80", "worker-a", TTL)
    await database.leases.release(lease)
    with pytest.raises(ConcurrentModification):
        await _add_account_fenced(database, clock, "80", lease)


async def test_a_lost_fence_rolls_back_every_store(database, clock, cipher):
    lease = await database.leases.try_acquire("job", "worker-a", TTL)
    clock.advance(31)  # taken before the unit of work starts: on SQLite a unit of work holds the write lock
    assert await database.leases.try_acquire("job", "worker-b", TTL) is not None
    async with database.unit_of_work(fence=lease) as uow:
        await _write_through_every_store(uow, clock, cipher, "2")
        with pytest.raises(ConcurrentModification, match="lease on job was lost"):
            await uow.commit()
    assert await _what_is_stored(database) == ([], 0, 0, [], None)


async def test_a_fenced_commit_neither_extends_nor_releases_the_lease(database, clock):
    lease = await database.leases.try_acquire("account:81", "worker-a", TTL)
    clock.advance(10)
    await _add_account_fenced(database, clock, "81", lease)
    assert await database.leases.try_acquire("account:81", "worker-b", TTL) is None  # still held
    clock.advance(20)  # the original expiry: the commit did not extend it
    taken = await database.leases.try_acquire("account:81", "worker-b", TTL)
    assert taken is not None and taken.token > lease.token


async def test_a_renewed_lease_still_fences_with_the_first_lease_object(database, clock):
    lease = await database.leases.try_acquire("account:82", "worker-a", TTL)
    clock.advance(20)
    renewed = await database.leases.try_acquire("account:82", "worker-a", TTL)
    assert renewed is not None and renewed.token == lease.token
    clock.advance(20)  # past the first expiry, within the renewal
    await _add_account_fenced(database, clock, "82", lease)
    async with database.unit_of_work() as uow:
        assert await uow.accounts.get_account("82") is not None


async def test_release_on_commit_gives_the_lease_up_in_the_same_commit(database, clock):
    lease = await database.leases.try_acquire("account:83", "worker-a", TTL)
    async with database.unit_of_work(fence=lease, release=True) as uow:
        await uow.accounts.add_account(account("83", clock.now()))
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.accounts.get_account("83") is not None
    taken = await database.leases.try_acquire("account:83", "worker-b", TTL)  # free at once
    assert taken is not None and taken.token > lease.token
    with pytest.raises(ConcurrentModification):  # and no longer fences anything
        await _add_account_fenced(database, clock, "84", lease)


async def test_release_without_commit_keeps_the_lease(database, clock):
    lease = await database.leases.try_acquire("account:85", "worker-a", TTL)
    async with database.unit_of_work(fence=lease, release=True) as uow:
        await uow.accounts.add_account(account("85", clock.now()))
    assert await database.leases.try_acquire("account:85", "worker-b", TTL) is None
    await _add_account_fenced(database, clock, "85", lease)  # still ours


async def test_release_on_a_lost_lease_fails_and_writes_nothing(database, clock):
    lease = await database.leases.try_acquire("account:86", "worker-a", TTL)
    clock.advance(31)
    taken = await database.leases.try_acquire("account:86", "worker-b", TTL)
    async with database.unit_of_work(fence=lease, release=True) as uow:
        await uow.accounts.add_account(account("86", clock.now()))
        with pytest.raises(ConcurrentModification):
            await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.accounts.get_account("86") is None
    assert await database.leases.try_acquire("account:86", "worker-c", TTL) is None  # worker-b keeps it
    assert taken is not None


async def test_release_needs_a_fence(database):
    with pytest.raises(ValueError, match="release needs a fence"):
        database.unit_of_work(release=True)
