"""Pacing per route (the data centre of a session, or the account's proxy) and the pauses flood waits make, on a fake
clock; and the settings that keep queued workers inside the validation timeout."""

from __future__ import annotations

import asyncio

import pytest

from tests.flows.test_maintenance_pacing import FakeTime, Recorder, access
from tests.flows.virtual_time import VirtualTime
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.errors import TelegramUnavailable
from tgsessions.domain.model import ClientIdentity, Proxy
from tgsessions.domain.ports import SessionAccess
from tgsessions.domain.secret import Secret
from tgsessions.service.maintenance.pacing import ROUTE_PAUSE_CAP, PacedGateway, Pacer
from tgsessions.service.maintenance.routes import route_of
from tgsessions.testing.clock import FakeClock


def on_dc(world: SimulatedTelegram, phone: str, dc_id: int, proxy: Proxy | None = None) -> SessionAccess:
    world.add_account(phone, dc_id=dc_id)
    return SessionAccess(world.create_session(phone), phone, ClientIdentity(), proxy)


def test_a_route_is_the_data_centre_of_the_string_or_the_proxy_without_its_credentials(
    world: SimulatedTelegram,
) -> None:
    assert route_of(on_dc(world, "79000000001", 4)) == "dc:4"
    proxy = Proxy("socks5", "10.0.0.7", 1080, username="user", password=Secret("hunter2"))
    assert route_of(on_dc(world, "79000000002", 4, proxy)) == "proxy:socks5://10.0.0.7:1080"
    assert route_of(access("79000000003")) == "dc:unknown"


async def test_each_data_centre_is_paced_on_its_own_and_a_proxy_is_one_route(
    world: SimulatedTelegram, clock: FakeClock
) -> None:
    time = VirtualTime(clock)
    inner = Recorder(clock)
    gateway = PacedGateway(inner, Pacer(route_calls_per_second=2.0, sleep=time.sleep, monotonic=time.monotonic))
    proxy = Proxy("http", "10.0.0.9", 3128)
    accesses = [
        on_dc(world, "79000000011", 1),
        on_dc(world, "79000000012", 2),
        on_dc(world, "79000000013", 3, proxy),
        on_dc(world, "79000000014", 5, proxy),  # another data centre, the same proxy: one route
    ]

    async def three_calls(access: SessionAccess) -> None:
        for _ in range(3):
            await gateway.log_out(access)

    start = clock.now().timestamp()
    await time.run(asyncio.gather(*(three_calls(a) for a in accesses)))
    times: dict[str, list[float]] = {}
    for at, _kind, phone in inner.calls:
        times.setdefault(phone, []).append(at - start)
    assert times["79000000011"] == [0.0, 0.0, 0.5]  # a burst of one second's worth, then 2 per second
    assert times["79000000012"] == [0.0, 0.0, 0.5]  # data centre 2 does not wait for data centre 1
    assert sorted(times["79000000013"] + times["79000000014"]) == [0.0, 0.0, 0.5, 1.0, 1.5, 2.0]


async def test_a_flood_wait_pauses_the_route_and_the_account_up_to_the_longest_a_call_waits(
    world: SimulatedTelegram,
) -> None:
    time = FakeTime()
    pacer = Pacer(max_wait=2.0, sleep=time.sleep, monotonic=time.monotonic)
    gateway = PacedGateway(SimulatedTelegramGateway(world), pacer)
    flooded, neighbour, elsewhere = (on_dc(world, p, dc) for p, dc in (("79000000021", 2), ("79000000022", 2),
                                                                         ("79000000023", 3)))  # fmt: skip
    world.flood_wait(flooded.phone, 30)
    verdict = await gateway.validate(flooded)
    assert verdict.reason == "flood_wait"
    assert pacer.paused_for("dc:2", neighbour.phone) == pytest.approx(verdict.retry_after)
    assert pacer.paused_for("dc:3", elsewhere.phone) == 0.0
    assert pacer.paused_for("dc:3", flooded.phone) == pytest.approx(30.0)  # the account itself, on any route

    await gateway.validate(elsewhere)
    assert time.sleeps == []  # another data centre goes on at once
    await gateway.validate(neighbour)
    assert time.sleeps == [2.0]  # the same one: the call waits, but never longer than max_wait

    pacer.pause("dc:4", "79000000031", 86_400)  # one account's day-long wait pauses its route two minutes at most
    assert pacer.paused_for("dc:4", "79000000032") == pytest.approx(ROUTE_PAUSE_CAP)
    assert pacer.paused_for("dc:5", "79000000031") == pytest.approx(86_400 - 0.0, abs=3)


async def test_a_refused_mint_pauses_only_its_account(world: SimulatedTelegram, clock: FakeClock) -> None:
    time = FakeTime()
    pacer = Pacer(sleep=time.sleep, monotonic=time.monotonic)
    gateway = PacedGateway(SimulatedTelegramGateway(world), pacer)
    source = on_dc(world, "79000000041", 1)
    world.flood_wait(source.phone, 45)
    with pytest.raises(TelegramUnavailable):
        await gateway.mint(source, new_identity=ClientIdentity(), two_fa=None)
    assert pacer.paused_for("dc:1", source.phone) == pytest.approx(45.0)
    assert pacer.paused_for("dc:1", "79000000042") == 0.0


def test_workers_must_not_queue_longer_than_a_quarter_of_the_validation_timeout() -> None:
    from pydantic import ValidationError

    from tgsessions.config import Settings, options_from

    with pytest.raises(ValidationError, match="TGS_MAINTENANCE_WORKERS \\(40\\) queued on TGS_MAINTENANCE_ROUTE"):
        Settings(_env_file=None, maintenance_workers=40, maintenance_calls_per_second=100)
    settings = Settings(_env_file=None, maintenance_workers=8, maintenance_calls_per_second=300,
                        maintenance_route_calls_per_second=100)  # fmt: skip
    maintenance = options_from(settings).maintenance
    assert (maintenance.workers, maintenance.calls_per_second, maintenance.route_calls_per_second) == (8, 300, 100)
    assert Settings(_env_file=None).maintenance_workers == 4
