"""Maintenance with several workers, on virtual time: accounts at once, counts that add up, progress and the cursor
in id order, and flood waits that pause one data centre while the others go on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.flows.virtual_time import VirtualTime
from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.ports import Cipher, SessionAccess
from tgsessions.domain.runs import MaintenanceRun, RunStatus
from tgsessions.domain.verdict import Verdict
from tgsessions.service.factory import SessionFactory
from tgsessions.service.maintenance.routes import route_of
from tgsessions.service.options import FactoryOptions, MaintenanceOptions
from tgsessions.testing.clock import FakeClock
from tgsessions.testing.memory_db import InMemoryDatabase

CALL_SECONDS = 1.0  # what each Telegram call takes, in virtual time


class SlowGateway(SimulatedTelegramGateway):
    """The simulated gateway, each validation taking ``CALL_SECONDS`` (or ``delay(phone)``) of virtual time, and
    every validation written down as (virtual time it started, phone, route)."""

    def __init__(
        self, world: SimulatedTelegram, time: VirtualTime, delay: Callable[[str], float] | None = None
    ) -> None:
        super().__init__(world)
        self.time = time
        self.delay = delay or (lambda _phone: CALL_SECONDS)
        self.calls: list[tuple[float, str, str]] = []

    async def validate(self, access: SessionAccess) -> Verdict:
        self.calls.append((self.time.monotonic(), access.phone, route_of(access)))
        await self.time.sleep(self.delay(access.phone))
        return await super().validate(access)


Build = Callable[..., SessionFactory]


@pytest.fixture
async def build(cipher: Cipher, clock: FakeClock, options: FactoryOptions) -> AsyncIterator[Build]:
    """Factories on virtual time over a SlowGateway, each on its own in-memory database; keyword arguments go to
    MaintenanceOptions (every session is due for its keep-alive). Leases are renewed on real time, so they are
    made long enough for the virtual hours of a run."""
    made: list[SessionFactory] = []

    def make(time: VirtualTime, gateway: SlowGateway, **maintenance: object) -> SessionFactory:
        pacing = replace(MaintenanceOptions(keepalive=timedelta(0)), **maintenance)  # type: ignore[arg-type]
        factory = SessionFactory(db=InMemoryDatabase(clock), gateway=gateway, cache=MemoryVerdictCache(clock),
                                 cipher=cipher, clock=clock, sleep=time.sleep,
                                 options=replace(options, validation_timeout=30.0, lease_ttl=timedelta(hours=1),
                                                maintenance=pacing))  # fmt: skip
        made.append(factory)
        return factory

    yield make
    for factory in made:
        await factory.aclose()


async def seed_on(factory: SessionFactory, world: SimulatedTelegram, phone: str, dc_id: int) -> None:
    """An account on data centre ``dc_id``: a keeper, a primary and two backups."""
    world.add_account(phone, dc_id=dc_id)
    sessions = [world.create_session(phone, age=timedelta(days=40 + i)) for i in range(4)]
    await factory.add_account(phone, primary=sessions[0], keeper=sessions[1], backups=sessions[2:])


async def run_to_the_end(factory: SessionFactory, time: VirtualTime) -> MaintenanceRun:
    async def run() -> MaintenanceRun:
        started = await factory.start_maintenance()
        await factory.wait_for_maintenance()
        return await factory.maintenance_run(started.id or 0)

    finished = await time.run(run())
    assert finished.status is RunStatus.FINISHED, finished.error
    return finished


async def test_workers_maintain_accounts_at_once_and_the_report_adds_up(build: Build, clock: FakeClock) -> None:
    phones = [f"7916000030{i}" for i in range(8)]
    elapsed = {}
    for workers in (1, 4):  # the same fleet, the same work, on a fresh database and world each time
        world = SimulatedTelegram(clock, seed=7)
        time = VirtualTime(clock)
        factory = build(time, SlowGateway(world, time), workers=workers)
        for phone in phones:
            await seed_on(factory, world, phone, dc_id=2)
            world.revoke(world.account(phone).authorizations[0].string)  # the primary: a backup is promoted ...
        started = time.monotonic()
        finished = await run_to_the_end(factory, time)
        elapsed[workers] = time.monotonic() - started
        report = finished.report
        assert (report["healthy"], report["promoted"], report["retired"], report["failed"]) == (8, 8, 8, 0)
        assert report["minted"] == 8  # ... and one backup minted to refill the pool, for every account
        assert report["kept_alive"] == 8 * 4
        assert (finished.done, finished.total) == (8, 8)
    assert elapsed[4] == pytest.approx(elapsed[1] / 4)  # four accounts at once: a quarter of the time


async def test_progress_and_the_cursor_follow_the_ids_while_accounts_finish_out_of_order(
    build: Build, world: SimulatedTelegram, clock: FakeClock
) -> None:
    phones = [f"7916000031{i}" for i in range(6)]
    time = VirtualTime(clock)
    gateway = SlowGateway(world, time, delay=lambda phone: 20.0 if phone == phones[0] else 1.0)  # the first is slow
    factory = build(time, gateway, workers=3)
    for phone in phones:
        await seed_on(factory, world, phone, dc_id=1)
    seen: list[tuple[int, str]] = []

    async def run() -> MaintenanceRun:
        started = await factory.start_maintenance(watch=lambda done, _total, phone: seen.append((done, phone)))
        await factory.wait_for_maintenance()
        return await factory.maintenance_run(started.id or 0)

    finished = await time.run(run())
    last_call = {phone: at for at, phone, _route in gateway.calls}
    assert last_call[phones[0]] > max(last_call[p] for p in phones[1:])  # the others finished before the first ...
    assert seen == list(enumerate(phones, start=1))  # ... but progress goes in id order, one account at a time
    assert finished.status is RunStatus.FINISHED and finished.report["healthy"] == 6
    assert finished.last_account_id == len(phones)  # the low watermark ends on the last account


async def test_a_flood_wait_pauses_its_data_centre_while_the_others_go_on(
    build: Build, world: SimulatedTelegram, clock: FakeClock
) -> None:
    time = VirtualTime(clock)
    gateway = SlowGateway(world, time)
    factory = build(time, gateway, workers=4)
    on_dc = {1: [f"7916000032{i}" for i in range(4)], 2: [f"7916000033{i}" for i in range(4)]}
    for first, second in zip(on_dc[1], on_dc[2], strict=True):  # ids alternate between the two data centres
        await seed_on(factory, world, first, dc_id=1)
        await seed_on(factory, world, second, dc_id=2)
    flooded = on_dc[2][0]
    world.flood_wait(flooded, 60)
    flood_ends = time.monotonic() + 60

    finished = await run_to_the_end(factory, time)
    report = finished.report
    assert (report["healthy"], report["failed"]) == (8, 0), report["errors"]
    calls = gateway.calls
    first_flood = next(at for at, phone, _ in calls if phone == flooded)
    paused = [(at, phone) for at, phone, route in calls if route == "dc:2" and first_flood < at < flood_ends]
    assert len(paused) <= 3  # only calls of steps already under way on the other workers
    assert max(at for at, phone, _ in calls if phone in on_dc[1]) < flood_ends  # data centre 1 went on meanwhile
    resumed = [at for at, phone, _ in calls if phone == flooded and at > first_flood]
    assert resumed and min(resumed) >= flood_ends  # the flooded account was set aside until the wait was over
