"""MaintenanceScheduler: due runs only, skips while another instance holds the lease, start delay, interval, stop."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.flows.conftest import MakeFactory, seed
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.ports import Database
from tgsessions.domain.runs import RunStatus
from tgsessions.service.factory import SessionFactory
from tgsessions.service.maintenance.runs import LEASE_NAME
from tgsessions.service.maintenance.scheduler import MaintenanceScheduler
from tgsessions.testing.clock import FakeClock

HOUR = 3600.0


async def test_a_tick_runs_when_due_and_waits_for_the_run(
    factory: SessionFactory, world: SimulatedTelegram, clock: FakeClock
) -> None:
    await seed(factory, world)
    scheduler = MaintenanceScheduler(factory, clock, interval=HOUR)
    run = await scheduler.tick()
    assert run is not None and run.actor == "scheduler"
    latest = await factory.latest_maintenance_run()
    assert latest is not None and latest.id == run.id
    assert latest.status is RunStatus.FINISHED and latest.report["healthy"] == 1

    assert await scheduler.tick() is None  # a run started less than an interval ago (by any instance)
    clock.advance(seconds=HOUR - 1)
    assert await scheduler.tick() is None
    clock.advance(seconds=1)
    assert await scheduler.tick() is not None
    assert (scheduler.counts.ticks, scheduler.counts.started, scheduler.counts.not_due) == (4, 2, 2)


async def test_a_tick_is_skipped_while_another_instance_holds_the_lease(
    factory: SessionFactory, world: SimulatedTelegram, clock: FakeClock, database: Database
) -> None:
    await seed(factory, world)
    held = await database.leases.try_acquire(LEASE_NAME, "other-instance", timedelta(minutes=5))
    assert held is not None
    scheduler = MaintenanceScheduler(factory, clock, interval=HOUR)
    assert await scheduler.tick() is None
    assert scheduler.counts.busy == 1
    assert await factory.latest_maintenance_run() is None  # nothing was written
    await database.leases.release(held)
    assert await scheduler.tick() is not None


async def test_a_run_that_did_not_finish_is_due_at_once(
    make_factory: MakeFactory, world: SimulatedTelegram, clock: FakeClock
) -> None:
    first = make_factory()
    await seed(first, world)
    world.latency = 0.5
    run = await first.start_maintenance()
    await asyncio.sleep(0.05)
    await first.aclose()  # stopped in the middle: failed, interrupted
    assert run.id is not None
    assert (await make_factory().maintenance_run(run.id)).status is RunStatus.FAILED
    world.latency = 0.0
    second = make_factory()
    resumed = await MaintenanceScheduler(second, clock, interval=HOUR).tick()
    assert resumed is not None
    assert (await second.maintenance_run(resumed.id or 0)).status is RunStatus.FINISHED


async def test_the_loop_waits_the_start_delay_then_ticks_every_interval_until_closed(
    factory: SessionFactory, world: SimulatedTelegram, clock: FakeClock
) -> None:
    await seed(factory, world)
    sleeps: list[float] = []
    three_runs = asyncio.Event()

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)
        await asyncio.sleep(0)
        if scheduler.counts.started >= 3:
            three_runs.set()
            await asyncio.Event().wait()  # park until closed

    scheduler = MaintenanceScheduler(factory, clock, interval=HOUR, start_delay=30.0, sleep=sleep)
    scheduler.start()
    assert scheduler.running and scheduler.counts.ticks == 0  # nothing happens during start-up itself
    await asyncio.wait_for(three_runs.wait(), timeout=30)
    await scheduler.aclose()
    assert not scheduler.running
    assert sleeps == [30.0, HOUR, HOUR, HOUR]
    assert scheduler.counts.started == 3 and scheduler.counts.failed == 0


async def test_an_interval_of_zero_disables_the_scheduler(factory: SessionFactory, clock: FakeClock) -> None:
    scheduler = MaintenanceScheduler(factory, clock, interval=0)
    scheduler.start()
    assert not scheduler.enabled and not scheduler.running
    await scheduler.aclose()


async def test_a_failing_tick_does_not_stop_the_schedule(clock: FakeClock) -> None:
    class Broken:
        async def latest_maintenance_run(self) -> None:
            raise OSError("database unreachable")

        async def start_maintenance(self, *, actor: str) -> None:
            raise AssertionError("not reached")

        async def wait_for_maintenance(self) -> None:
            return None

    ticked = asyncio.Event()

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(0)
        if scheduler.counts.failed >= 2:
            ticked.set()
            await asyncio.Event().wait()

    scheduler = MaintenanceScheduler(Broken(), clock, interval=1.0, sleep=sleep)  # type: ignore[arg-type]
    scheduler.start()
    await asyncio.wait_for(ticked.wait(), timeout=10)
    assert scheduler.running
    await scheduler.aclose()
