"""The Telethon gateway against the TL-level server: real Telethon requests, results and error instances."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from telethon import errors
from telethon.sessions import StringSession

from tests.telegram.tl_server import TLServer, rpc
from tgsessions.adapters.telegram.simulated import SimulatedTelegram
from tgsessions.adapters.telegram.telethon import TelethonGateway
from tgsessions.adapters.telegram.telethon.login_table import Decision, NewLoginRefused, QrUnfinished, decide
from tgsessions.adapters.telegram.telethon.outcomes import rpc_name
from tgsessions.domain.errors import MintFailed, TelegramUnavailable, TwoFactorInvalid
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import SessionAccess
from tgsessions.domain.secret import Secret
from tgsessions.domain.verdict import Reason, Verdict
from tgsessions.testing.clock import FakeClock

PHONE = "15550001111"
OTHER = "15550002222"
PASSWORD = "correct horse battery staple"
IDENTITY = ClientIdentity(api_id=12345, device_model="pytest-device", app_version="9.9")
NEW = ClientIdentity(api_id=12345, device_model="minted-device", app_version="2.0")


@pytest.fixture
def world(clock: FakeClock) -> SimulatedTelegram:
    world = SimulatedTelegram(clock, seed=3)
    world.add_account(PHONE, dc_id=4)  # not the home DC 2: QR and code logins migrate
    world.add_account(OTHER, dc_id=2)
    return world


@pytest.fixture
def server(world: SimulatedTelegram) -> TLServer:
    return TLServer(world)


@pytest.fixture
def gateway(server: TLServer) -> TelethonGateway:
    return server.gateway()


def access(string: Secret, phone: str = PHONE) -> SessionAccess:
    return SessionAccess(string=string, phone=phone, identity=IDENTITY)


def error(kind: type[Exception], **kwargs: Any) -> Callable[[Any], BaseException]:
    return lambda request: kind(request=request, **kwargs)


# -- the verdict table, row by row, as real Telethon errors ------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (errors.AuthKeyUnregisteredError, Verdict.dead(Reason.AUTH_KEY_UNREGISTERED, FakeClock().now())),
        (errors.SessionRevokedError, Verdict.dead(Reason.SESSION_REVOKED, FakeClock().now())),
        (errors.SessionExpiredError, Verdict.dead(Reason.SESSION_EXPIRED, FakeClock().now())),
        (errors.AuthKeyInvalidError, Verdict.dead(Reason.AUTH_KEY_INVALID, FakeClock().now())),
        (errors.UserDeactivatedError, Verdict.account_dead(Reason.USER_DEACTIVATED, FakeClock().now())),
        (errors.UserDeactivatedBanError, Verdict.account_dead(Reason.USER_BANNED, FakeClock().now())),
        (errors.PhoneNumberBannedError, Verdict.account_dead(Reason.PHONE_BANNED, FakeClock().now())),
        (errors.FrozenMethodInvalidError, Verdict.alive(FakeClock().now(), frozen=True)),
        (errors.PeerFloodError, Verdict.alive(FakeClock().now(), frozen=True)),
        (errors.RpcCallFailError, Verdict.unknown(Reason.SERVER_ERROR, FakeClock().now())),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
async def test_verdict_table_rows(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway, kind: type[Exception], expected: Verdict
) -> None:
    string = world.create_session(PHONE)
    server.fail(PHONE, error(kind))
    assert await gateway.validate(access(string)) == expected


async def test_timed_out_error_and_network_errors_are_unknown(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway
) -> None:
    string = world.create_session(PHONE)
    server.fail(PHONE, lambda request: errors.TimedOutError(request, "Timeout", -503))
    assert (await gateway.validate(access(string))).reason == Reason.TIMEOUT
    server.fail(PHONE, lambda request: ConnectionResetError("peer reset"))
    assert (await gateway.validate(access(string))).reason == Reason.NETWORK
    server.fail_connect(PHONE, lambda request: OSError("proxy refused"))
    assert (await gateway.validate(access(string))).reason == Reason.NETWORK
    assert (await gateway.validate(access(string))).is_alive


async def test_auth_key_duplicated_at_connect_is_dead(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway
) -> None:
    string = world.create_session(PHONE)
    server.fail_connect(PHONE, error(errors.AuthKeyDuplicatedError))
    assert await gateway.validate(access(string)) == Verdict.dead(Reason.AUTH_KEY_DUPLICATED, world.clock.now())


async def test_flood_wait_carries_seconds_and_is_honoured_without_calling(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway, clock: FakeClock
) -> None:
    string = world.create_session(PHONE)
    other = world.create_session(OTHER)
    server.fail(PHONE, error(errors.FloodWaitError, capture=42))
    assert await gateway.validate(access(string)) == Verdict.unknown(Reason.FLOOD_WAIT, clock.now(), retry_after=42)
    before = sum(server.requests.values())
    clock.advance(40)
    second = await gateway.validate(access(string))
    assert second.reason == Reason.FLOOD_WAIT
    assert second.retry_after == pytest.approx(2)
    with pytest.raises(TelegramUnavailable):
        await gateway.authorizations(access(string))
    assert sum(server.requests.values()) == before  # Telegram was not asked again
    assert (await gateway.validate(access(other, OTHER))).is_alive  # per account
    clock.advance(3)
    assert (await gateway.validate(access(string))).is_alive


async def test_phone_mismatch_and_frozen(world: SimulatedTelegram, gateway: TelethonGateway) -> None:
    foreign = world.create_session(OTHER)
    assert (await gateway.validate(access(foreign))).reason == Reason.PHONE_MISMATCH
    string = world.create_session(PHONE)
    world.freeze(PHONE)
    verdict = await gateway.validate(access(string))
    assert verdict.is_alive
    assert verdict.frozen


async def test_string_session_errors_are_malformed(gateway: TelethonGateway) -> None:
    session = StringSession()
    session.set_dc(2, "149.154.167.51", 443)  # no auth key: save() gives ""
    assert (await gateway.validate(access(Secret(session.save())))).reason == Reason.MALFORMED


# -- minting -----------------------------------------------------------------------------------------------------


async def test_qr_mint_with_dc_migration(world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway) -> None:
    source = world.create_session(PHONE)
    minted = await gateway.mint(access(source), new_identity=NEW, two_fa=None)
    assert minted.method == "qr"
    assert server.requests["ImportLoginTokenRequest"] == 1  # the account lives on DC 4: migrated
    assert StringSession(minted.string.reveal()).dc_id == 4
    found = world.find(minted.string)
    assert found is not None
    assert found.identity.device_model == "minted-device"
    listed = await gateway.authorizations(access(source))
    assert [a.hash for a in listed if a.device_model == "minted-device"] == [minted.auth_hash]
    assert world.login_attempts(PHONE) == 1


async def test_qr_mint_without_migration(world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway) -> None:
    source = world.create_session(OTHER)
    minted = await gateway.mint(access(source, OTHER), new_identity=NEW, two_fa=None)
    assert server.requests["ImportLoginTokenRequest"] == 0
    assert (await gateway.validate(access(minted.string, OTHER))).is_alive


async def test_qr_mint_with_2fa_uses_srp(world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway) -> None:
    world.set_two_fa(PHONE, PASSWORD)
    source = world.create_session(PHONE)
    minted = await gateway.mint(access(source), new_identity=NEW, two_fa=Secret(PASSWORD))
    assert server.requests["CheckPasswordRequest"] == 1
    assert (await gateway.validate(access(minted.string))).is_alive
    with pytest.raises(TwoFactorInvalid, match="stored 2FA password is wrong"):
        await gateway.mint(access(source), new_identity=NEW, two_fa=Secret("not it"))
    # the source, the first mint, and the second mint's password-pending authorization (its logOut was refused)
    assert world.alive_authorizations(PHONE) == 3
    account = world.lookup_account(PHONE)
    assert account is not None
    assert sum(a.password_pending for a in account.authorizations if a.alive) == 1


async def test_password_flood_is_unavailable_for_long(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway
) -> None:
    world.set_two_fa(PHONE, PASSWORD)
    source = world.create_session(PHONE)
    original = server._CheckPassword

    async def flooded(client: Any, request: Any) -> Any:
        raise errors.PhonePasswordFloodError(request=request)

    server._CheckPassword = flooded  # type: ignore[method-assign]
    with pytest.raises(TelegramUnavailable) as info:
        await gateway.mint(access(source), new_identity=NEW, two_fa=Secret(PASSWORD))
    assert info.value.retry_after >= 3600
    server._CheckPassword = original  # type: ignore[method-assign]


async def test_code_mint_ignores_the_stale_code(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway
) -> None:
    world.disable_qr(PHONE)
    world.set_two_fa(PHONE, PASSWORD)
    server.code_delay_polls = 2  # the fresh code shows up on the third look; the stale one is there all along
    source = world.create_session(PHONE)
    minted = await gateway.mint(access(source), new_identity=NEW, two_fa=Secret(PASSWORD))
    assert minted.method == "code"
    assert server.requests["SignInRequest"] == 1  # the first code tried was the fresh one
    assert server.requests["GetHistoryRequest"] == 3
    assert server.requests["SendCodeRequest"] == 2  # PHONE_MIGRATE to DC 4, then again there
    assert (await gateway.validate(access(minted.string))).is_alive


async def test_code_that_never_arrives_is_transient(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway
) -> None:
    world.disable_qr(PHONE)
    server.code_delay_polls = 100
    source = world.create_session(PHONE)
    with pytest.raises(MintFailed) as info:
        await gateway.mint(access(source), new_identity=NEW, two_fa=None)
    assert info.value.reason == "code_not_received"
    assert info.value.transient
    assert world.alive_authorizations(PHONE) == 1


async def test_orphan_is_logged_out_when_the_mint_fails_late(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway
) -> None:
    source = world.create_session(PHONE)
    # the new authorization exists after ImportLoginToken; the hash lookup then hangs and the caller gives up
    original = server._ImportLoginToken

    async def import_then_hang(client: Any, request: Any) -> Any:
        result = await original(client, request)
        server.fail(PHONE, "hang")
        return result

    server._ImportLoginToken = import_then_hang  # type: ignore[method-assign]
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await gateway.mint(access(source), new_identity=NEW, two_fa=None)
    await asyncio.sleep(0.05)
    assert server.requests["LogOutRequest"] == 1
    assert world.alive_authorizations(PHONE) == 1  # only the source
    assert world.login_attempts(PHONE) == 1


# -- revocation -----------------------------------------------------------------------------------------------------


async def test_revocation_by_fresh_and_mature_sessions(
    world: SimulatedTelegram, gateway: TelethonGateway, clock: FakeClock
) -> None:
    keeper = world.create_session(PHONE, age=timedelta(days=3))
    minted = await gateway.mint(access(keeper), new_identity=NEW, two_fa=None)
    assert minted.auth_hash is not None
    keeper_hash = next(a.hash for a in await gateway.authorizations(access(minted.string)) if not a.current)
    with pytest.raises(MintFailed) as info:
        await gateway.revoke_other(access(minted.string), keeper_hash)
    assert info.value.reason == "fresh_reset_forbidden"
    await gateway.revoke_other(access(keeper), minted.auth_hash)
    assert (await gateway.validate(access(minted.string))).reason == Reason.AUTH_KEY_UNREGISTERED
    await gateway.log_out(access(keeper))
    assert world.alive_authorizations(PHONE) == 0


# -- timeouts and the connection discipline -------------------------------------------------------------------------


async def test_hung_request_is_cancelled_and_the_client_disconnected(
    world: SimulatedTelegram, server: TLServer
) -> None:
    gateway = server.gateway(request_timeout=0.05)
    string = world.create_session(PHONE)
    server.fail(PHONE, "hang")
    loop = asyncio.get_running_loop()
    started = loop.time()
    verdict = await gateway.validate(access(string))
    assert verdict.reason == Reason.TIMEOUT
    assert loop.time() - started < 1.0
    assert sum(server.live.values()) == 0
    assert gateway.pool.open_connections == 0
    server.fail_connect(PHONE, "hang")
    slow_connect = server.gateway(connect_timeout=0.05)
    assert (await slow_connect.validate(access(string))).reason == Reason.TIMEOUT
    assert sum(server.live.values()) == 0


async def test_callers_timeout_disconnects_too(world: SimulatedTelegram, server: TLServer) -> None:
    gateway = server.gateway()
    string = world.create_session(PHONE)
    server.fail(PHONE, "hang")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await gateway.validate(access(string))
    assert sum(server.live.values()) == 0


async def test_one_connection_per_session_under_concurrency(world: SimulatedTelegram, server: TLServer) -> None:
    gateway = server.gateway(max_concurrency=20, per_account_concurrency=4)
    world.latency = 0.002
    strings = [world.create_session(PHONE) for _ in range(3)]
    verdicts = await asyncio.gather(*(gateway.validate(access(strings[i % 3])) for i in range(60)))
    assert all(v.is_alive for v in verdicts)
    assert server.duplicates == 0
    assert max(server.max_live.values()) == 1
    assert len(server.max_live) == 3  # each string had one connection, reused
    assert gateway.pool.open_connections == 3
    await gateway.aclose()
    assert sum(server.live.values()) == 0


async def test_idle_connections_are_closed(world: SimulatedTelegram, server: TLServer) -> None:
    gateway = server.gateway(pool_idle_seconds=0.05)
    string = world.create_session(PHONE)
    assert (await gateway.validate(access(string))).is_alive
    assert sum(server.live.values()) == 1
    await asyncio.sleep(0.15)
    assert sum(server.live.values()) == 0
    assert gateway.pool.open_connections == 0


# -- secrets ----------------------------------------------------------------------------------------------------------


async def test_no_secret_in_logs_or_errors(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world.set_two_fa(PHONE, PASSWORD)
    source = world.create_session(PHONE)
    raised: list[BaseException] = []
    minted = await gateway.mint(access(source), new_identity=NEW, two_fa=Secret(PASSWORD))
    for call in (
        gateway.mint(access(source), new_identity=NEW, two_fa=Secret("wrong-pass-77")),
        gateway.mint(access(Secret("garbage")), new_identity=NEW, two_fa=None),
    ):
        try:
            await call
        except Exception as exc:
            raised.append(exc)
    server.fail(PHONE, "hang")
    await server.gateway(request_timeout=0.05).validate(access(source))
    assert len(raised) == 2
    texts = [r.getMessage() for r in caplog.records] + [repr(gateway), repr(gateway.config), repr(gateway.pool)]
    texts += [t for e in raised for t in (str(e), repr(e), repr(vars(e)))]
    forbidden = [source.reveal(), minted.string.reveal(), PASSWORD, "wrong-pass-77", server.config().api_hash.reveal()]
    forbidden += [source.reveal()[1:41], minted.string.reveal()[1:41]]
    for text in texts:
        for secret in forbidden:
            assert secret not in text


async def test_a_wrong_2fa_mint_through_telethon_leaves_nothing_once_reconciled(
    world: SimulatedTelegram, gateway: TelethonGateway, clock: FakeClock
) -> None:
    """End to end over Telethon's own requests: the factory's mint fails at the password step, the new client's
    logOut is refused (SESSION_PASSWORD_NEEDED), and reconciliation resets the password-pending authorization by
    hash from the keeper (older than 24 h)."""
    from tgsessions.adapters.cache.memory import MemoryVerdictCache
    from tgsessions.adapters.crypto import AesGcmCipher, KeyRing
    from tgsessions.service.factory import SessionFactory
    from tgsessions.service.options import FactoryOptions
    from tgsessions.testing.memory_db import InMemoryDatabase

    world.set_two_fa(PHONE, PASSWORD)
    keeper = world.create_session(PHONE, age=timedelta(days=60))
    factory = SessionFactory(db=InMemoryDatabase(clock), gateway=gateway, cache=MemoryVerdictCache(clock),
                             cipher=AesGcmCipher(KeyRing.generate()), clock=clock,
                             options=FactoryOptions(top_up_in_background=False))  # fmt: skip
    await factory.add_account(PHONE, keeper=keeper, two_fa="an old password")
    with pytest.raises(TwoFactorInvalid):
        await factory.fetch_one(PHONE)
    account = world.lookup_account(PHONE)
    assert account is not None
    assert [a for a in account.authorizations if a.alive] == [world.find(keeper)]  # the pending one is gone
    events = (await factory.history(PHONE, limit=100)).events
    assert [e.detail.get("pending_password") for e in events if e.reason == "orphan_authorization"] == [True]
    assert "reconciled" in [e.action.value for e in events]
    await factory.aclose()


# -- minting by login code (issue 12): the login table, the service chat, named errors -------------------------------


@pytest.mark.parametrize(
    ("made", "method", "expected"),
    [
        (rpc("API_ID_PUBLISHED_FLOOD"), "qr", Decision.FALL_BACK),
        (rpc("API_ID_INVALID"), "qr", Decision.FALL_BACK),
        (rpc("AUTH_TOKEN_EXPIRED"), "qr", Decision.FALL_BACK),
        (rpc("AUTH_TOKEN_ALREADY_ACCEPTED"), "qr", Decision.FALL_BACK),
        (rpc("AUTH_TOKEN_INVALID"), "qr", Decision.FALL_BACK),
        (lambda request: QrUnfinished("LoginToken"), "qr", Decision.FALL_BACK),
        (lambda request: TimeoutError(), "qr", Decision.FALL_BACK),
        (lambda request: TimeoutError(), "code", Decision.TRANSIENT),
        (rpc("API_ID_INVALID"), "code", Decision.PERMANENT),
        (rpc("FLOOD_WAIT_120", 420), "qr", Decision.TRANSIENT),
        (rpc("FLOOD_WAIT_120", 420), "code", Decision.TRANSIENT),
        (rpc("FLOOD_PREMIUM_WAIT_30", 420), "code", Decision.TRANSIENT),
        (rpc("RPC_CALL_FAIL", 500), "qr", Decision.TRANSIENT),
        (rpc("AUTH_KEY_UNREGISTERED", 401), "qr", Decision.PERMANENT),
        (rpc("SESSION_REVOKED", 401), "code", Decision.PERMANENT),
        (rpc("USER_DEACTIVATED_BAN", 401), "qr", Decision.PERMANENT),
        (lambda request: NewLoginRefused(errors.AuthKeyUnregisteredError(request)), "qr", Decision.TRANSIENT),
        (rpc("PHONE_CODE_EXPIRED"), "code", Decision.TRANSIENT),
        (rpc("PHONE_CODE_INVALID"), "code", Decision.TRANSIENT),
        (rpc("PHONE_NUMBER_FLOOD"), "code", Decision.PERMANENT),
        (rpc("SOMETHING_NEW_AT_TELEGRAM"), "qr", Decision.PERMANENT),
        (lambda request: ConnectionResetError(), "code", Decision.TRANSIENT),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_login_table_rows(made: Callable[[Any], BaseException], method: str, expected: Decision) -> None:
    assert decide(made(None), method) is expected


def test_error_names_are_telegrams_not_bad_request() -> None:
    assert rpc_name(rpc("API_ID_PUBLISHED_FLOOD")(None)) == "API_ID_PUBLISHED_FLOOD"
    assert rpc_name(errors.ApiIdInvalidError(request=None)) == "API_ID_INVALID"
    assert rpc_name(rpc("FLOOD_WAIT_42", 420)(None)) == "FLOOD_WAIT_X"
    assert rpc_name(rpc("SOMETHING_NEW_AT_TELEGRAM")(None)) == "SOMETHING_NEW_AT_TELEGRAM"
    assert rpc_name(TimeoutError()) == "timeout"


@pytest.mark.parametrize("refusal", ["API_ID_PUBLISHED_FLOOD", "API_ID_INVALID"])
async def test_export_refused_mints_by_code_in_the_same_mint_and_is_remembered(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway, clock: FakeClock, refusal: str
) -> None:
    server.refuse("ExportLoginTokenRequest", rpc(refusal), calls=None)
    source = world.create_session(PHONE)
    minted = await gateway.mint(access(source), new_identity=NEW, two_fa=None)
    assert minted.method == "code"
    assert server.requests["ExportLoginTokenRequest"] == 1
    assert server.requests["SignInRequest"] == 1
    assert (await gateway.validate(access(minted.string))).is_alive
    assert world.login_attempts(PHONE) == 1
    # the refusal is remembered for the account: the next mint goes straight to the code
    again = await gateway.mint(access(source), new_identity=NEW, two_fa=None)
    assert again.method == "code"
    assert server.requests["ExportLoginTokenRequest"] == 1
    # ... for a while only
    clock.advance(hours=25)
    third = await gateway.mint(access(source), new_identity=NEW, two_fa=None)
    assert third.method == "code"
    assert server.requests["ExportLoginTokenRequest"] == 2
    assert world.alive_authorizations(PHONE) == 4


@pytest.mark.parametrize("refusal", ["AUTH_TOKEN_EXPIRED", "AUTH_TOKEN_ALREADY_ACCEPTED", "AUTH_TOKEN_INVALID"])
async def test_token_errors_fall_back_to_code(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway, refusal: str
) -> None:
    server.refuse("AcceptLoginTokenRequest", rpc(refusal))
    source = world.create_session(PHONE)
    minted = await gateway.mint(access(source), new_identity=NEW, two_fa=None)
    assert minted.method == "code"
    assert server.requests["AcceptLoginTokenRequest"] == 1
    assert world.alive_authorizations(PHONE) == 2


async def test_a_qr_flow_that_times_out_falls_back_to_code(world: SimulatedTelegram, server: TLServer) -> None:
    gateway = server.gateway(request_timeout=0.1)
    server.refuse("ExportLoginTokenRequest", "hang")
    source = world.create_session(PHONE)
    minted = await gateway.mint(access(source), new_identity=NEW, two_fa=None)
    assert minted.method == "code"
    assert not gateway.minter.qr_allowed(PHONE)


async def test_flood_wait_at_export_is_not_a_fallback(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway
) -> None:
    server.refuse("ExportLoginTokenRequest", rpc("FLOOD_WAIT_120", 420))
    source = world.create_session(PHONE)
    with pytest.raises(TelegramUnavailable, match="export_token:FLOOD_WAIT_X") as info:
        await gateway.mint(access(source), new_identity=NEW, two_fa=None)
    assert info.value.retry_after == pytest.approx(120)
    assert server.requests["SendCodeRequest"] == 0
    assert gateway.minter.qr_allowed(PHONE)
    with pytest.raises(TelegramUnavailable, match="logins"):  # the login gate holds it without asking again
        await gateway.mint(access(source), new_identity=NEW, two_fa=None)
    assert server.requests["ExportLoginTokenRequest"] == 1


async def test_dead_source_while_minting_is_named_and_permanent(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway
) -> None:
    server.refuse("AcceptLoginTokenRequest", rpc("AUTH_KEY_UNREGISTERED", 401))
    source = world.create_session(PHONE)
    with pytest.raises(MintFailed) as info:
        await gateway.mint(access(source), new_identity=NEW, two_fa=None)
    assert info.value.reason == "accept_token:AUTH_KEY_UNREGISTERED"
    assert not info.value.transient
    assert server.requests["SendCodeRequest"] == 0


@pytest.mark.parametrize(
    ("refusal", "transient"), [("PHONE_NUMBER_FLOOD", False), ("API_ID_INVALID", False), ("RANDOM_NEW_ERROR", False)]
)
async def test_send_code_refusals_keep_their_names(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway, refusal: str, transient: bool
) -> None:
    server.refuse("ExportLoginTokenRequest", rpc("API_ID_PUBLISHED_FLOOD"))
    server.refuse("SendCodeRequest", rpc(refusal))
    source = world.create_session(PHONE)
    with pytest.raises(MintFailed) as info:
        await gateway.mint(access(source), new_identity=NEW, two_fa=None)
    assert info.value.reason == f"send_code:{refusal}"
    assert info.value.transient is transient
    assert f"send_code:{refusal}" in str(info.value)
    assert "BAD_REQUEST" not in str(info.value)


@pytest.mark.parametrize("answer", ["empty", "USER_ID_INVALID"])
async def test_service_chat_found_through_the_dialogs(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway, answer: str
) -> None:
    world.disable_qr(PHONE)
    source = world.create_session(PHONE)
    if answer == "empty":
        server.service_by_id = False  # users.getUsers answers an empty vector for InputUser(777000, 0)
    else:
        original = server._GetUsers

        async def refuse_777000(client: Any, request: Any) -> Any:  # the source's own check still passes
            if any(getattr(u, "user_id", None) == 777000 for u in request.id):
                raise rpc(answer)(request)
            return await original(client, request)

        server._GetUsers = refuse_777000  # type: ignore[method-assign]
    minted = await gateway.mint(access(source), new_identity=NEW, two_fa=None)
    assert minted.method == "code"
    assert server.requests["GetDialogsRequest"] == 1
    assert (await gateway.validate(access(minted.string))).is_alive


async def test_no_service_chat_is_a_named_failure(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway
) -> None:
    server.service_by_id = False
    server.service_in_dialogs = False
    world.disable_qr(PHONE)
    source = world.create_session(PHONE)
    with pytest.raises(MintFailed) as info:
        await gateway.mint(access(source), new_identity=NEW, two_fa=None)
    assert info.value.reason == "service_chat_not_found"
    assert info.value.transient
    assert server.requests["GetHistoryRequest"] == 0
    assert server.requests["SignInRequest"] == 0
    assert world.alive_authorizations(PHONE) == 1


@pytest.mark.parametrize("stale", [True, False], ids=["stale-code-only", "no-code"])
async def test_no_fresh_code_is_code_not_received(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway, stale: bool
) -> None:
    server.refuse("ExportLoginTokenRequest", rpc("API_ID_PUBLISHED_FLOOD"))
    server.deliver_codes = False
    server.stale_codes = stale
    source = world.create_session(PHONE)
    with pytest.raises(MintFailed) as info:
        await gateway.mint(access(source), new_identity=NEW, two_fa=None)
    assert info.value.reason == "code_not_received"
    assert info.value.transient
    assert server.requests["GetHistoryRequest"] == gateway.config.code_poll_attempts
    assert server.requests["SignInRequest"] == 0  # a stale code is never tried
    assert world.alive_authorizations(PHONE) == 1


@pytest.mark.parametrize("refusal", ["PHONE_CODE_EXPIRED", "PHONE_CODE_INVALID"])
async def test_sign_in_refusals_are_named(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway, refusal: str
) -> None:
    server.refuse("ExportLoginTokenRequest", rpc("API_ID_PUBLISHED_FLOOD"))
    server.refuse("SignInRequest", rpc(refusal))
    source = world.create_session(PHONE)
    with pytest.raises(MintFailed) as info:
        await gateway.mint(access(source), new_identity=NEW, two_fa=None)
    assert info.value.reason == f"sign_in:{refusal}"
    assert info.value.transient
    assert world.alive_authorizations(PHONE) == 1


async def test_2fa_after_the_code(world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway) -> None:
    world.set_two_fa(PHONE, PASSWORD)
    server.refuse("ExportLoginTokenRequest", rpc("API_ID_PUBLISHED_FLOOD"))
    server.service_by_id = False
    source = world.create_session(PHONE)
    minted = await gateway.mint(access(source), new_identity=NEW, two_fa=Secret(PASSWORD))
    assert minted.method == "code"
    assert server.requests["SignInRequest"] == 1
    assert server.requests["CheckPasswordRequest"] == 1
    assert (await gateway.validate(access(minted.string))).is_alive
    with pytest.raises(TwoFactorInvalid, match="password:PASSWORD_HASH_INVALID"):
        await gateway.mint(access(source), new_identity=NEW, two_fa=Secret("not it"))
    assert server.requests["ExportLoginTokenRequest"] == 1  # remembered: straight to the code


async def test_fetch_over_telethon_mints_by_code_when_export_is_refused(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway, clock: FakeClock
) -> None:
    """The issue's case: QR refused with API_ID_PUBLISHED_FLOOD, the account's only live session the keeper."""
    from tgsessions.domain.model import Action

    server.refuse("ExportLoginTokenRequest", rpc("API_ID_PUBLISHED_FLOOD"), calls=None)
    server.service_by_id = False
    keeper = world.create_session(PHONE, age=timedelta(days=60))
    factory = telethon_factory(gateway, clock)
    await factory.add_account(PHONE, keeper=keeper)
    result = await factory.fetch_one(PHONE)
    assert result.how == "minted"
    assert world.is_alive(result.session)
    events = (await factory.history(PHONE, limit=100)).events
    [minted] = [e for e in events if e.action is Action.MINTED]
    assert minted.detail["method"] == "code"
    assert not [e for e in events if e.action is Action.MINT_FAILED]
    await factory.aclose()


async def test_a_refused_mint_over_telethon_names_step_and_error_in_the_event(
    world: SimulatedTelegram, server: TLServer, gateway: TelethonGateway, clock: FakeClock
) -> None:
    from tgsessions.domain.model import Action

    server.refuse("ExportLoginTokenRequest", rpc("API_ID_PUBLISHED_FLOOD"), calls=None)
    server.refuse("SendCodeRequest", rpc("PHONE_NUMBER_FLOOD"), calls=None)
    keeper = world.create_session(PHONE, age=timedelta(days=60))
    factory = telethon_factory(gateway, clock)
    await factory.add_account(PHONE, keeper=keeper)
    with pytest.raises(MintFailed, match="send_code:PHONE_NUMBER_FLOOD") as info:
        await factory.fetch_one(PHONE)
    assert info.value.reason == "send_code:PHONE_NUMBER_FLOOD"
    events = (await factory.history(PHONE, limit=100)).events
    [failed] = [e for e in events if e.action is Action.MINT_FAILED]
    assert failed.reason == "send_code:PHONE_NUMBER_FLOOD"
    assert (failed.detail["step"], failed.detail["error"]) == ("send_code", "PHONE_NUMBER_FLOOD")
    assert server.requests["SendCodeRequest"] == 1  # the flood is not retried
    await factory.aclose()


def telethon_factory(gateway: TelethonGateway, clock: FakeClock) -> Any:
    from tgsessions.adapters.cache.memory import MemoryVerdictCache
    from tgsessions.adapters.crypto import AesGcmCipher, KeyRing
    from tgsessions.service.factory import SessionFactory
    from tgsessions.service.options import FactoryOptions
    from tgsessions.testing.memory_db import InMemoryDatabase

    return SessionFactory(db=InMemoryDatabase(clock), gateway=gateway, cache=MemoryVerdictCache(clock),
                          cipher=AesGcmCipher(KeyRing.generate()), clock=clock,
                          options=FactoryOptions(top_up_in_background=False))  # fmt: skip


def test_a_flood_wait_at_a_login_step_keeps_its_step_and_name_for_the_event() -> None:
    from tgsessions.adapters.telegram.telethon.outcomes import login_error

    flood = errors.FloodWaitError(request=None, capture=42)
    translated = login_error(flood, PHONE, "send_code", transient=True)
    assert isinstance(translated, TelegramUnavailable)
    assert translated.reason == "send_code:FLOOD_WAIT_X" and "send_code" in translated.message
    assert translated.retry_after == 42
