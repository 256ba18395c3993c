"""Flood gates (telethon/pool.py ``FloodGates``): the flood waits Telegram gave, per account and scope, on the
injected clock; in the process alone, or also on a shared Redis board (``RedisDeadlineBoard``) so that every
instance honours a wait any of them met. The same contract runs on both; then the sharing itself, a Redis outage,
and two Telethon gateways on one board against the TL-level server (real Telethon requests and errors).

Redis runs at the ``redis_url`` fixture (db 15); each test has its own key prefix, deleted afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from telethon import errors

from tests.support.redis_space import RedisSpace, closed_redis_url, redis_space
from tests.telegram.tl_server import TLServer
from tgsessions.adapters.limits import RedisDeadlineBoard
from tgsessions.adapters.telegram.simulated import SimulatedTelegram
from tgsessions.adapters.telegram.telethon import TelethonGateway
from tgsessions.adapters.telegram.telethon.pool import FloodGates
from tgsessions.domain.errors import TelegramUnavailable
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import DeadlineBoard, SessionAccess
from tgsessions.domain.verdict import Reason, Verdict
from tgsessions.testing.clock import FakeClock

PHONE = "15550001111"
OTHER = "15550002222"
IDENTITY = ClientIdentity(api_id=12345, device_model="pytest-device", app_version="9.9")


@pytest.fixture
async def space(redis_url: str) -> AsyncIterator[RedisSpace]:
    async with redis_space(redis_url) as opened:
        yield opened


def board_on(space: RedisSpace) -> RedisDeadlineBoard:
    """One more instance's board: its own connections, the shared prefix."""
    return RedisDeadlineBoard(space.client(), prefix=space.prefix + "flood:")


@pytest.fixture(params=["memory", "redis"])
async def make_gates(
    request: pytest.FixtureRequest, clock: FakeClock, redis_url: str
) -> AsyncIterator[Callable[[], FloodGates]]:
    if request.param == "memory":
        yield lambda: FloodGates(clock)
        return
    async with redis_space(redis_url) as space:
        yield lambda: FloodGates(clock, board_on(space))


async def test_no_wait_until_one_is_recorded(make_gates: Callable[[], FloodGates]) -> None:
    assert await make_gates().remaining(PHONE) is None


async def test_a_wait_counts_down_on_the_clock_and_then_is_gone(
    make_gates: Callable[[], FloodGates], clock: FakeClock
) -> None:
    gates = make_gates()
    await gates.record(PHONE, 42)
    assert await gates.remaining(PHONE) == 42
    clock.advance(40)
    assert await gates.remaining(PHONE) == pytest.approx(2)
    clock.advance(3)
    assert await gates.remaining(PHONE) is None


async def test_waits_are_per_account_and_scope_whatever_the_phone_spelling(
    make_gates: Callable[[], FloodGates],
) -> None:
    gates = make_gates()
    await gates.record("+1 555 000-1111", 60, "login")
    assert await gates.remaining(PHONE, "login") == 60
    assert await gates.remaining(PHONE, "api") is None
    assert await gates.remaining(OTHER, "login") is None


async def test_a_shorter_wait_never_shortens_a_longer_one(make_gates: Callable[[], FloodGates]) -> None:
    gates = make_gates()
    await gates.record(PHONE, 100)
    await gates.record(PHONE, 10)
    assert await gates.remaining(PHONE) == 100


# -- shared through Redis, or not ------------------------------------------------------------------------------------


async def test_gates_on_one_board_honour_each_others_waits(space: RedisSpace, clock: FakeClock) -> None:
    one, two = FloodGates(clock, board_on(space)), FloodGates(clock, board_on(space))
    await one.record(PHONE, 42)
    assert await two.remaining(PHONE) == 42
    await two.record(PHONE, 10)  # later and shorter, at another instance
    assert await FloodGates(clock, board_on(space)).remaining(PHONE) == 42  # a third instance sees the longer
    clock.advance(43)
    assert await two.remaining(PHONE) is None


async def test_the_board_holds_the_account_digits_and_scope_with_a_time_to_live(
    space: RedisSpace, clock: FakeClock
) -> None:
    await FloodGates(clock, board_on(space)).record("+1 555 000-1111", 30, "login")
    assert await space.keys() == [f"{space.prefix}flood:{PHONE}:login"]
    ttl_ms = await space.client().pttl(f"{space.prefix}flood:{PHONE}:login")
    assert 30_000 < ttl_ms <= 90_000  # the wait and a margin for clocks that differ a little


async def test_gates_without_a_board_are_one_per_instance(clock: FakeClock) -> None:
    one, two = FloodGates(clock), FloodGates(clock)
    await one.record(PHONE, 42)
    assert await two.remaining(PHONE) is None


async def test_a_board_outage_keeps_each_instance_its_own_waits_and_warns_once(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    client = Redis.from_url(closed_redis_url(), socket_connect_timeout=0.5, socket_timeout=0.5)
    board: DeadlineBoard = RedisDeadlineBoard(client)
    try:
        with caplog.at_level(logging.WARNING, logger="tgsessions.adapters.limits.deadlines"):
            gates = FloodGates(clock, board)
            assert await gates.remaining(PHONE) is None
            await gates.record(PHONE, 42)
            assert await gates.remaining(PHONE) == 42
            assert await board.until(f"{PHONE}:api") is None
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()
    finally:
        await client.aclose()


# -- two Telethon gateways (two instances) on one board ---------------------------------------------------------------


@pytest.fixture
def server(clock: FakeClock) -> TLServer:
    world = SimulatedTelegram(clock, seed=3)
    world.add_account(PHONE, dc_id=2)
    world.add_account(OTHER, dc_id=2)
    return TLServer(world)


def instance(server: TLServer, board: DeadlineBoard | None) -> TelethonGateway:
    return TelethonGateway(server.config(), clock=server.clock, client_class=server.client_class(), flood_waits=board)


def access(server: TLServer, phone: str = PHONE) -> SessionAccess:
    return SessionAccess(string=server.world.create_session(phone), phone=phone, identity=IDENTITY)


def flood(seconds: int) -> Callable[[Any], BaseException]:
    return lambda request: errors.FloodWaitError(request=request, capture=seconds)


async def test_a_flood_wait_one_gateway_met_is_honoured_by_the_other_without_asking_telegram(
    server: TLServer, space: RedisSpace, clock: FakeClock
) -> None:
    first, second = instance(server, board_on(space)), instance(server, board_on(space))
    try:
        server.fail(PHONE, flood(42))
        assert await first.validate(access(server)) == Verdict.unknown(Reason.FLOOD_WAIT, clock.now(), retry_after=42)
        asked = sum(server.requests.values())
        assert await second.validate(access(server)) == Verdict.unknown(Reason.FLOOD_WAIT, clock.now(),
                                                                        retry_after=42)  # fmt: skip
        with pytest.raises(TelegramUnavailable) as refused:
            await second.authorizations(access(server))
        assert refused.value.retry_after == 42
        assert sum(server.requests.values()) == asked  # the second instance did not ask Telegram
        assert (await second.validate(access(server, OTHER))).is_alive  # per account
        clock.advance(43)
        assert (await second.validate(access(server))).is_alive
    finally:
        await first.aclose()
        await second.aclose()


async def test_without_a_board_the_other_gateway_asks_telegram_itself(server: TLServer, clock: FakeClock) -> None:
    first, second = instance(server, None), instance(server, None)
    try:
        server.fail(PHONE, flood(42))
        assert (await first.validate(access(server))).reason == Reason.FLOOD_WAIT
        assert (await second.validate(access(server))).is_alive  # it knew of no wait: it asked, and was answered
        assert (await first.validate(access(server))).reason == Reason.FLOOD_WAIT  # the first still honours its own
    finally:
        await first.aclose()
        await second.aclose()
