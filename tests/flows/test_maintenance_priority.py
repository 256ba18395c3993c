"""Foreground first: a fetch waiting for a phone maintenance holds gets it after one step, and maintenance never
pushes a hot verdict out of the cache."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from tests.flows.conftest import MakeFactory, no_sleep, seed
from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.model import Action
from tgsessions.domain.ports import Cipher, Database, SessionAccess
from tgsessions.domain.runs import RunStatus
from tgsessions.domain.verdict import Verdict
from tgsessions.service.factory import SessionFactory
from tgsessions.service.maintenance.db_turns import TurnTakingDatabase
from tgsessions.service.maintenance.verdicts import MaintenanceVerdicts
from tgsessions.service.options import FactoryOptions, MaintenanceOptions
from tgsessions.service.sessions.phone_locks import PhoneLocks
from tgsessions.testing.clock import FakeClock

PHONE = "79160000401"


async def test_the_phone_lock_says_whether_someone_waits_for_it(database: Database) -> None:
    locks = PhoneLocks(database.leases, ttl=timedelta(seconds=10), wait=5.0)
    order: list[str] = []
    assert not locks.has_waiters(PHONE)
    async with locks.hold(PHONE):
        assert not locks.has_waiters(PHONE)  # the holder is no waiter

        async def second() -> None:
            async with locks.hold(PHONE):
                order.append("second")

        waiting = asyncio.create_task(second())
        for _ in range(20):
            await asyncio.sleep(0)
        assert locks.has_waiters(PHONE) and not locks.has_waiters("79160000402")
        order.append("first")
    await waiting
    assert order == ["first", "second"] and not locks.has_waiters(PHONE)


class GatedGateway(SimulatedTelegramGateway):
    """The simulated gateway, writing down who validates (a maintenance worker or not); the first validation of a
    maintenance worker waits for ``release``."""

    def __init__(self, world: SimulatedTelegram) -> None:
        super().__init__(world)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.calls: list[str] = []

    async def validate(self, access: SessionAccess) -> Verdict:
        task = asyncio.current_task()
        who = "maintenance" if task is not None and task.get_name().startswith("maintenance-worker") else "fetch"
        self.calls.append(who)
        if who == "maintenance" and not self.release.is_set():
            self.entered.set()
            await self.release.wait()
        return await super().validate(access)


async def test_a_fetch_waiting_for_the_phone_gets_it_after_one_step_of_maintenance(
    database: Database, world: SimulatedTelegram, cipher: Cipher, clock: FakeClock, options: FactoryOptions
) -> None:
    gateway = GatedGateway(world)
    factory = SessionFactory(db=database, gateway=gateway, cache=MemoryVerdictCache(clock), cipher=cipher,
                             clock=clock, options=replace(options, maintenance=MaintenanceOptions(workers=1)),
                             sleep=no_sleep)  # fmt: skip
    try:
        await seed(factory, world, PHONE)
        clock.advance(hours=25)  # every session is due for its keep-alive, and no verdict is cached
        run = await factory.start_maintenance()
        await asyncio.wait_for(gateway.entered.wait(), timeout=10)  # maintenance holds the phone, in its first step
        fetch = asyncio.create_task(factory.fetch_one(PHONE))
        locks = factory._ctx.locks  # what the fetch waits on
        for _ in range(200):
            if locks.has_waiters(PHONE):
                break
            await asyncio.sleep(0.005)
        assert locks.has_waiters(PHONE)
        gateway.release.set()
        assert (await fetch).session
        await factory.wait_for_maintenance()
        done = await factory.maintenance_run(run.id or 0)
        assert done.status is RunStatus.FINISHED and done.report["healthy"] == 1
        # in the account's history: one keep-alive check of maintenance, then the fetch, then the rest of the account
        events = list(reversed((await factory.history(PHONE, limit=100)).events))
        events = events[next(i for i, e in enumerate(events) if e.actor == "scheduler") :]
        handed_out = next(i for i, e in enumerate(events) if e.action is Action.HANDED_OUT)
        assert [e.actor for e in events[:handed_out]].count("scheduler") == 1
        assert events[handed_out - 1].action is Action.VALIDATED and events[handed_out].actor == "python"
        assert events[-1].action is Action.MAINTAINED and events[-1].actor == "scheduler"
        assert sum(e.action is Action.VALIDATED and e.actor == "scheduler" for e in events) >= 3
    finally:
        await factory.aclose()


async def test_maintenance_refreshes_hot_verdicts_and_never_pushes_one_out(
    make_factory: MakeFactory, database: Database, world: SimulatedTelegram, cipher: Cipher, clock: FakeClock
) -> None:
    small = MemoryVerdictCache(clock, max_entries=6)
    factory = make_factory()
    hot = [f"7916000041{i}" for i in range(3)]
    for phone in [*hot, *(f"7916000042{i}" for i in range(9))]:
        await seed(factory, world, phone)  # 12 accounts, 48 sessions: eight times the cache
    serving = SessionFactory(db=database, gateway=SimulatedTelegramGateway(world), cache=small, cipher=cipher,
                             clock=clock,
                             options=replace(factory.options, maintenance=MaintenanceOptions(keepalive=timedelta(0))),
                             sleep=no_sleep)  # fmt: skip
    try:
        for phone in hot:
            await serving.fetch_one(phone)  # the hot primaries' verdicts are cached
        before = await small.stats()
        assert before.entries == 3
        clock.advance(seconds=60)
        run = await serving.start_maintenance()
        await serving.wait_for_maintenance()
        done = await serving.maintenance_run(run.id or 0)
        assert done.status is RunStatus.FINISHED and done.report["kept_alive"] == 48
        after = await small.stats()
        assert (after.entries, after.evictions) == (3, 0)  # nothing pushed out, nothing added
        clock.advance(seconds=250)  # the fetches' own verdicts would have expired by now: maintenance refreshed them
        world.reset_calls()
        for phone in hot:
            assert (await serving.fetch_one(phone)).how == "cached"
        assert sum(world.calls.values()) == 0
    finally:
        await serving.aclose()


async def test_the_maintenance_view_of_the_cache_keeps_its_own_verdicts_and_only_refreshes_shared_ones(
    clock: FakeClock,
) -> None:
    shared = MemoryVerdictCache(clock, max_entries=2)
    view = MaintenanceVerdicts(shared, clock, ttl_seconds=60, capacity=2)
    hot, cold = Verdict.alive(clock.now()), Verdict.dead("auth_key_unregistered", clock.now())
    await shared.put("hot", hot)
    await view.put("cold", cold)  # not held by the shared cache: kept here only
    await view.put("hot", Verdict.alive(clock.now(), frozen=True))  # held: refreshed
    assert await shared.get("cold") is None and (await shared.get("hot")) == Verdict.alive(clock.now(), frozen=True)
    assert await view.get("cold") == cold
    assert await view.get_many(["cold", "hot", "absent"]) == [cold, Verdict.alive(clock.now(), frozen=True), None]
    assert (view.refreshed, view.kept_local) == (1, 1)
    await view.put("another", hot)
    await view.put("a third", hot)  # the local store holds two: the oldest one ("cold") goes
    assert await view.get("cold") is None
    clock.advance(seconds=61)
    assert await view.get("a third") is None  # local verdicts live a minute
    await view.invalidate("hot")  # an invalidation reaches the shared cache
    assert await shared.get("hot") is None
    assert (await view.stats()).evictions == 0


async def test_maintenance_storage_calls_take_turns_and_a_nested_one_does_not_wait(database: Database) -> None:
    turns = TurnTakingDatabase(database, permits=1)
    inside = 0
    most = 0

    async def unit() -> None:
        nonlocal inside, most
        async with turns.unit_of_work() as uow:
            inside += 1
            most = max(most, inside)
            await uow.accounts.count_accounts()
            async with turns.unit_of_work() as nested:  # the same task: no second turn needed
                await nested.accounts.count_accounts()
            await asyncio.sleep(0)
            inside -= 1

    await asyncio.wait_for(asyncio.gather(*(unit() for _ in range(5))), timeout=10)
    assert most == 1
    lease = await turns.leases.try_acquire("phone:1", "me", timedelta(seconds=5))
    assert lease is not None
    await turns.leases.release(lease)
    assert turns.backend == database.backend
