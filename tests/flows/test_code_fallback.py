"""Issue 12 end to end on the simulated Telegram: with QR login refused, a fetch of an account whose only live
session is the keeper mints by login code (the Telethon side of it: tests/telegram/test_telethon_gateway.py)."""

from __future__ import annotations

from tests.flows.conftest import PHONE, MakeFactory, seed
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.model import Action


async def test_fetch_with_qr_refused_mints_by_code_from_the_keeper(
    make_factory: MakeFactory, world: SimulatedTelegram
) -> None:
    factory = make_factory()
    seeded = await seed(factory, world, backups=2)
    world.disable_qr(PHONE)
    for string in [seeded.primary, *seeded.backups]:
        world.revoke(string)
    result = await factory.fetch_one(PHONE)
    assert result.how == "minted" and result.origin == "minted"
    assert result.session not in seeded.all() and world.is_alive(result.session)
    assert world.calls["mint_code"] == 1 and world.calls["mint_qr"] == 0
    events = (await factory.history(PHONE, limit=500)).events
    [minted] = [e for e in events if e.action is Action.MINTED]
    assert minted.detail["method"] == "code"
    assert not [e for e in events if e.action is Action.MINT_FAILED]
    status = await factory.session_status(PHONE)
    assert status.primary_alive is True and status.keeper is not None


async def test_maintenance_with_qr_refused_mints_by_code_too(
    make_factory: MakeFactory, world: SimulatedTelegram
) -> None:
    factory = make_factory()
    seeded = await seed(factory, world, backups=0)
    world.disable_qr(PHONE)
    world.revoke(seeded.primary)
    report = await factory.run_maintenance(actor="test")
    assert report.minted >= 1 and report.healthy == 1
    minted = [e for e in (await factory.history(PHONE, limit=100)).events if e.action is Action.MINTED]
    assert minted and {e.detail["method"] for e in minted} == {"code"}
    assert world.calls["mint_qr"] == 0
