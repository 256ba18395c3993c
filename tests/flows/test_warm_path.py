"""The warm path serves concurrent callers in shared transactions, and still audits every hand-out."""

from __future__ import annotations

import asyncio

import pytest

from tests.flows.conftest import PHONE, seed
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.errors import AccountBanned, UnknownPhone
from tgsessions.domain.model import AccountState, Action
from tgsessions.service.factory import SessionFactory

OTHER = "79160000002"


async def test_concurrent_warm_fetches_are_each_audited(factory: SessionFactory, world: SimulatedTelegram) -> None:
    seeded = await seed(factory, world)
    other = await seed(factory, world, OTHER)
    await factory.fetch_one(PHONE)
    await factory.fetch_one(OTHER)
    calls = world.calls["validate"]
    results = await asyncio.gather(
        *(factory.fetch_one(phone, actor=f"key:{i}") for i in range(30) for phone in (PHONE, OTHER))
    )
    assert all(r.how == "cached" for r in results)
    assert {r.session for r in results if r.phone == PHONE} == {seeded.primary}
    assert {r.session for r in results if r.phone == OTHER} == {other.primary}
    assert world.calls["validate"] == calls
    for phone in (PHONE, OTHER):
        events = (await factory.history(phone, limit=500)).events
        actors = sorted(e.actor for e in events if e.action is Action.HANDED_OUT and e.detail.get("how") == "cached")
        assert actors == sorted(f"key:{i}" for i in range(30))


async def test_one_bad_phone_does_not_fail_the_others_in_its_batch(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    await seed(factory, world)
    await seed(factory, world, OTHER)
    await factory.fetch_one(PHONE)
    await factory.fetch_one(OTHER)
    factory._ctx.primary_hints.set("79990000000", "s_unknown")  # a hint for a phone that has no account
    world.ban(OTHER)
    async with factory._ctx.db.unit_of_work() as uow:  # the account is marked banned by another process
        account = await uow.accounts.get_account(OTHER)
        assert account is not None
        account.state = AccountState.BANNED
        await uow.accounts.save_account(account)
        await uow.commit()
    results = await asyncio.gather(
        factory.fetch_one(PHONE), factory.fetch_one("79990000000"), factory.fetch_one(OTHER),
        return_exceptions=True,
    )  # fmt: skip
    assert not isinstance(results[0], BaseException) and results[0].how == "cached"
    assert isinstance(results[1], UnknownPhone)
    assert isinstance(results[2], AccountBanned)


async def test_a_changed_primary_sends_the_caller_down_the_cold_path(
    factory: SessionFactory, world: SimulatedTelegram
) -> None:
    seeded = await seed(factory, world, backups=1)
    await factory.fetch_one(PHONE)
    await factory.update_session(PHONE, seeded.backups[0])  # the primary changes behind the hint
    result = await factory.fetch_one(PHONE)
    assert result.session == seeded.backups[0]
    with pytest.raises(UnknownPhone):
        await factory.fetch_one("79990000000")


async def test_a_warm_batch_is_one_hand_out_and_the_rest_go_cold(
    factory: SessionFactory, world: SimulatedTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    phones = [f"7916000{i:04d}" for i in range(12)]
    seeded = {phone: await seed(factory, world, phone, backups=1) for phone in phones}
    await factory.batch_fetch(phones[:10])  # ten warm, two never fetched (no hint: cold)
    await factory.update_session(phones[3], seeded[phones[3]].backups[0])  # its primary changed behind the hint
    db = factory._ctx.db
    batches: list[int] = []
    original = db.hand_out_warm

    async def counted(requests, now):  # type: ignore[no-untyped-def]
        batches.append(len(requests))
        return await original(requests, now)

    monkeypatch.setattr(db, "hand_out_warm", counted)
    validations = world.calls["validate"]
    items = await factory.batch_fetch([*phones, "not a phone"])
    assert batches[0] == 10, "every phone with a hint and a cached alive verdict, in one hand-out"
    assert [item.phone for item in items[:12]] == phones
    assert all(item.result is not None for item in items[:12])
    assert {item.result.how for i, item in enumerate(items[:12]) if i not in (3, 10, 11)} == {"cached"}  # type: ignore[union-attr]
    assert items[3].result is not None and items[3].result.session == seeded[phones[3]].backups[0]
    assert items[12].error_code == "invalid_input" and items[12].result is None
    assert world.calls["validate"] > validations, "the cold ones were validated"
    for phone in phones[:10]:
        events = (await factory.history(phone, limit=50)).events
        assert sum(1 for e in events if e.action is Action.HANDED_OUT) == 2  # the first batch and this one


async def test_a_warm_batch_reports_each_phones_error(factory: SessionFactory, world: SimulatedTelegram) -> None:
    await seed(factory, world)
    await seed(factory, world, OTHER)
    await factory.batch_fetch([PHONE, OTHER])
    async with factory._ctx.db.unit_of_work() as uow:  # another process marks OTHER banned
        account = await uow.accounts.get_account(OTHER)
        assert account is not None
        account.state = AccountState.BANNED
        await uow.accounts.save_account(account)
        await uow.commit()
    first, second = await factory.batch_fetch([PHONE, OTHER])
    assert first.result is not None and first.result.how == "cached"
    assert second.result is None and second.error_code == AccountBanned.code
