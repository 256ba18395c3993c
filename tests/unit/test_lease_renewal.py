"""Per-phone leases are short and renewed while held: a living holder keeps the phone however long its work takes,
a dead holder's lease frees within one TTL, and a renewal never re-claims a released phone."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tgsessions.domain.clock import SystemClock
from tgsessions.domain.errors import ConcurrentModification
from tgsessions.service.sessions.phone_locks import PhoneLocks
from tgsessions.testing.memory_db import InMemoryDatabase

TTL = timedelta(seconds=0.3)


def locks(database: InMemoryDatabase, holder: str, *, wait: float = 0.05) -> PhoneLocks:
    return PhoneLocks(database.leases, ttl=TTL, wait=wait, holder=holder)


async def test_a_living_holder_keeps_the_phone_longer_than_the_ttl() -> None:
    database = InMemoryDatabase(SystemClock())
    first, second = locks(database, "first"), locks(database, "second")
    async with first.hold("79990000001") as hold:
        await asyncio.sleep(TTL.total_seconds() * 4)  # four TTLs of work: renewed all along
        with pytest.raises(ConcurrentModification):
            async with second.hold("79990000001"):
                pass
        assert database.holds(hold.lease)
    async with second.hold("79990000001"):  # released at once when the block ends
        pass


async def test_a_dead_holders_lease_is_taken_over_within_one_ttl() -> None:
    database = InMemoryDatabase(SystemClock())
    dead = await database.leases.try_acquire("phone:79990000001", "dead-process", TTL)
    assert dead is not None  # claimed, then never renewed: its process is gone
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with locks(database, "alive", wait=5.0).hold("79990000001") as hold:
        waited = loop.time() - started
        assert hold.lease.token == dead.token + 1
    assert waited <= TTL.total_seconds() + 0.3


async def test_a_renewal_racing_the_release_gives_the_phone_up_again() -> None:
    database = InMemoryDatabase(SystemClock())
    mine = locks(database, "mine")
    async with mine.hold("79990000001") as hold:
        await database.leases.release(hold.lease)  # a final commit gave the lease up...
        hold.released = True
        await asyncio.sleep(TTL.total_seconds() / 2)  # ...while a renewal may be on its way
    async with locks(database, "other").hold("79990000001"):
        pass  # nobody holds it any more
