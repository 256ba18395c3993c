"""Maintenance runs: keep-alive, resuming after an interruption (cancelled task, or a row a dead instance left
``running``), and the lease that keeps runs one at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from tests.flows.conftest import MakeFactory, seed
from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.errors import MaintenanceRunning
from tgsessions.domain.model import Action
from tgsessions.domain.ports import Cipher, Database, SessionAccess
from tgsessions.domain.runs import MaintenanceRun, RunStatus
from tgsessions.domain.verdict import Verdict
from tgsessions.service.factory import SessionFactory
from tgsessions.service.maintenance.runs import LEASE_NAME
from tgsessions.service.options import FactoryOptions
from tgsessions.testing.clock import FakeClock

PHONES = [f"7916000020{i}" for i in range(6)]


class StallingGateway(SimulatedTelegramGateway):
    """The simulated gateway, except that validating a session of ``stall_phone`` never returns."""

    def __init__(self, world: SimulatedTelegram, stall_phone: str) -> None:
        super().__init__(world)
        self.stall_phone = stall_phone
        self.stalled = asyncio.Event()

    async def validate(self, access: SessionAccess) -> Verdict:
        if access.phone == self.stall_phone:
            self.stalled.set()
            await asyncio.Event().wait()
        return await super().validate(access)


async def account_ids(database: Database) -> dict[str, int]:
    ids = {}
    async with database.unit_of_work() as uow:
        for phone in PHONES:
            account = await uow.accounts.get_account(phone)
            assert account is not None and account.id is not None
            ids[phone] = account.id
    return ids


async def maintained(factory: SessionFactory, phone: str) -> int:
    events = (await factory.history(phone, limit=500)).events
    return sum(event.action is Action.MAINTAINED for event in events)


async def eventually(condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait (at most 10 s of real time) until ``condition`` holds."""
    for _ in range(1000):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not come true within 10 s")


async def finished_run(factory: SessionFactory, run: MaintenanceRun) -> MaintenanceRun:
    await factory.wait_for_maintenance()
    assert run.id is not None
    return await factory.maintenance_run(run.id)


async def test_keep_alive_reconnects_only_sessions_not_confirmed_recently(
    factory: SessionFactory, world: SimulatedTelegram, clock: FakeClock
) -> None:
    await seed(factory, world, PHONES[0], backups=2)
    await seed(factory, world, PHONES[1], backups=2)
    report = await factory.run_maintenance()
    assert report.kept_alive == 2 * 4  # no verdict of Telegram recorded yet: every session is reconnected
    clock.advance(hours=23)  # confirmed 23 h ago: within the 24 h keep-alive, and the cache has expired
    world.reset_calls()
    report = await factory.run_maintenance()
    assert report.kept_alive == 0
    assert world.calls["validate"] == 2 * 4  # the run still checks everything, once each (through the cache)

    clock.advance(hours=2)  # the last real check is 2 h old: within the keep-alive
    world.reset_calls()
    assert (await factory.run_maintenance()).kept_alive == 0

    clock.advance(hours=25)
    world.reset_calls()
    report = await factory.run_maintenance()
    assert report.kept_alive == 2 * 4 and report.healthy == 2
    assert world.calls["validate"] == 2 * 4  # the steps after the keep-alive found its verdicts in the cache


async def test_keep_alive_finds_a_dead_primary_and_promotes(
    factory: SessionFactory, world: SimulatedTelegram, clock: FakeClock
) -> None:
    seeded = await seed(factory, world, PHONES[0], backups=2)
    world.revoke(seeded.primary)
    clock.advance(hours=25)
    report = await factory.run_maintenance()
    assert report.kept_alive == 4 and report.promoted == 1 and report.retired == 1
    assert (await factory.session_status(PHONES[0])).primary_alive is True


async def test_a_cancelled_run_resumes_after_its_low_watermark_and_no_account_is_skipped(
    database: Database,
    world: SimulatedTelegram,
    cipher: Cipher,
    clock: FakeClock,
    options: FactoryOptions,
    make_factory: MakeFactory,
) -> None:
    setup = make_factory()
    for phone in PHONES:
        await seed(setup, world, phone)
    ids = await account_ids(database)
    clock.advance(hours=25)  # every session is due for its keep-alive, so every account talks to Telegram

    stalling = StallingGateway(world, stall_phone=PHONES[3])
    first = SessionFactory(
        db=database, gateway=stalling, cache=MemoryVerdictCache(clock), cipher=cipher, clock=clock, options=options
    )
    run = await first.start_maintenance()
    await asyncio.wait_for(stalling.stalled.wait(), timeout=10)

    async def beyond_the_stall_done() -> bool:
        return [await maintained(setup, phone) for phone in PHONES[4:]] == [1, 1]

    await eventually(beyond_the_stall_done)  # the other workers go on past the stalled account
    await first.aclose()  # the process stops in the middle of the fourth account
    assert run.id is not None
    stopped = await setup.maintenance_run(run.id)
    assert (stopped.status, stopped.error) == (RunStatus.FAILED, "interrupted")
    # the other workers finished the fifth and sixth accounts, but the cursor is the low watermark: the third
    assert stopped.last_account_id == ids[PHONES[2]] and stopped.done == 3
    assert stopped.finished_at is not None
    assert [await maintained(setup, phone) for phone in PHONES] == [1, 1, 1, 0, 1, 1]

    second = make_factory()
    resumed = await finished_run(second, await second.start_maintenance())
    assert resumed.status is RunStatus.FINISHED, resumed.error
    assert resumed.report["resumed_after_account"] == ids[PHONES[2]]
    assert resumed.report["resumed_run"] == run.id
    assert resumed.report["healthy"] == 3 and resumed.report["kept_alive"] == 4  # only the fourth was still stale
    assert (resumed.done, resumed.total) == (6, 6)
    assert resumed.last_account_id == ids[PHONES[5]]
    # none skipped: those finished beyond the cursor are maintained again
    assert [await maintained(setup, phone) for phone in PHONES] == [1, 1, 1, 1, 2, 2]

    # a run after a finished one starts from the first account again
    again = await finished_run(second, await second.start_maintenance())
    assert "resumed_after_account" not in again.report and again.report["healthy"] == 6
    assert [await maintained(setup, phone) for phone in PHONES] == [2, 2, 2, 2, 3, 3]


async def test_a_run_left_running_by_a_dead_instance_is_marked_interrupted_and_resumed(
    database: Database, world: SimulatedTelegram, clock: FakeClock, make_factory: MakeFactory
) -> None:
    factory = make_factory()
    for phone in PHONES:
        await seed(factory, world, phone)
    ids = await account_ids(database)
    dead = MaintenanceRun(actor="scheduler", started_at=clock.now(), holder="dead-instance", total=6, done=2,
                          last_account_id=ids[PHONES[1]])  # fmt: skip
    async with database.unit_of_work() as uow:
        await uow.runs.add_run(dead)
        await uow.commit()
    # the dead instance's lease is still there: nobody may run until it expires
    assert await database.leases.try_acquire(LEASE_NAME, "dead-instance", timedelta(minutes=5)) is not None
    with pytest.raises(MaintenanceRunning):
        await factory.start_maintenance()
    clock.advance(minutes=6)

    resumed = await finished_run(factory, await factory.start_maintenance())
    assert dead.id is not None
    marked = await factory.maintenance_run(dead.id)
    assert (marked.status, marked.error) == (RunStatus.FAILED, "interrupted")
    assert marked.finished_at == resumed.started_at  # when it was found out
    assert resumed.status is RunStatus.FINISHED
    assert resumed.report["resumed_after_account"] == ids[PHONES[1]]
    assert resumed.report["healthy"] == 4 and (resumed.done, resumed.total) == (6, 6)
    assert resumed.holder == factory.instance != "dead-instance"
    assert [await maintained(factory, phone) for phone in PHONES] == [0, 0, 1, 1, 1, 1]


async def test_one_run_at_a_time_across_instances(
    world: SimulatedTelegram, make_factory: MakeFactory, clock: FakeClock
) -> None:
    one, two = make_factory(), make_factory()
    await seed(one, world, PHONES[0])
    world.latency = 0.05
    clock.advance(hours=25)
    run = await one.start_maintenance()
    with pytest.raises(MaintenanceRunning, match="this instance"):
        await one.start_maintenance()
    with pytest.raises(MaintenanceRunning, match="another instance"):
        await two.start_maintenance()
    finished = await finished_run(one, run)
    assert finished.status is RunStatus.FINISHED and finished.holder == one.instance
    later = await finished_run(two, await two.start_maintenance())
    assert later.holder == two.instance and later.status is RunStatus.FINISHED
