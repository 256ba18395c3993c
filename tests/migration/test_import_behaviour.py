"""Import rules on every backend: dry run, conflicts, merging into stored accounts, validation, export round trip."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from tests.migration import generator as g
from tests.migration.conftest import ExportFiles, run_import
from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.mongo import ExtendedJsonReader, ExtendedJsonWriter
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.model import Action, Role
from tgsessions.domain.ports import Cipher, Database
from tgsessions.domain.secret import Secret
from tgsessions.service.factory import SessionFactory
from tgsessions.service.migration.exporting import export_accounts
from tgsessions.service.session_strings import session_id_of
from tgsessions.testing.clock import FakeClock
from tgsessions.testing.memory_db import InMemoryDatabase

ROLE_ORDER = [Role.PRIMARY, Role.KEEPER, Role.BACKUP, Role.RETIRED]


async def snapshot(db: Database) -> dict[str, object]:
    """Every account as comparable plain values (timestamps to the millisecond, as Extended JSON keeps them)."""

    def ms(moment: object) -> object:
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000) if moment is not None else None  # type: ignore[attr-defined]

    found: dict[str, object] = {}
    async with db.unit_of_work() as uow:
        for account in await uow.accounts.accounts_page(after_id=None, limit=100_000):
            assert account.id is not None
            stored = await uow.sessions.sessions(account.id)
            history = sorted((e for e in await uow.audit.events(account.id, limit=500)
                              if e.action is Action.IMPORTED), key=lambda e: e.id or 0)  # fmt: skip
            found[account.phone] = {
                "sessions": [
                    (s.role, s.string.reveal() if s.string else None)
                    for s in sorted(stored, key=lambda s: ROLE_ORDER.index(s.role))
                ],
                "two_fa": account.two_fa.reveal() if account.two_fa else None,
                "dates": [
                    ms(account.created_at),
                    ms(account.updated_at),
                    ms(account.last_updated),
                    ms(account.last_cleanup),
                ],
                "history": [(ms(e.at), e.detail.get("description")) for e in history],
            }
    return found


async def test_dry_run_reports_the_real_run_and_writes_nothing(
    database: Database, cipher: Cipher, clock: FakeClock, small_export: ExportFiles
) -> None:
    dry = await run_import(database, cipher, clock, small_export.lines, small_export.users, dry_run=True)
    async with database.unit_of_work() as uow:
        assert await uow.accounts.count_accounts() == 0
    real = await run_import(database, cipher, clock, small_export.lines, small_export.users)
    assert dry.dry_run and "would be created" in dry.summary()
    for name in ("accounts_created", "accounts_updated", "accounts_unchanged", "events_imported", "rejected"):
        assert getattr(dry, name) == getattr(real, name), name
    async with database.unit_of_work() as uow:
        assert await uow.accounts.count_accounts() == small_export.count + g.USERS_ONLY
    again = await run_import(database, cipher, clock, small_export.lines, small_export.users, dry_run=True)
    assert not again.changed and again.summary() == (
        f"nothing changed: all {real.accounts_created + real.accounts_updated} accounts would be already imported"
    )


async def test_both_layouts_import_the_same(cipher: Cipher, clock: FakeClock, small_export: ExportFiles) -> None:
    lines, array = InMemoryDatabase(clock), InMemoryDatabase(clock)
    by_lines = await run_import(lines, cipher, clock, small_export.lines, small_export.users, batch_size=7)
    by_array = await run_import(array, cipher, clock, small_export.array, small_export.users, batch_size=1000)
    assert by_lines.sessions_added == by_array.sessions_added and by_lines.accounts_created == by_array.accounts_created
    assert await snapshot(lines) == await snapshot(array)


async def test_a_string_stored_for_another_account_rejects_only_that_record(
    database: Database, cipher: Cipher, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "conflict.json"
    docs = [{"mobile": g.phone(i), "session": g.session(i, 0), "oldSessions": [g.session(i, 1)]} for i in range(4)]
    docs[2]["oldSessions"] = [g.session(0, 1)]  # the first record's backup
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    report = await run_import(database, cipher, clock, path, batch_size=10)
    assert [(r.position, r.reason, r.phone) for r in report.rejected] == [
        (3, "a session of this record is already stored for another account", g.phone(2))
    ]
    assert report.accounts_created == 3 and report.sessions_added == 6
    again = await run_import(database, cipher, clock, path, batch_size=10)
    assert not again.changed and again.rejected == report.rejected


async def test_a_stored_account_only_gains_what_it_lacks(
    database: Database, cipher: Cipher, clock: FakeClock, tmp_path: Path
) -> None:
    world = SimulatedTelegram(clock)
    factory = SessionFactory(db=database, gateway=SimulatedTelegramGateway(world), cache=MemoryVerdictCache(clock),
                             cipher=cipher, clock=clock)  # fmt: skip
    await factory.add_account(g.phone(1), primary=g.session(1, 90), backups=[g.session(1, 91), g.session(1, 2)])
    clock.advance(60)
    path = tmp_path / "one.json"
    with ExtendedJsonWriter(path) as out:
        out.write({"mobile": g.phone(1), "session": g.session(1, 0), "oldSessions": [g.session(1, 1), g.session(1, 2)],
                   "sessionHistory": [{"action": "created", "date": clock.now() - timedelta(days=9)}]})  # fmt: skip
    report = await run_import(database, cipher, clock, path)
    assert (report.accounts_updated, report.sessions_added, report.events_imported) == (1, 2, 1)
    got = (await snapshot(database))[g.phone(1)]
    assert got["sessions"] == [  # type: ignore[index]
        (Role.PRIMARY, g.session(1, 90)),  # the stored primary stays
        (Role.BACKUP, g.session(1, 0)),  # the record's primary is the newest backup
        (Role.BACKUP, g.session(1, 91)),
        (Role.BACKUP, g.session(1, 2)),
        (Role.BACKUP, g.session(1, 1)),
    ]
    again = await run_import(database, cipher, clock, path)
    assert (again.accounts_unchanged, again.sessions_added, again.events_imported) == (1, 0, 0)


async def test_validate_counts_verdicts_and_imports_dead_sessions(
    database: Database, cipher: Cipher, clock: FakeClock, tmp_path: Path
) -> None:
    world = SimulatedTelegram(clock, seed=3)
    docs = []
    for i in range(3):
        world.add_account(g.phone(i))
        docs.append({"mobile": g.phone(i), "session": world.create_session(g.phone(i)).reveal(),
                     "oldSessions": [world.create_session(g.phone(i)).reveal()]})  # fmt: skip
    world.revoke(docs[1]["oldSessions"][0])  # type: ignore[index]
    path = tmp_path / "live.json"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    gateway = SimulatedTelegramGateway(world)
    report = await run_import(database, cipher, clock, path, gateway=gateway, validate=True,
                              validation_per_second=1000.0)  # fmt: skip
    assert report.validation is not None
    assert (report.validation.alive, report.validation.dead, report.validation.unknown) == (5, 1, 0)
    (dead,) = report.validation.dead_sessions
    assert (dead.position, dead.phone) == (2, g.phone(1)) and dead.session_id.startswith("s_")
    assert report.sessions_added == 6


async def test_export_then_import_into_an_empty_database_gives_the_same_accounts(
    database: Database, cipher: Cipher, clock: FakeClock, small_export: ExportFiles, tmp_path: Path
) -> None:
    await run_import(database, cipher, clock, small_export.lines, small_export.users)
    for array in (False, True):
        archived, users = tmp_path / f"a-{array}.json", tmp_path / f"u-{array}.json"
        with ExtendedJsonWriter(archived, array=array) as out, ExtendedJsonWriter(users, array=array) as user_out:
            exported = await export_accounts(database, clock, write=out.write, write_user=user_out.write,
                                             include_secrets=True, actor="cli", page_size=50)  # fmt: skip
        assert exported.accounts == small_export.count + g.USERS_ONLY
        target = InMemoryDatabase(clock)
        report = await run_import(target, cipher, clock, archived, users)
        assert [r.reason for r in report.rejected] == ["no session"] * g.USERS_ONLY  # keeper-only: from users
        assert await snapshot(target) == await snapshot(database)
    async with database.unit_of_work() as uow:
        account = await uow.accounts.get_account(g.phone(3))
        assert account is not None and account.id is not None
        exports = [e for e in await uow.audit.events(account.id, limit=50) if e.action is Action.EXPORTED]
    assert [(e.actor, e.detail) for e in exports] == [("cli", {"secrets": True})] * 2


async def test_an_export_without_secrets_holds_session_ids_and_is_refused_by_import(
    cipher: Cipher, clock: FakeClock, small_export: ExportFiles, tmp_path: Path
) -> None:
    db = InMemoryDatabase(clock)
    await run_import(db, cipher, clock, small_export.lines, small_export.users)
    path, users = tmp_path / "ids.json", tmp_path / "ids-users.json"
    with ExtendedJsonWriter(path) as out, ExtendedJsonWriter(users) as user_out:
        await export_accounts(db, clock, write=out.write, write_user=user_out.write, actor="cli")
    text = path.read_text() + users.read_text()
    assert g.session(0, 0) not in text and g.password(0) not in text
    first = next(r.document for r in ExtendedJsonReader(path).records())
    assert first is not None and first["session"] == session_id_of(cipher, Secret(g.session(0, 0)))
    report = await run_import(InMemoryDatabase(clock), cipher, clock, path, users)
    assert report.accounts_created == 0 and {r.reason.split(":")[0] for r in report.rejected} == {"no session"}
