"""The simulated Telegram survives a restart of a server that uses it (state saved after every change)."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

from tgsessions.adapters.telegram.simulated.persistence import PersistentSimulatedGateway
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import SessionAccess
from tgsessions.testing.clock import FakeClock

PHONE = "79160000001"


async def test_state_round_trips_through_the_file(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "world.json"
    gateway = PersistentSimulatedGateway.open(clock, path)
    world = gateway.world
    world.add_account(PHONE, two_fa="pw")
    keeper = world.create_session(PHONE, age=timedelta(days=3))
    doomed = world.create_session(PHONE)
    gateway.save()
    minted = await gateway.mint(SessionAccess(keeper, PHONE, ClientIdentity()), new_identity=ClientIdentity(),
                                two_fa=world.account(PHONE).two_fa)  # fmt: skip
    await gateway.log_out(SessionAccess(doomed, PHONE, ClientIdentity()))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    reopened = PersistentSimulatedGateway.open(clock, path)
    again = reopened.world
    assert again.is_alive(keeper) and again.is_alive(minted.string) and not again.is_alive(doomed)
    assert again.login_attempts(PHONE) == 1
    verdict = await reopened.validate(SessionAccess(minted.string, PHONE, ClientIdentity()))
    assert verdict.is_alive
    assert again.account(PHONE).authorizations[0].created_at == clock.now() - timedelta(days=3)


async def test_a_missing_file_means_an_empty_world(tmp_path: Path, clock: FakeClock) -> None:
    gateway = PersistentSimulatedGateway.open(clock, tmp_path / "absent.json")
    assert gateway.world.all_accounts() == []
