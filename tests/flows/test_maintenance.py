"""run_maintenance over all accounts."""

from __future__ import annotations

from tests.flows.conftest import seed
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.service.factory import SessionFactory


async def test_maintenance_promotes_mints_cleans_tops_up_and_marks(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    healthy = await seed(factory, world, "79160000001", backups=7)
    promote = await seed(factory, world, "79160000002", backups=1)
    mint = await seed(factory, world, "79160000003", backups=1)
    lost = await seed(factory, world, "79160000004", backups=1)
    await seed(factory, world, "79160000005", backups=0)
    world.revoke(promote.primary)
    world.revoke(mint.primary)
    world.revoke(mint.backups[0])
    for secret in lost.all():
        world.revoke(secret)
    world.ban("79160000005")
    seen: list[tuple[int, int, str]] = []
    report = await factory.run_maintenance(progress=lambda d, t, p: seen.append((d, t, p)), page_size=2)
    assert [s[0] for s in seen] == [1, 2, 3, 4, 5] and all(s[1] == 5 for s in seen)
    assert report.accounts == 5 and report.finished_at is not None
    assert report.promoted == 1 and report.unrecoverable == 1 and report.banned == 1
    assert report.revoked == 2  # the healthy account had 7 live backups; cleanup keeps 5 and revokes 2
    assert report.retired == 1 + 2 + 3  # dead: promote's primary, mint's primary and backup, all of lost's
    assert report.minted == 2 + 1 + 2  # promote: top-up to 2; mint: a primary, then a top-up to 2
    assert report.healthy == 3 and not report.errors
    assert len(await factory.list_backups(healthy.phone)) == 5
    # promote: primary promoted, pool topped up to the target
    assert len(await factory.list_backups(promote.phone)) == factory.options.target_backups
    assert (await factory.session_status(mint.phone)).primary_alive is True
    assert (await factory.session_status(lost.phone)).state == "unrecoverable"
    # nothing was deleted: every account is still listed
    for phone in ("79160000001", "79160000002", "79160000003", "79160000004", "79160000005"):
        assert (await factory.history(phone)).events


async def test_maintenance_reports_authorizations_the_service_does_not_hold(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    known = await seed(factory, world, "79160000011", backups=2)
    await seed(factory, world, "79160000012", backups=1)
    world.create_session(known.phone)  # the owner's phone app, say: at Telegram, not in the service
    world.create_session(known.phone)
    report = await factory.run_maintenance()
    assert report.unknown_authorizations == {known.phone: 2}
