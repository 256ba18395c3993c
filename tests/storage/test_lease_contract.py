"""The LeaseStore contract (``db.leases``: try_acquire, release, forget), run against memory, SQLite and PostgreSQL.

Lease-fenced commits are UnitOfWork behaviour: see test_unit_of_work_contract.py.
"""

from __future__ import annotations

from datetime import timedelta

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


async def test_forget_deletes_only_a_lease_that_is_still_ours(database, clock):
    leases = database.leases
    held = await leases.try_acquire("phone:79990000000", "a", TTL)
    assert held is not None
    await leases.forget(Lease(held.name, "someone-else", held.token, held.expires_at))  # not ours: kept
    assert await leases.try_acquire("phone:79990000000", "b", TTL) is None
    await leases.forget(held)
    again = await leases.try_acquire("phone:79990000000", "b", TTL)
    assert again is not None and again.token == 1  # the row was gone: a fresh start
