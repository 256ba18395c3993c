"""fetch_one: validate, promote the newest live backup, mint from the keeper, unrecoverable, transient failures."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.flows.conftest import PHONE, MakeFactory, seed
from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.errors import (
    AccountBanned,
    AccountUnrecoverable,
    InvalidInput,
    LoginBudgetSpent,
    MintFailed,
    TelegramUnavailable,
    TwoFactorInvalid,
    UnknownPhone,
)
from tgsessions.domain.model import Action
from tgsessions.service.factory import SessionFactory
from tgsessions.service.session_strings import session_id_of
from tgsessions.testing.clock import FakeClock


async def actions(factory: SessionFactory, phone: str = PHONE) -> list[str]:
    page = await factory.history(phone, limit=500)
    return [e.action.value for e in reversed(page.events)]


async def test_live_primary_is_returned_and_then_served_from_cache(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    seeded = await seed(factory, world)
    first = await factory.fetch_one("+7 916 123-45-67")
    assert first.session == seeded.primary and first.how == "validated" and first.role == "primary"
    second = await factory.fetch_one(PHONE)
    assert second.session == seeded.primary and second.how == "cached"
    assert world.calls["validate"] == 1
    assert (await actions(factory)).count("handed_out") == 2


async def test_dead_primary_promotes_the_newest_live_backup(factory: SessionFactory, world: SimulatedTelegram) -> None:
    seeded = await seed(factory, world, backups=3)
    world.revoke(seeded.primary)
    world.revoke(seeded.backups[0])  # the newest backup is dead too
    result = await factory.fetch_one(PHONE)
    assert result.session == seeded.backups[1] and result.how == "promoted"
    assert world.calls["validate"] == 3  # primary, newest backup, next backup: dead verdicts are never retried
    backups = await factory.list_backups(PHONE)
    assert [b.session_id for b in backups] == [(await _sid(factory, seeded.backups[2]))]
    log = await actions(factory)
    assert log.count("promoted") == 1 and log.count("retired") == 2
    # the keeper was never needed, nothing was minted
    assert world.calls["mint_qr"] == 0


async def test_no_live_backup_mints_from_the_keeper(factory: SessionFactory, world: SimulatedTelegram) -> None:
    seeded = await seed(factory, world, backups=2)
    for s in [seeded.primary, *seeded.backups]:
        world.revoke(s)
    result = await factory.fetch_one(PHONE)
    assert result.how == "minted" and result.origin == "minted"
    assert result.session not in seeded.all() and world.is_alive(result.session)
    assert world.calls["mint_qr"] == 1
    status = await factory.session_status(PHONE)
    assert status.primary_alive is True and status.keeper is not None and status.total_backups == 0
    assert "login_attempt" in await actions(factory)


async def test_mint_falls_back_to_login_code_and_uses_the_2fa_password(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    seeded = await seed(factory, world, backups=0, two_fa="correct horse")
    world.disable_qr(PHONE)
    world.revoke(seeded.primary)
    result = await factory.fetch_one(PHONE)
    assert result.how == "minted" and world.calls["mint_code"] == 1
    page = await factory.history(PHONE)
    minted = next(e for e in page.events if e.action is Action.MINTED)
    assert minted.detail["method"] == "code"


async def test_wrong_2fa_password_is_an_account_level_error_not_retried(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    seeded = await seed(factory, world, backups=0, two_fa="stored-one")
    world.set_two_fa(PHONE, "changed-by-the-owner")
    world.revoke(seeded.primary)
    with pytest.raises(TwoFactorInvalid):
        await factory.fetch_one(PHONE)
    assert world.calls["mint_qr"] == 1  # one attempt, no blind retries burning the budget


async def test_nothing_alive_marks_unrecoverable_and_deletes_nothing(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    seeded = await seed(factory, world, backups=2)
    for s in seeded.all():
        world.revoke(s)
    with pytest.raises(AccountUnrecoverable) as caught:
        await factory.fetch_one(PHONE)
    assert PHONE in str(caught.value)
    status = await factory.session_status(PHONE)
    assert status.state == "unrecoverable" and status.reliability_level == "low"
    log = await actions(factory)
    assert log.count("retired") == 4 and "state_changed" in log
    # the account and its history are still there; a new live session brings it back
    fresh = world.create_session(PHONE)
    await factory.update_session(PHONE, fresh)
    assert (await factory.fetch_one(PHONE)).session == fresh
    assert (await factory.session_status(PHONE)).state == "active"


async def test_transient_failures_never_demote(
    factory: SessionFactory, world: SimulatedTelegram, clock: FakeClock
) -> None:
    seeded = await seed(factory, world, backups=2)
    world.server_error(PHONE, calls=3)  # three attempts, all transient
    with pytest.raises(TelegramUnavailable) as caught:
        await factory.fetch_one(PHONE)
    assert caught.value.retry_after >= 1
    assert world.calls["validate"] == 3  # retried, then gave up
    assert (await factory.session_status(PHONE)).primary_alive is None  # the breaker is open: unknown
    clock.advance(61)
    status = await factory.session_status(PHONE)  # Telegram answers again now
    assert status.primary_alive is True and status.total_backups == 2
    assert "retired" not in await actions(factory) and "promoted" not in await actions(factory)
    assert (await factory.fetch_one(PHONE)).session == seeded.primary


async def test_retry_recovers_from_one_transient_failure(factory: SessionFactory, world: SimulatedTelegram) -> None:
    seeded = await seed(factory, world)
    world.server_error(PHONE, calls=1)
    assert (await factory.fetch_one(PHONE)).session == seeded.primary
    assert world.calls["validate"] == 2


async def test_validation_timeout_really_cancels_and_counts_as_unknown(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    await seed(factory, world)
    world.time_out(PHONE, calls=3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TelegramUnavailable, match="timeout"):
        await factory.fetch_one(PHONE)
    elapsed = loop.time() - started
    assert elapsed < 3 * 0.3 + 1.0  # three bounded attempts, not a hang
    assert "retired" not in await actions(factory)


async def test_flood_wait_opens_the_breaker_for_exactly_that_long(
    factory: SessionFactory, world: SimulatedTelegram, clock: FakeClock
) -> None:
    seeded = await seed(factory, world)
    world.flood_wait(PHONE, 120)
    with pytest.raises(TelegramUnavailable) as caught:
        await factory.fetch_one(PHONE)
    assert caught.value.retry_after == pytest.approx(120)
    assert world.calls["validate"] == 1  # a flood wait is not retried
    clock.advance(119)
    with pytest.raises(TelegramUnavailable) as again:
        await factory.fetch_one(PHONE)
    assert again.value.retry_after == pytest.approx(1)
    assert world.calls["validate"] == 1  # the breaker kept Telegram out of it
    clock.advance(1)
    assert (await factory.fetch_one(PHONE)).session == seeded.primary
    assert world.calls["validate"] == 2
    assert "breaker_opened" in await actions(factory)


async def test_breaker_opens_after_consecutive_transient_failures(
    factory: SessionFactory, world: SimulatedTelegram, clock: FakeClock
) -> None:
    await seed(factory, world)
    world.server_error(PHONE, calls=3)
    with pytest.raises(TelegramUnavailable):
        await factory.fetch_one(PHONE)
    calls = world.calls["validate"]
    with pytest.raises(TelegramUnavailable, match="breaker_open"):
        await factory.fetch_one(PHONE)
    assert world.calls["validate"] == calls
    clock.advance(61)
    await factory.fetch_one(PHONE)
    assert world.calls["validate"] == calls + 1


async def test_login_budget_refuses_before_calling_telegram(
    factory: SessionFactory, world: SimulatedTelegram, cache: MemoryVerdictCache, clock: FakeClock
) -> None:
    seeded = await seed(factory, world, backups=0)
    for _ in range(5):
        world.revoke((await factory.fetch_one(PHONE)).session)
        clock.advance(301)  # past the verdict cache
    # five mints used the budget of five logins in 24 h
    mints = world.calls["mint_qr"]
    assert mints == 4 and seeded.primary is not None
    world.revoke((await factory.fetch_one(PHONE)).session)
    clock.advance(301)
    with pytest.raises(LoginBudgetSpent) as caught:
        await factory.fetch_one(PHONE)
    assert world.calls["mint_qr"] == 5  # refused without asking Telegram
    assert 0 < caught.value.retry_after <= 24 * 3600
    clock.advance(24 * 3600)
    assert (await factory.fetch_one(PHONE)).how == "minted"


async def test_banned_account_does_not_try_the_backups(factory: SessionFactory, world: SimulatedTelegram) -> None:
    await seed(factory, world, backups=3)
    world.ban(PHONE)
    with pytest.raises(AccountBanned, match="banned"):
        await factory.fetch_one(PHONE)
    assert world.calls["validate"] == 1
    with pytest.raises(AccountBanned):
        await factory.fetch_one(PHONE)
    assert world.calls["validate"] == 1  # the account is marked; Telegram is not asked again
    status = await factory.session_status(PHONE)
    assert status.state == "banned" and status.total_backups == 3  # nothing deleted


async def test_frozen_account_still_hands_out_and_reports_the_flag(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    seeded = await seed(factory, world)
    world.freeze(PHONE)
    result = await factory.fetch_one(PHONE)
    assert result.session == seeded.primary and result.frozen
    assert (await factory.session_status(PHONE)).frozen


async def test_unknown_and_invalid_phones(factory: SessionFactory) -> None:
    with pytest.raises(UnknownPhone, match="79990000000"):
        await factory.fetch_one("79990000000")
    with pytest.raises(InvalidInput, match="only digits"):
        await factory.fetch_one("79abc")


async def test_top_up_mints_backups_in_the_background_after_a_promotion(
    make_factory: MakeFactory, world: SimulatedTelegram
) -> None:
    factory = make_factory(top_up_in_background=True)
    seeded = await seed(factory, world, backups=1)
    world.revoke(seeded.primary)
    result = await factory.fetch_one(PHONE)
    assert result.how == "promoted"
    await factory.drain()
    backups = await factory.list_backups(PHONE)
    assert len(backups) == factory.options.target_backups
    assert all(b.origin == "minted" for b in backups)
    assert world.alive_authorizations(PHONE) == 1 + 1 + factory.options.target_backups  # keeper, primary, backups


async def _sid(factory: SessionFactory, secret: object) -> str:
    from tgsessions.domain.secret import Secret

    assert isinstance(secret, Secret)
    return session_id_of(factory._ctx.cipher, secret)


async def test_mint_timeout_cancels_each_attempt_and_each_counts_against_the_budget(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    seeded = await seed(factory, world, backups=0)
    world.revoke(seeded.primary)
    await factory.cleanup_sessions(PHONE)  # caches the verdicts: primary dead, keeper alive
    world.reset_calls()
    world.time_out(PHONE, calls=3)  # only the three mint attempts will hang
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(MintFailed) as caught:
        await factory.fetch_one(PHONE)
    assert caught.value.reason == "timeout" and caught.value.transient
    assert loop.time() - started < 3 * 0.3 + 1.0
    assert world.calls["mint_qr"] == 3 and world.calls["validate"] == 0
    page = await factory.history(PHONE, limit=500)
    assert [e.action for e in page.events].count(Action.LOGIN_ATTEMPT) == 3
    assert (await factory.session_status(PHONE)).login_attempts_left == 2


async def test_an_unknown_phone_leaves_no_lease_behind(factory: SessionFactory) -> None:
    for _ in range(2):
        with pytest.raises(UnknownPhone):
            await factory.fetch_one("79990000000")
    # the name is free and was never kept: a new claim starts at token 1
    lease = await factory._ctx.db.leases.try_acquire("phone:79990000000", "probe", timedelta(seconds=5))
    assert lease is not None and lease.token == 1
