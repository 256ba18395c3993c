"""Maintenance never stops at one account: whatever goes wrong with one (an unexpected exception in one of its
steps, a session row that does not decrypt, an account row that does not decrypt), the failure is in the report,
in the account's history and in the metrics, and the other accounts are maintained."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select, text, update

from tests.flows.conftest import no_sleep, seed
from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.metrics.prometheus import PrometheusMetrics
from tgsessions.adapters.sql import SqlDatabase
from tgsessions.adapters.sql.tables import accounts, sessions
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.metrics import NoMetrics
from tgsessions.domain.model import Action, Event, Role
from tgsessions.domain.ports import Cipher, Database, SessionAccess
from tgsessions.domain.runs import RunStatus
from tgsessions.domain.verdict import Verdict
from tgsessions.service.factory import SessionFactory
from tgsessions.service.options import FactoryOptions
from tgsessions.testing.clock import FakeClock

FIRST, MIDDLE, LAST = "79160000301", "79160000302", "79160000303"
PHONES = (FIRST, MIDDLE, LAST)


class RecordingMetrics(NoMetrics):
    def __init__(self) -> None:
        self.failures: Counter[str] = Counter()

    def maintenance_account_failed(self, code: str) -> None:
        self.failures[code] += 1


class BrokenForOnePhone(SimulatedTelegramGateway):
    """The simulated gateway, except that validating any session of ``phone`` raises an unexpected exception."""

    def __init__(self, world: SimulatedTelegram, phone: str) -> None:
        super().__init__(world)
        self.phone = phone

    async def validate(self, access: SessionAccess) -> Verdict:
        if access.phone == self.phone:
            raise RuntimeError("a bug in one account's step, holding who knows what")
        return await super().validate(access)


def build(
    database: Database,
    world: SimulatedTelegram,
    cache: MemoryVerdictCache,
    cipher: Cipher,
    clock: FakeClock,
    options: FactoryOptions,
    *,
    gateway: SimulatedTelegramGateway | None = None,
    metrics: Any = None,
) -> SessionFactory:
    return SessionFactory(
        db=database,
        gateway=gateway or SimulatedTelegramGateway(world),
        cache=cache,
        cipher=cipher,
        clock=clock,
        options=options,
        sleep=no_sleep,
        metrics=metrics,
    )


async def account_id(database: Database, phone: str) -> int:
    async with database.unit_of_work() as uow:
        found = await uow.accounts.accounts_page(after_id=None, limit=100)
    return next(a.id for a in found if a.phone == phone and a.id is not None)


async def events_of(database: Database, owner: int) -> list[Event]:
    async with database.unit_of_work() as uow:
        return await uow.audit.events(owner, limit=100)


def assert_others_maintained(report: Any, failed: str) -> None:
    assert report.accounts == 3 and report.finished_at is not None
    assert report.failed == 1 and set(report.errors) == {failed}
    assert report.healthy == 2


async def three_accounts(factory: SessionFactory, world: SimulatedTelegram) -> None:
    for phone in PHONES:
        await seed(factory, world, phone, backups=2, two_fa=f"2fa-{phone}")


async def test_an_unexpected_exception_in_one_account_is_recorded_and_the_run_goes_on(
    database: Database,
    world: SimulatedTelegram,
    cache: MemoryVerdictCache,
    cipher: Cipher,
    clock: FakeClock,
    options: FactoryOptions,
) -> None:
    metrics = RecordingMetrics()
    factory = build(database, world, cache, cipher, clock, options, gateway=BrokenForOnePhone(world, MIDDLE),
                    metrics=metrics)  # fmt: skip
    try:
        await three_accounts(factory, world)
        clock.advance(hours=25)  # every session is due for its keep-alive check
        report = await factory.run_maintenance()
        assert_others_maintained(report, MIDDLE)
        assert report.errors[MIDDLE] == "internal_error: unexpected RuntimeError during maintenance"
        assert "who knows what" not in repr(report)  # the exception's own text is never shown
        assert metrics.failures == Counter({"internal_error": 1})
        for phone in (FIRST, LAST):
            events = (await factory.history(phone)).events
            assert any(e.action is Action.MAINTAINED and e.outcome == "ok" for e in events), events
        failed = [e for e in (await factory.history(MIDDLE)).events if e.action is Action.MAINTAINED]
        assert [(e.outcome, e.reason) for e in failed] == [("failed", "internal_error")]
    finally:
        await factory.aclose()


async def test_a_run_started_in_the_background_finishes_over_a_failing_account(
    database: Database,
    world: SimulatedTelegram,
    cache: MemoryVerdictCache,
    cipher: Cipher,
    clock: FakeClock,
    options: FactoryOptions,
) -> None:
    metrics = PrometheusMetrics(cache)
    factory = build(database, world, cache, cipher, clock, options, gateway=BrokenForOnePhone(world, MIDDLE),
                    metrics=metrics)  # fmt: skip
    try:
        await three_accounts(factory, world)
        clock.advance(hours=25)
        run = await factory.start_maintenance(actor="test")
        await factory.wait_for_maintenance()
        assert run.id is not None
        finished = await factory.maintenance_run(run.id)
        assert finished.status is RunStatus.FINISHED and finished.error is None
        assert finished.done == 3
        assert finished.report["failed"] == 1 and set(finished.report["errors"]) == {MIDDLE}
        assert finished.report["healthy"] == 2
        body, _ = await metrics.exposition()
        assert b'tgs_maintenance_account_failures_total{code="internal_error"} 1.0' in body
    finally:
        await factory.aclose()


async def corrupt(sql: SqlDatabase, statement: Any) -> None:
    async with sql.engine.begin() as conn:
        await conn.execute(statement)


def flipped(blob: bytes) -> bytes:
    """The same ciphertext with its last byte changed: the key id still reads, the tag no longer verifies."""
    return blob[:-1] + bytes([blob[-1] ^ 0xFF])


async def test_a_session_row_that_does_not_decrypt_fails_only_its_account(
    sql_database: SqlDatabase,
    world: SimulatedTelegram,
    cache: MemoryVerdictCache,
    cipher: Cipher,
    clock: FakeClock,
    options: FactoryOptions,
) -> None:
    metrics = RecordingMetrics()
    factory = build(sql_database, world, cache, cipher, clock, options, metrics=metrics)
    try:
        await three_accounts(factory, world)
        middle = await account_id(sql_database, MIDDLE)
        async with sql_database.engine.connect() as conn:
            row = (await conn.execute(select(sessions.c.id, sessions.c.string_ct).where(
                sessions.c.account_id == middle, sessions.c.role == Role.PRIMARY.value))).one()  # fmt: skip
        await corrupt(sql_database, update(sessions).where(sessions.c.id == row.id).values(
            string_ct=flipped(bytes(row.string_ct))))  # fmt: skip

        report = await factory.run_maintenance()
        assert_others_maintained(report, MIDDLE)
        assert report.errors[MIDDLE].startswith("secret_unreadable: ")
        assert metrics.failures == Counter({"secret_unreadable": 1})
        failed = [e for e in await events_of(sql_database, middle) if e.action is Action.MAINTAINED]
        assert [(e.outcome, e.reason) for e in failed] == [("failed", "secret_unreadable")]
    finally:
        await factory.aclose()


@pytest.mark.parametrize("page_size", [1, 2, 100])
async def test_an_account_row_that_does_not_decrypt_fails_only_that_account(
    sql_database: SqlDatabase,
    world: SimulatedTelegram,
    cache: MemoryVerdictCache,
    cipher: Cipher,
    clock: FakeClock,
    options: FactoryOptions,
    page_size: int,
) -> None:
    """Its 2FA password does not decrypt, so it cannot even be listed: its page is read one account at a time."""
    metrics = RecordingMetrics()
    factory = build(sql_database, world, cache, cipher, clock, options, metrics=metrics)
    try:
        await three_accounts(factory, world)
        middle = await account_id(sql_database, MIDDLE)
        async with sql_database.engine.connect() as conn:
            blob = (await conn.execute(select(accounts.c.two_fa_ct).where(accounts.c.id == middle))).scalar_one()
        await corrupt(sql_database, update(accounts).where(accounts.c.id == middle).values(
            two_fa_ct=flipped(bytes(blob))))  # fmt: skip

        seen: list[str] = []
        report = await factory.run_maintenance(progress=lambda _d, _t, phone: seen.append(phone),
                                               page_size=page_size)  # fmt: skip
        assert seen == list(PHONES)
        assert_others_maintained(report, MIDDLE)
        assert report.errors[MIDDLE].startswith("secret_unreadable: ")
        assert metrics.failures == Counter({"secret_unreadable": 1})
        failed = [e for e in await events_of(sql_database, middle) if e.action is Action.MAINTAINED]
        assert [(e.outcome, e.reason) for e in failed] == [("failed", "secret_unreadable")]
    finally:
        await factory.aclose()


async def test_an_unlistable_account_after_a_gap_in_the_ids_is_found(
    sql_database: SqlDatabase,
    world: SimulatedTelegram,
    cache: MemoryVerdictCache,
    cipher: Cipher,
    clock: FakeClock,
    options: FactoryOptions,
) -> None:
    """Ids 1..6, with 3 and 4 deleted and 5's 2FA password unreadable: 1, 2 and 6 are maintained, 5 is named."""
    phones = [f"7916000031{i}" for i in range(6)]
    factory = build(sql_database, world, cache, cipher, clock, options)
    try:
        for phone in phones:
            await seed(factory, world, phone, backups=1, two_fa=f"2fa-{phone}")
        async with sql_database.engine.begin() as conn:
            ids = {row.phone: row.id for row in await conn.execute(select(accounts.c.phone, accounts.c.id))}
            for phone in phones[2:4]:
                await conn.execute(text("DELETE FROM events WHERE account_id = :id"), {"id": ids[phone]})
                await conn.execute(text("DELETE FROM sessions WHERE account_id = :id"), {"id": ids[phone]})
                await conn.execute(text("DELETE FROM accounts WHERE id = :id"), {"id": ids[phone]})
            blob = (await conn.execute(select(accounts.c.two_fa_ct).where(accounts.c.id == ids[phones[4]]))).scalar()
            await conn.execute(update(accounts).where(accounts.c.id == ids[phones[4]]).values(
                two_fa_ct=flipped(bytes(blob))))  # fmt: skip

        report = await factory.run_maintenance(page_size=100)
        assert report.accounts == 4 and report.healthy == 3 and report.failed == 1
        assert set(report.errors) == {phones[4]}
        failed = [e for e in await events_of(sql_database, ids[phones[4]]) if e.action is Action.MAINTAINED]
        assert [(e.outcome, e.reason) for e in failed] == [("failed", "secret_unreadable")]
    finally:
        await factory.aclose()
