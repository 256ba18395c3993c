"""The LeaseStore contract and lease-fenced commits, run against memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.storage.builders import account
from tgsessions.domain.errors import ConcurrentModification
from tgsessions.domain.model import Action, Event
from tgsessions.domain.ports import Lease

TTL = timedelta(seconds=30)


async def test_acquire_a_free_name(database, clock):
    lease = await database.leases.try_acquire("account:1", "worker-a", TTL)
    assert lease is not None
    assert (lease.name, lease.holder, lease.token) == ("account:1", "worker-a", 1)
    assert lease.expires_at == clock.now() + TTL


async def test_second_holder_is_refused_while_the_lease_is_valid(database, clock):
    first = await database.leases.try_acquire("account:1", "worker-a", TTL)
    clock.advance(29)
    assert await database.leases.try_acquire("account:1", "worker-b", TTL) is None
    other_name = await database.leases.try_acquire("account:2", "worker-b", TTL)
    assert other_name is not None
    assert first is not None


async def test_renewal_by_the_holder_keeps_the_token_and_extends(database, clock):
    first = await database.leases.try_acquire("job", "worker-a", TTL)
    clock.advance(20)
    renewed = await database.leases.try_acquire("job", "worker-a", TTL)
    assert renewed is not None
    assert renewed.token == first.token
    assert renewed.expires_at == clock.now() + TTL
    clock.advance(20)  # past the first expiry, within the renewed one
    assert await database.leases.try_acquire("job", "worker-b", TTL) is None


async def test_expired_lease_goes_to_the_next_holder_with_a_higher_token(database, clock):
    first = await database.leases.try_acquire("job", "worker-a", TTL)
    clock.advance(30)
    second = await database.leases.try_acquire("job", "worker-b", TTL)
    assert second is not None
    assert second.holder == "worker-b"
    assert second.token > first.token
    assert await database.leases.try_acquire("job", "worker-a", TTL) is None


async def test_release_frees_the_name_and_the_next_token_is_higher(database, clock):
    first = await database.leases.try_acquire("job", "worker-a", TTL)
    await database.leases.release(first)
    second = await database.leases.try_acquire("job", "worker-b", TTL)
    assert second is not None
    assert second.token > first.token


async def test_releasing_a_lost_lease_is_ignored(database, clock):
    lost = await database.leases.try_acquire("job", "worker-a", TTL)
    clock.advance(31)
    current = await database.leases.try_acquire("job", "worker-b", TTL)
    await database.leases.release(lost)
    assert await database.leases.try_acquire("job", "worker-c", TTL) is None
    assert current is not None


async def _add_account_fenced(database, clock, phone, fence):
    async with database.unit_of_work(fence=fence) as uow:
        stored = await uow.accounts.add_account(account(phone, clock.now()))
        await uow.accounts.append_event(Event(stored.id, Action.ACCOUNT_ADDED, "test", "ok", clock.now()))
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


async def test_forget_deletes_only_a_lease_that_is_still_ours(database, clock):
    leases = database.leases
    held = await leases.try_acquire("phone:79990000000", "a", TTL)
    assert held is not None
    await leases.forget(Lease(held.name, "someone-else", held.token, held.expires_at))  # not ours: kept
    assert await leases.try_acquire("phone:79990000000", "b", TTL) is None
    await leases.forget(held)
    again = await leases.try_acquire("phone:79990000000", "b", TTL)
    assert again is not None and again.token == 1  # the row was gone: a fresh start
