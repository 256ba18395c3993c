"""session_status, list_backups, history, cache_stats, batch_fetch."""

from __future__ import annotations

import pytest

from tests.flows.conftest import PHONE, seed
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.errors import InvalidInput, UnknownPhone
from tgsessions.service.factory import SessionFactory
from tgsessions.testing.clock import FakeClock


async def test_status_reports_health_levels_and_score(
    factory: SessionFactory, world: SimulatedTelegram, clock: FakeClock
) -> None:
    seeded = await seed(factory, world, backups=2)
    await factory.cleanup_sessions(PHONE, 5)  # gives every backup a verdict
    high = await factory.session_status(PHONE)
    assert high.primary_alive is True and high.live_backups == 2 and high.total_backups == 2
    assert high.reliability_level == "high" and high.reliability_score == 1.0
    assert high.keeper is not None and high.keeper.role == "keeper"
    assert high.login_attempts_left == 5 and high.last_checked is not None
    world.revoke(seeded.primary)
    assert (await factory.fetch_one(PHONE)).how == "cached"  # the alive verdict holds for 5 minutes
    clock.advance(301)
    assert (await factory.fetch_one(PHONE)).how == "promoted"
    medium = await factory.session_status(PHONE)
    assert medium.reliability_level == "medium" and medium.live_backups == 1
    assert 0 < medium.reliability_score < 1.0


async def test_list_backups_is_metadata_only(factory: SessionFactory, world: SimulatedTelegram) -> None:
    seeded = await seed(factory, world, backups=3)
    backups = await factory.list_backups(PHONE)
    assert len(backups) == 3
    text = repr(backups)
    for secret in seeded.all():
        assert secret.reveal() not in text
    assert {b.origin for b in backups} == {"manual"}
    assert all(b.age_seconds >= 0 for b in backups)


async def test_history_pages_newest_first(factory: SessionFactory, world: SimulatedTelegram) -> None:
    await seed(factory, world)
    for _ in range(7):
        await factory.fetch_one(PHONE)
    first = await factory.history(PHONE, limit=3)
    assert len(first.events) == 3 and first.next_before is not None
    ids = [e.id for e in first.events]
    assert ids == sorted(ids, reverse=True)
    everything = []
    page = first
    while True:
        everything.extend(page.events)
        if page.next_before is None:
            break
        page = await factory.history(PHONE, limit=3, before=page.next_before)
    assert [e.action.value for e in everything].count("handed_out") == 7
    assert everything[-1].action.value == "account_added"
    for bad in (0, 501, -3):
        with pytest.raises(InvalidInput, match="limit"):
            await factory.history(PHONE, limit=bad)
    with pytest.raises(UnknownPhone):
        await factory.history("79990000000")


async def test_cache_stats_are_real(factory: SessionFactory, world: SimulatedTelegram, clock: FakeClock) -> None:
    await seed(factory, world)
    await factory.fetch_one(PHONE)  # miss, validate, put
    await factory.fetch_one(PHONE)  # hit
    await factory.fetch_one(PHONE)  # hit
    stats = await factory.cache_stats()
    assert stats.hits == 2 and stats.entries == 1 and stats.misses >= 1
    assert stats.hit_rate == pytest.approx(stats.hits / (stats.hits + stats.misses))
    clock.advance(301)
    await factory.fetch_one(PHONE)
    assert (await factory.cache_stats()).expired == 1


async def test_batch_fetch_dedupes_and_reports_per_phone(factory: SessionFactory, world: SimulatedTelegram) -> None:
    phones = [f"7916000{i:04d}" for i in range(5)]
    for phone in phones:
        await seed(factory, world, phone, backups=0)
    world.ban(phones[2])
    items = await factory.batch_fetch([*phones, "+" + phones[0], "79990000000", "bad!"])
    assert [i.phone for i in items] == [*phones, "79990000000", "bad!"]
    assert all(i.result is not None for i in items[:2] + items[3:5])
    assert items[2].error_code == "account_banned"
    assert items[5].error_code == "unknown_phone"
    assert items[6].error_code == "invalid_input"
    with pytest.raises(InvalidInput, match="1 to 50"):
        await factory.batch_fetch([])
    with pytest.raises(InvalidInput, match="1 to 50"):
        await factory.batch_fetch([phones[0]] * 51)
    with pytest.raises(InvalidInput, match="list"):
        await factory.batch_fetch("79160000000")
