"""Contract of the TelegramGateway port, written once and run against every gateway implementation.

Each implementation comes with a harness: the gateway plus the controls of the Telegram it talks to (seeding and
fault injection, with the API of :class:`SimulatedTelegram`) and the clock both share. "telethon" is the real
TelethonGateway with Telethon clients answered at the TL level by tests/telegram/tl_server.py, on top of the same
simulated world. Every test holds for both: where Telegram differs from a naive model (a session lists its own
authorization with hash 0, so hashes are read from another session's listing), the contract says what Telegram does.
The simulator's own call counting is tested in test_simulated_world.py.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from tgsessions.adapters.telegram.simulated import SimulatedTelegram, SimulatedTelegramGateway
from tgsessions.domain.errors import AccountBanned, MintFailed, TelegramUnavailable, TwoFactorInvalid
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import SessionAccess, TelegramGateway
from tgsessions.domain.secret import Secret
from tgsessions.domain.verdict import Reason, Verdict, VerdictKind
from tgsessions.testing.clock import FakeClock

PHONE = "15550001111"
OTHER = "15550002222"
PASSWORD = "correct horse battery staple"
IDENTITY = ClientIdentity(api_id=12345, device_model="pytest-device", app_version="9.9")
NEW_IDENTITY = ClientIdentity(api_id=12345, device_model="minted-device", app_version="2.0")


@dataclass
class Harness:
    gateway: TelegramGateway
    world: SimulatedTelegram  # the controls; another implementation's harness offers the same methods
    clock: FakeClock

    def access(self, string: Secret, phone: str = PHONE) -> SessionAccess:
        return SessionAccess(string=string, phone=phone, identity=IDENTITY)


def simulated_harness(clock: FakeClock) -> Harness:
    world = SimulatedTelegram(clock, seed=7)
    return Harness(SimulatedTelegramGateway(world), world, clock)


def telethon_harness(clock: FakeClock) -> Harness:
    from tests.telegram.tl_server import TLServer

    world = SimulatedTelegram(clock, seed=7)
    return Harness(TLServer(world).gateway(), world, clock)


HARNESSES: dict[str, Callable[[FakeClock], Harness]] = {"simulated": simulated_harness, "telethon": telethon_harness}


@pytest.fixture(params=sorted(HARNESSES))
def tg(request: pytest.FixtureRequest, clock: FakeClock) -> Harness:
    harness = HARNESSES[request.param](clock)
    harness.world.add_account(PHONE)
    harness.world.add_account(OTHER)
    return harness


def test_backend_is_named(tg: Harness) -> None:
    assert tg.gateway.backend in {"simulated", "telethon"}


# -- the verdict table ---------------------------------------------------------------------------------------------


async def test_live_session_is_alive(tg: Harness) -> None:
    string = tg.world.create_session(PHONE)
    verdict = await tg.gateway.validate(tg.access(string))
    assert isinstance(verdict.user_id, int) and verdict.user_id > 0  # the account's own user, kept for Pyrogram
    assert verdict == Verdict.alive(tg.clock.now(), user_id=verdict.user_id)
    assert verdict.reason == Reason.OK
    assert not verdict.frozen


async def test_frozen_account_is_alive_but_flagged(tg: Harness) -> None:
    string = tg.world.create_session(PHONE)
    tg.world.freeze(PHONE)
    verdict = await tg.gateway.validate(tg.access(string))
    assert verdict.kind is VerdictKind.ALIVE
    assert verdict.frozen
    assert verdict.reason == Reason.FROZEN
    assert verdict.checked_at == tg.clock.now()


async def test_revoked_session_is_dead(tg: Harness) -> None:
    string = tg.world.create_session(PHONE)
    tg.world.revoke(string)
    verdict = await tg.gateway.validate(tg.access(string))
    assert verdict == Verdict.dead(Reason.AUTH_KEY_UNREGISTERED, tg.clock.now())


async def test_unknown_auth_key_is_dead(tg: Harness) -> None:
    from telethon.crypto import AuthKey
    from telethon.sessions import StringSession

    session = StringSession()
    session.set_dc(2, "149.154.167.51", 443)
    session.auth_key = AuthKey(secrets.token_bytes(256))
    verdict = await tg.gateway.validate(tg.access(Secret(session.save())))
    assert verdict == Verdict.dead(Reason.AUTH_KEY_UNREGISTERED, tg.clock.now())


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: "",
        lambda s: "not a session",
        lambda s: "2" + s[1:],  # wrong version
        lambda s: s[:-8],  # truncated
        lambda s: s[:100] + "!!!!" + s[104:],  # not base64
        lambda s: "1" + "A" * 352,  # an all-zero auth key
    ],
    ids=["empty", "text", "version", "truncated", "not-base64", "zero-key"],
)
async def test_malformed_string_is_dead(tg: Harness, mangle: Callable[[str], str]) -> None:
    string = tg.world.create_session(PHONE)
    verdict = await tg.gateway.validate(tg.access(Secret(mangle(string.reveal()))))
    assert verdict == Verdict.dead(Reason.MALFORMED, tg.clock.now())


async def test_string_of_another_phone_is_a_mismatch(tg: Harness) -> None:
    foreign = tg.world.create_session(OTHER)
    verdict = await tg.gateway.validate(tg.access(foreign, PHONE))
    assert verdict == Verdict.dead(Reason.PHONE_MISMATCH, tg.clock.now())


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("ban", Reason.USER_BANNED), ("deactivate", Reason.USER_DEACTIVATED)],
)
async def test_dead_account(tg: Harness, fault: str, reason: str) -> None:
    string = tg.world.create_session(PHONE)
    getattr(tg.world, fault)(PHONE)
    verdict = await tg.gateway.validate(tg.access(string))
    assert verdict == Verdict.account_dead(reason, tg.clock.now())


async def test_flood_wait_is_unknown_until_the_clock_passes_it(tg: Harness) -> None:
    string = tg.world.create_session(PHONE)
    tg.world.flood_wait(PHONE, 120)
    first = await tg.gateway.validate(tg.access(string))
    assert first == Verdict.unknown(Reason.FLOOD_WAIT, tg.clock.now(), retry_after=120)
    tg.clock.advance(100)
    second = await tg.gateway.validate(tg.access(string))
    assert second.kind is VerdictKind.UNKNOWN
    assert second.retry_after == pytest.approx(20)
    tg.clock.advance(21)
    assert (await tg.gateway.validate(tg.access(string))).is_alive


async def test_flood_wait_is_per_account(tg: Harness) -> None:
    other = tg.world.create_session(OTHER)
    tg.world.flood_wait(PHONE, 60)
    assert (await tg.gateway.validate(tg.access(other, OTHER))).is_alive


async def test_server_error_is_unknown_and_transient(tg: Harness) -> None:
    string = tg.world.create_session(PHONE)
    tg.world.server_error(PHONE)
    verdict = await tg.gateway.validate(tg.access(string))
    assert verdict == Verdict.unknown(Reason.SERVER_ERROR, tg.clock.now())
    assert (await tg.gateway.validate(tg.access(string))).is_alive


async def test_checked_at_is_the_clock(tg: Harness) -> None:
    string = tg.world.create_session(PHONE)
    tg.clock.advance(hours=5)
    assert (await tg.gateway.validate(tg.access(string))).checked_at == tg.clock.now()


# -- mint ----------------------------------------------------------------------------------------------------------


async def test_mint_via_qr(tg: Harness) -> None:
    source = tg.world.create_session(PHONE)
    minted = await tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=None)
    assert minted.method == "qr"
    assert minted.identity == NEW_IDENTITY
    assert minted.string != source
    assert isinstance(minted.auth_hash, int)
    assert (await tg.gateway.validate(tg.access(minted.string))).is_alive
    assert (await tg.gateway.validate(tg.access(source))).is_alive
    assert tg.world.alive_authorizations(PHONE) == 2
    # the source sees the new authorization by its hash (a session sees its own entry with hash 0 on Telegram)
    listed = await tg.gateway.authorizations(tg.access(source))
    mine = [a for a in listed if a.hash == minted.auth_hash]
    assert len(mine) == 1
    assert mine[0].created_at == tg.clock.now()
    assert mine[0].device_model == "minted-device"
    assert not mine[0].current


async def test_mint_falls_back_to_login_code_without_qr(tg: Harness) -> None:
    source = tg.world.create_session(PHONE)
    tg.world.disable_qr(PHONE)
    minted = await tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=None)
    assert minted.method == "code"
    assert (await tg.gateway.validate(tg.access(minted.string))).is_alive


async def test_mint_from_dead_source_fails(tg: Harness) -> None:
    source = tg.world.create_session(PHONE)
    tg.world.revoke(source)
    with pytest.raises(MintFailed) as info:
        await tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=None)
    assert info.value.reason == "source_dead"
    assert not info.value.transient
    assert tg.world.alive_authorizations(PHONE) == 0


async def test_mint_from_another_phones_session_fails(tg: Harness) -> None:
    foreign = tg.world.create_session(OTHER)
    with pytest.raises(MintFailed) as info:
        await tg.gateway.mint(tg.access(foreign, PHONE), new_identity=NEW_IDENTITY, two_fa=None)
    assert info.value.reason == "source_dead"


async def test_mint_on_banned_account(tg: Harness) -> None:
    source = tg.world.create_session(PHONE)
    tg.world.ban(PHONE)
    with pytest.raises(AccountBanned):
        await tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=None)


async def test_mint_under_flood_wait(tg: Harness) -> None:
    source = tg.world.create_session(PHONE)
    tg.world.flood_wait(PHONE, 300)
    with pytest.raises(TelegramUnavailable) as info:
        await tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=None)
    assert info.value.retry_after == pytest.approx(300)


async def test_mint_on_server_error_is_transient(tg: Harness) -> None:
    source = tg.world.create_session(PHONE)
    tg.world.server_error()
    with pytest.raises(TelegramUnavailable):
        await tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=None)


async def test_mint_with_2fa_but_none_stored(tg: Harness) -> None:
    tg.world.set_two_fa(PHONE, PASSWORD)
    source = tg.world.create_session(PHONE)
    with pytest.raises(TwoFactorInvalid) as info:
        await tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=None)
    assert "no 2FA password stored" in str(info.value)
    assert not info.value.transient
    await assert_password_pending_left_and_resettable(tg, source)


async def test_mint_with_wrong_2fa(tg: Harness) -> None:
    tg.world.set_two_fa(PHONE, PASSWORD)
    source = tg.world.create_session(PHONE)
    with pytest.raises(TwoFactorInvalid) as info:
        await tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=Secret("wrong password"))
    assert "stored 2FA password is wrong" in str(info.value)
    assert tg.world.login_attempts(PHONE) == 1  # the wrong attempt still counts
    await assert_password_pending_left_and_resettable(tg, source)


async def assert_password_pending_left_and_resettable(tg: Harness, source: Secret) -> None:
    """As Telegram does: the new client signed in before the password step, so a password-pending authorization
    is listed (its own logOut is refused); a mature session resets it by hash (what reconciliation does)."""
    assert tg.world.alive_authorizations(PHONE) == 2
    listed = await tg.gateway.authorizations(tg.access(source))
    [pending] = [a for a in listed if a.password_pending]
    assert not pending.current
    await tg.gateway.revoke_other(tg.access(source), pending.hash)
    assert tg.world.alive_authorizations(PHONE) == 1


@pytest.mark.parametrize("qr", [True, False], ids=["qr", "code"])
async def test_mint_with_right_2fa(tg: Harness, qr: bool) -> None:
    tg.world.set_two_fa(PHONE, PASSWORD)
    tg.world.disable_qr(PHONE, disabled=not qr)
    source = tg.world.create_session(PHONE)
    minted = await tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=Secret(PASSWORD))
    assert minted.method == ("qr" if qr else "code")
    assert (await tg.gateway.validate(tg.access(minted.string))).is_alive


async def test_login_budget_at_telegram(tg: Harness) -> None:
    source = tg.world.create_session(PHONE)
    tg.world.set_two_fa(PHONE, PASSWORD)
    # the default budget: 5 attempts (successful or not) per account per 24 h
    with pytest.raises(TwoFactorInvalid):
        await tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=Secret("wrong"))
    tg.clock.advance(hours=1)
    for _ in range(4):
        await tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=Secret(PASSWORD))
    alive_before = tg.world.alive_authorizations(PHONE)
    with pytest.raises(TelegramUnavailable) as info:
        await tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=Secret(PASSWORD))
    assert "login budget" in str(info.value)
    assert info.value.retry_after == pytest.approx(timedelta(hours=23).total_seconds())
    assert tg.world.alive_authorizations(PHONE) == alive_before
    # another account's budget is untouched
    other = tg.world.create_session(OTHER)
    await tg.gateway.mint(tg.access(other, OTHER), new_identity=NEW_IDENTITY, two_fa=None)
    # once the first attempt leaves the window, one more fits
    tg.clock.advance(hours=23, seconds=1)
    await tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=Secret(PASSWORD))
    with pytest.raises(TelegramUnavailable):
        await tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=Secret(PASSWORD))


# -- log out, revoke others, list authorizations --------------------------------------------------------------------


async def test_log_out_then_validate_is_dead(tg: Harness) -> None:
    string = tg.world.create_session(PHONE)
    await tg.gateway.log_out(tg.access(string))
    verdict = await tg.gateway.validate(tg.access(string))
    assert verdict == Verdict.dead(Reason.AUTH_KEY_UNREGISTERED, tg.clock.now())
    await tg.gateway.log_out(tg.access(string))  # already dead: fine
    await tg.gateway.log_out(tg.access(Secret("not a session")))
    assert tg.world.alive_authorizations(PHONE) == 0


async def test_log_out_under_server_error_is_transient(tg: Harness) -> None:
    string = tg.world.create_session(PHONE)
    tg.world.server_error(PHONE)
    with pytest.raises(TelegramUnavailable):
        await tg.gateway.log_out(tg.access(string))
    assert (await tg.gateway.validate(tg.access(string))).is_alive


async def test_mature_source_revokes_another_authorization(tg: Harness) -> None:
    keeper = tg.world.create_session(PHONE, age=timedelta(days=3))
    victim = await tg.gateway.mint(tg.access(keeper), new_identity=NEW_IDENTITY, two_fa=None)
    assert victim.auth_hash is not None
    await tg.gateway.revoke_other(tg.access(keeper), victim.auth_hash)
    assert (await tg.gateway.validate(tg.access(victim.string))).reason == Reason.AUTH_KEY_UNREGISTERED
    assert (await tg.gateway.validate(tg.access(keeper))).is_alive


async def test_exactly_24h_old_source_is_mature(tg: Harness) -> None:
    keeper = tg.world.create_session(PHONE, age=timedelta(hours=24))
    victim = tg.world.create_session(PHONE, age=timedelta(hours=1))
    listed = await tg.gateway.authorizations(tg.access(keeper))
    [victim_auth] = [a for a in listed if not a.current and a.created_at == tg.clock.now() - timedelta(hours=1)]
    await tg.gateway.revoke_other(tg.access(keeper), victim_auth.hash)
    assert not (await tg.gateway.validate(tg.access(victim))).is_alive


async def test_fresh_source_cannot_revoke_others(tg: Harness) -> None:
    old = tg.world.create_session(PHONE, age=timedelta(days=2))
    fresh = await tg.gateway.mint(tg.access(old), new_identity=NEW_IDENTITY, two_fa=None)
    listed = await tg.gateway.authorizations(tg.access(fresh.string))
    [old_auth] = [a for a in listed if not a.current and a.created_at == tg.clock.now() - timedelta(days=2)]
    tg.clock.advance(hours=23, minutes=59)
    with pytest.raises(MintFailed) as info:
        await tg.gateway.revoke_other(tg.access(fresh.string), old_auth.hash)
    assert info.value.reason == "fresh_reset_forbidden"
    assert not info.value.transient
    assert (await tg.gateway.validate(tg.access(old))).is_alive


async def test_revoke_unknown_hash_is_a_no_op(tg: Harness) -> None:
    keeper = tg.world.create_session(PHONE)
    tg.world.create_session(PHONE)
    listed = await tg.gateway.authorizations(tg.access(keeper))
    unknown = 1 + max(a.hash for a in listed)
    await tg.gateway.revoke_other(tg.access(keeper), unknown)
    assert tg.world.alive_authorizations(PHONE) == 2


async def test_revoke_other_from_dead_source(tg: Harness) -> None:
    keeper = tg.world.create_session(PHONE)
    tg.world.revoke(keeper)
    with pytest.raises(MintFailed) as info:
        await tg.gateway.revoke_other(tg.access(keeper), 1)
    assert info.value.reason == "source_dead"


async def test_authorizations_lists_live_ones_with_current(tg: Harness) -> None:
    first = tg.world.create_session(PHONE, age=timedelta(days=10), identity=IDENTITY)
    second = tg.world.create_session(PHONE, age=timedelta(days=1))
    gone = tg.world.create_session(PHONE, age=timedelta(days=2))
    tg.world.revoke(gone)
    listed = await tg.gateway.authorizations(tg.access(second))
    assert len(listed) == 2
    assert [a.current for a in sorted(listed, key=lambda a: a.created_at)] == [False, True]
    oldest = min(listed, key=lambda a: a.created_at)
    assert oldest.device_model == IDENTITY.device_model
    assert oldest.app_version == IDENTITY.app_version
    assert oldest.created_at == tg.clock.now() - timedelta(days=10)
    assert len({a.hash for a in listed}) == 2
    assert first != second


# -- transport faults, latency, call counting -----------------------------------------------------------------------


async def test_time_out_fault_is_cancelled_by_the_callers_timeout(tg: Harness) -> None:
    string = tg.world.create_session(PHONE)
    tg.world.time_out(PHONE, calls=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await tg.gateway.validate(tg.access(string))
    assert loop.time() - started < 1.0
    assert (await tg.gateway.validate(tg.access(string))).is_alive  # only the next call hung


async def test_time_out_fault_applies_to_every_kind_of_call(tg: Harness) -> None:
    string = tg.world.create_session(PHONE)
    tg.world.time_out(calls=3)
    for call in (
        tg.gateway.mint(tg.access(string), new_identity=NEW_IDENTITY, two_fa=None),
        tg.gateway.authorizations(tg.access(string)),
        tg.gateway.log_out(tg.access(string)),
    ):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.02):
                await call
    assert tg.world.is_alive(string)
    assert tg.world.alive_authorizations(PHONE) == 1


async def test_time_out_for_one_phone_spares_the_others(tg: Harness) -> None:
    other = tg.world.create_session(OTHER)
    tg.world.time_out(PHONE, calls=1)
    async with asyncio.timeout(1.0):
        assert (await tg.gateway.validate(tg.access(other, OTHER))).is_alive


async def test_latency_is_added_to_every_call(tg: Harness) -> None:
    string = tg.world.create_session(PHONE)
    tg.world.latency = 0.05
    loop = asyncio.get_running_loop()
    started = loop.time()
    await tg.gateway.validate(tg.access(string))
    await tg.gateway.authorizations(tg.access(string))
    assert loop.time() - started >= 0.1
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await tg.gateway.validate(tg.access(string))


# -- secrets never leak ---------------------------------------------------------------------------------------------


async def test_no_secret_in_exceptions_or_reprs(tg: Harness) -> None:
    tg.world.set_two_fa(PHONE, PASSWORD)
    source = tg.world.create_session(PHONE)
    fresh = await tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=Secret(PASSWORD))
    wrong = "my-wrong-password-123"
    errors: list[BaseException] = []

    async def collect(call: Awaitable[object]) -> None:
        try:
            await call
        except Exception as exc:
            errors.append(exc)

    await collect(tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=None))
    await collect(tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=Secret(wrong)))
    await collect(tg.gateway.revoke_other(tg.access(fresh.string), 1))
    tg.world.server_error(PHONE)
    await collect(tg.gateway.log_out(tg.access(source)))
    tg.world.flood_wait(PHONE, 10)
    await collect(tg.gateway.authorizations(tg.access(source)))
    tg.clock.advance(11)
    for _ in range(5):
        await collect(tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=Secret(PASSWORD)))
    tg.world.revoke(source)
    await collect(tg.gateway.mint(tg.access(source), new_identity=NEW_IDENTITY, two_fa=Secret(PASSWORD)))
    tg.world.ban(PHONE)
    await collect(tg.gateway.mint(tg.access(fresh.string), new_identity=NEW_IDENTITY, two_fa=Secret(PASSWORD)))
    assert {type(e) for e in errors} >= {TwoFactorInvalid, MintFailed, TelegramUnavailable, AccountBanned}

    forbidden = [source.reveal(), fresh.string.reveal(), PASSWORD, wrong]
    forbidden += [s[1:41] for s in (source.reveal(), fresh.string.reveal())]  # no fragment of the key either
    texts = [repr(tg.gateway), repr(tg.world), repr(fresh), repr(tg.access(source))]
    texts += [t for e in errors for t in (str(e), repr(e), repr(e.args), repr(vars(e)))]
    for text in texts:
        for secret in forbidden:
            assert secret not in text
