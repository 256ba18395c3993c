"""The simulated Telegram world itself: seeding, string format, fault injection bookkeeping, the login window."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from telethon.sessions import StringSession

from tgsessions.adapters.telegram.simulated import SimulatedTelegram, SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated import strings as sim_strings
from tgsessions.domain.errors import TelegramUnavailable
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import SessionAccess
from tgsessions.domain.secret import Secret
from tgsessions.domain.verdict import Reason
from tgsessions.testing.clock import FakeClock

PHONE = "15550001111"


@pytest.fixture
def world(clock: FakeClock) -> SimulatedTelegram:
    w = SimulatedTelegram(clock)
    w.add_account(PHONE)
    return w


def access(string: Secret, phone: str = PHONE) -> SessionAccess:
    return SessionAccess(string=string, phone=phone, identity=ClientIdentity())


def test_strings_are_telethon_string_sessions(world: SimulatedTelegram) -> None:
    string = world.create_session(PHONE).reveal()
    assert string.startswith("1")
    assert len(string) == 353
    parsed = StringSession(string)
    assert parsed.dc_id in sim_strings.DC_ADDRESSES
    assert parsed.server_address == sim_strings.DC_ADDRESSES[parsed.dc_id]
    assert parsed.port == 443
    assert len(parsed.auth_key.key) == 256
    assert parsed.save() == string  # Telethon writes back exactly the same string


def test_ipv6_strings_decode() -> None:
    key = bytes(range(256))
    string = sim_strings.encode(2, key, address="2001:67c:4e8:f002::a")
    assert StringSession(string).auth_key.key == key
    decoded = sim_strings.decode(string)
    assert decoded is not None
    assert decoded.auth_key == key
    assert decoded.address == "2001:67c:4e8:f002::a"
    assert "auth_key" not in repr(decoded)


def test_authorizations_are_distinct(world: SimulatedTelegram) -> None:
    strings = {world.create_session(PHONE).reveal() for _ in range(20)}
    assert len(strings) == 20
    account = world.account(PHONE)
    assert len({a.hash for a in account.authorizations}) == 20
    assert all(0 <= a.hash < 2**63 for a in account.authorizations)
    assert len({a.dc_id for a in account.authorizations}) == 1  # an account lives on one DC


def test_seed_makes_the_world_reproducible(clock: FakeClock) -> None:
    def build() -> tuple[str, int]:
        w = SimulatedTelegram(clock, seed=42)
        w.add_account(PHONE)
        s = w.create_session(PHONE)
        return s.reveal(), w.account(PHONE).authorizations[0].hash

    assert build() == build()


def test_create_session_records_age_and_identity(world: SimulatedTelegram, clock: FakeClock) -> None:
    identity = ClientIdentity(api_id=1, device_model="seeded")
    world.create_session(PHONE, age=timedelta(days=3), identity=identity)
    [auth] = world.account(PHONE).authorizations
    assert auth.created_at == clock.now() - timedelta(days=3)
    assert auth.identity == identity
    assert auth.is_mature(clock.now())


def test_default_age_is_thirty_days(world: SimulatedTelegram, clock: FakeClock) -> None:
    world.create_session(PHONE)
    assert world.account(PHONE).authorizations[0].created_at == clock.now() - timedelta(days=30)


def test_phones_are_normalised(world: SimulatedTelegram) -> None:
    world.add_account("+44 20 7946 0000", two_fa="pw")
    assert world.account("442079460000").two_fa == Secret("pw")
    with pytest.raises(ValueError, match="already exists"):
        world.add_account("+1 (555) 000-1111")
    with pytest.raises(KeyError):
        world.create_session("15559999999")


def test_seeding_does_not_spend_the_login_budget(world: SimulatedTelegram) -> None:
    for _ in range(10):
        world.create_session(PHONE)
    assert world.login_attempts(PHONE) == 0
    assert world.alive_authorizations(PHONE) == 10


def test_revoke_and_is_alive(world: SimulatedTelegram) -> None:
    string = world.create_session(PHONE)
    assert world.is_alive(string)
    assert world.is_alive(string.reveal())
    world.revoke(string)
    assert not world.is_alive(string)
    assert world.alive_authorizations(PHONE) == 0
    assert not world.is_alive(Secret("garbage"))
    with pytest.raises(ValueError, match="not a session string") as info:
        world.revoke(Secret("1" + string.reveal()[1:-4] + "AAAA"))
    assert string.reveal() not in str(info.value)


async def test_time_out_consumes_exactly_n_calls(world: SimulatedTelegram) -> None:
    gateway = SimulatedTelegramGateway(world)
    string = world.create_session(PHONE)
    world.time_out(calls=2)
    for _ in range(2):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await gateway.validate(access(string))
    assert (await gateway.validate(access(string))).is_alive
    assert world.calls["validate"] == 3


async def test_phone_specific_faults_take_precedence_over_global(world: SimulatedTelegram) -> None:
    gateway = SimulatedTelegramGateway(world)
    string = world.create_session(PHONE)
    world.server_error(PHONE, calls=1)
    world.server_error(calls=1)
    reasons = [(await gateway.validate(access(string))).reason for _ in range(3)]
    assert reasons == [Reason.SERVER_ERROR, Reason.SERVER_ERROR, Reason.OK]


async def test_flood_wait_clears_itself(world: SimulatedTelegram, clock: FakeClock) -> None:
    gateway = SimulatedTelegramGateway(world)
    string = world.create_session(PHONE)
    world.flood_wait(PHONE, 30)
    clock.advance(30)
    assert (await gateway.validate(access(string))).is_alive
    assert world.account(PHONE).flood_until is None


async def test_login_window_is_configurable(clock: FakeClock) -> None:
    world = SimulatedTelegram(clock, login_limit=2, login_window=timedelta(hours=1))
    world.add_account(PHONE)
    gateway = SimulatedTelegramGateway(world)
    source = world.create_session(PHONE)
    await gateway.mint(access(source), new_identity=ClientIdentity(), two_fa=None)
    clock.advance(minutes=10)
    await gateway.mint(access(source), new_identity=ClientIdentity(), two_fa=None)
    assert world.login_attempts(PHONE) == 2
    with pytest.raises(TelegramUnavailable, match="login budget at Telegram is exhausted") as info:
        await gateway.mint(access(source), new_identity=ClientIdentity(), two_fa=None)
    assert info.value.retry_after == pytest.approx(50 * 60)
    assert world.login_attempts(PHONE) == 2  # a refused attempt reaches no login
    clock.advance(minutes=50, seconds=1)
    assert world.login_attempts(PHONE) == 1
    await gateway.mint(access(source), new_identity=ClientIdentity(), two_fa=None)


async def test_disable_qr_can_be_undone(world: SimulatedTelegram) -> None:
    gateway = SimulatedTelegramGateway(world)
    source = world.create_session(PHONE)
    world.disable_qr(PHONE)
    assert (await gateway.mint(access(source), new_identity=ClientIdentity(), two_fa=None)).method == "code"
    world.disable_qr(PHONE, disabled=False)
    assert (await gateway.mint(access(source), new_identity=ClientIdentity(), two_fa=None)).method == "qr"


async def test_unfreeze(world: SimulatedTelegram) -> None:
    gateway = SimulatedTelegramGateway(world)
    string = world.create_session(PHONE)
    world.freeze(PHONE)
    assert (await gateway.validate(access(string))).frozen
    world.freeze(PHONE, frozen=False)
    assert not (await gateway.validate(access(string))).frozen


async def test_latency_can_be_set_in_the_constructor(clock: FakeClock) -> None:
    world = SimulatedTelegram(clock, latency=0.03)
    world.add_account(PHONE)
    string = world.create_session(PHONE)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await SimulatedTelegramGateway(world).validate(access(string))
    assert loop.time() - started >= 0.03


def test_reprs_hide_keys_and_passwords(world: SimulatedTelegram) -> None:
    world.set_two_fa(PHONE, "hunter2-secret")
    string = world.create_session(PHONE).reveal()
    account = world.account(PHONE)
    texts = [repr(world), repr(account), repr(account.authorizations[0]), repr(SimulatedTelegramGateway(world))]
    key_hex = account.authorizations[0].auth_key.hex()
    for text in texts:
        assert "hunter2-secret" not in text
        assert string[1:41] not in text
        assert key_hex[:32] not in text


NEW_IDENTITY = ClientIdentity(device_model="minted-device")


async def test_calls_are_counted_by_kind(world: SimulatedTelegram, clock: FakeClock) -> None:
    gateway = SimulatedTelegramGateway(world)
    string = world.create_session(PHONE, age=timedelta(days=2))
    assert sum(world.calls.values()) == 0  # seeding is not a call
    await gateway.validate(access(string))
    await gateway.validate(access(Secret("garbage")))
    minted = await gateway.mint(access(string), new_identity=NEW_IDENTITY, two_fa=None)
    world.disable_qr(PHONE)
    await gateway.mint(access(string), new_identity=NEW_IDENTITY, two_fa=None)
    await gateway.authorizations(access(string))
    assert minted.auth_hash is not None
    await gateway.revoke_other(access(string), minted.auth_hash)
    await gateway.log_out(access(minted.string))
    assert dict(world.calls) == {
        "validate": 2,
        "mint_qr": 1,
        "mint_code": 1,
        "authorizations": 1,
        "revoke_other": 1,
        "log_out": 1,
    }
    world.reset_calls()
    assert sum(world.calls.values()) == 0
