"""No orphan authorizations: a mint that dies after Telegram made the new authorization, or that fails at the 2FA
step, leaves nothing at Telegram that the service does not hold — once reconciliation has run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.flows.conftest import PHONE, MakeFactory, seed
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.errors import TwoFactorInvalid
from tgsessions.domain.model import Action
from tgsessions.domain.ports import Database, MintedSession
from tgsessions.testing.clock import FakeClock


class ProcessDied(BaseException):
    """What kill -9 looks like from inside: nothing after this line runs, no handler writes anything."""


def orphans(world: SimulatedTelegram, held: set[int]) -> list[Any]:
    account = world.lookup_account(PHONE)
    assert account is not None
    return [a for a in account.authorizations if a.alive and a.hash not in held]


async def held_hashes(database: Database) -> set[int]:
    async with database.unit_of_work() as uow:
        account = await uow.accounts.get_account(PHONE)
        assert account is not None and account.id is not None
        return {s.auth_hash for s in await uow.sessions.sessions(account.id) if s.auth_hash}


async def actions(factory: Any) -> list[str]:
    return [e.action.value for e in (await factory.history(PHONE, limit=200)).events]


async def open_phones(database: Database) -> list[str]:
    async with database.unit_of_work() as uow:
        return await uow.audit.phones_with_open_login_attempts()


async def test_a_plain_mint_stores_its_session_and_closes_its_intent(
    make_factory: MakeFactory, world: SimulatedTelegram, database: Database
) -> None:
    factory = make_factory()
    seeded = await seed(factory, world, backups=0)
    world.revoke(seeded.primary)
    assert (await factory.fetch_one(PHONE)).how == "minted"
    assert await open_phones(database) == []
    assert "reconciled" in await actions(factory)


async def test_a_mint_that_died_after_telegram_made_the_session_is_reconciled_at_the_next_start(
    make_factory: MakeFactory, world: SimulatedTelegram, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = make_factory()
    seeded = await seed(factory, world, backups=0)
    world.revoke(seeded.primary)
    real_mint = SimulatedTelegramGateway.mint

    async def mint_then_die(self: SimulatedTelegramGateway, *args: Any, **kwargs: Any) -> MintedSession:
        await real_mint(self, *args, **kwargs)  # the authorization exists at Telegram now...
        raise ProcessDied  # ...and the process is gone before it could store it

    monkeypatch.setattr(SimulatedTelegramGateway, "mint", mint_then_die)
    with pytest.raises(ProcessDied):
        await factory.fetch_one(PHONE)
    monkeypatch.undo()
    assert len(orphans(world, await held_hashes(database))) == 2  # the keeper, and the one nobody holds
    assert await open_phones(database) == [PHONE]

    restarted = make_factory()  # a new process
    done = await restarted.reconcile_open_intents(actor="startup")
    assert done[PHONE].revoked == 1 and done[PHONE].closed
    [keeper] = orphans(world, await held_hashes(database))  # only the keeper is left alive, and it is held
    assert keeper.string == seeded.keeper
    assert await open_phones(database) == []
    history = (await restarted.history(PHONE, limit=200)).events
    [reset] = [e for e in history if e.action is Action.REVOKED and e.reason == "orphan_authorization"]
    assert reset.detail["pending_password"] is False
    assert (await restarted.fetch_one(PHONE)).how == "minted"  # and the account works


async def test_a_wrong_2fa_password_leaves_no_password_pending_authorization(
    make_factory: MakeFactory, world: SimulatedTelegram, database: Database
) -> None:
    factory = make_factory()
    seeded = await seed(factory, world, backups=0, two_fa="the right one")
    world.set_two_fa(PHONE, "changed by the owner")
    world.revoke(seeded.primary)
    with pytest.raises(TwoFactorInvalid):
        await factory.fetch_one(PHONE)
    account = world.lookup_account(PHONE)
    assert account is not None
    assert not [a for a in account.authorizations if a.alive and a.password_pending]
    history = (await factory.history(PHONE, limit=200)).events
    [reset] = [e for e in history if e.action is Action.REVOKED and e.reason == "orphan_authorization"]
    assert reset.detail["pending_password"] is True
    assert await open_phones(database) == []


async def test_without_a_session_old_enough_to_reset_others_the_intent_stays_open_until_one_is(
    make_factory: MakeFactory, world: SimulatedTelegram, database: Database, clock: FakeClock
) -> None:
    factory = make_factory()
    world.add_account(PHONE, two_fa="right")
    keeper = world.create_session(PHONE, age=timedelta(hours=1))  # too young to reset others
    await factory.add_account(PHONE, keeper=keeper, two_fa="wrong")
    with pytest.raises(TwoFactorInvalid):
        await factory.fetch_one(PHONE)
    assert len(orphans(world, await held_hashes(database))) == 2  # the keeper and the password-pending one
    assert await open_phones(database) == [PHONE]
    clock.advance(hours=24)
    done = await factory.reconcile_open_intents()
    assert done[PHONE].revoked == 1 and done[PHONE].closed
    assert await open_phones(database) == []


async def test_maintenance_reconciles_what_a_dead_mint_left(
    make_factory: MakeFactory, world: SimulatedTelegram, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = make_factory()
    seeded = await seed(factory, world, backups=0)
    world.revoke(seeded.primary)
    real_mint = SimulatedTelegramGateway.mint

    async def mint_then_die(self: SimulatedTelegramGateway, *args: Any, **kwargs: Any) -> MintedSession:
        await real_mint(self, *args, **kwargs)
        raise ProcessDied

    monkeypatch.setattr(SimulatedTelegramGateway, "mint", mint_then_die)
    with pytest.raises(ProcessDied):
        await factory.fetch_one(PHONE)
    monkeypatch.undo()
    later = make_factory(target_backups=0)  # maintenance itself mints nothing here: only its reconciliation acts
    await later.update_session(PHONE, world.create_session(PHONE, age=timedelta(days=2)))
    report = await later.run_maintenance(actor="test")
    assert report.orphans_reset == 1
    assert await open_phones(database) == []
    assert len(orphans(world, await held_hashes(database))) == 2  # the keeper and the new primary: both held
