"""Done-when of issue 5 (import part): a generated export of 10,000 accounts with every value type and a few bad
records, imported into SQLite (line-delimited file) and PostgreSQL (the --jsonArray variant), every field of a
sample checked, the report checked, then a second run that changes nothing and says so."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from tests.migration import generator as g
from tests.migration.conftest import ExportFiles, run_import
from tgsessions.adapters.sql import SqlDatabase
from tgsessions.adapters.sql.tables import accounts, events, sessions
from tgsessions.domain.model import Action, Origin, Role
from tgsessions.domain.ports import Cipher
from tgsessions.service.migration.import_report import ImportReport
from tgsessions.service.session_strings import session_id_of
from tgsessions.testing.clock import FakeClock

SAMPLE = sorted({0, 1, 2, 3, 4, 5, 6, 7, 33, 63, 97, 873, 4999, 9991, 9999, *range(100, 10_000, 731)})


def expected_sessions_added(count: int) -> int:
    archived = sum(1 + min(g.backup_count(i), g.MAX_BACKUPS) for i in range(count))
    keepers = sum(1 for i in range(count) if g.has_user(i) and g.keeper(i) != g.session(i, 1))
    return archived + keepers + g.USERS_ONLY


def check_report(report: ImportReport, files: ExportFiles, *, array: bool) -> None:
    n = files.count
    bad = files.bad_array if array else files.bad_lines
    assert report.accounts_created == n + g.USERS_ONLY
    assert report.accounts_updated == g.users_count(n)
    assert report.accounts_unchanged == 0
    assert report.sessions_added == expected_sessions_added(n)
    assert report.events_imported == sum(g.history_count(i) for i in range(n))
    assert report.backups_over_limit == 2 * len(range(0, n, 97))
    assert report.records_read == n + 4 + g.users_count(n) + g.USERS_ONLY + 1
    got = [(r.source, r.position, r.unit, r.reason.split(":")[0].split(" (")[0]) for r in report.rejected]
    unit = "index" if array else "line"
    archived = [
        ("archivedClients", bad.bad_phone, unit, "bad phone"),
        ("archivedClients", bad.no_session, unit, "no session"),
        ("archivedClients", bad.malformed, unit, "malformed JSON"),
        ("archivedClients", bad.duplicate, unit, "duplicate phone in the file"),
    ]
    expected = [*sorted(archived, key=lambda r: r[1]), ("users", files.bad_user_line, "line", "bad phone")]
    assert got == expected
    duplicate = next(r for r in report.rejected if r.reason == "duplicate phone in the file")
    assert duplicate.phone == g.phone(5)


async def check_account(db: SqlDatabase, cipher: Cipher, clock: FakeClock, i: int) -> None:
    async with db.unit_of_work() as uow:
        account = await uow.accounts.get_account(g.phone(i))
        assert account is not None and account.id is not None
        stored = await uow.sessions.sessions(account.id, include_retired=True)
        history = [e for e in await uow.audit.events(account.id, limit=100) if e.action is Action.IMPORTED]
    strings = {s.role: [x.string.reveal() for x in stored if x.role is s.role and x.string] for s in stored}
    assert strings[Role.PRIMARY] == [g.session(i, 0)]
    backups = g.expected_backups(i)
    if g.has_user(i):
        assert strings[Role.KEEPER] == [g.keeper(i)]
        assert account.two_fa is not None and account.two_fa.reveal() == g.password(i)
        assert account.updated_at == clock.now()
        backups = [b for b in backups if b != g.keeper(i)]
    else:
        assert Role.KEEPER not in strings and account.two_fa is None
        assert account.updated_at == g.updated_at(i)
    assert strings.get(Role.BACKUP, []) == backups  # newest first, deduplicated, at most 10
    for session in stored:
        assert session.origin is Origin.IMPORTED and session.string is not None
        assert session.session_id == session_id_of(cipher, session.string)
    assert account.created_at == g.created_at(i)
    assert account.last_updated == g.last_updated(i)
    assert account.last_cleanup == g.last_cleanup(i)
    assert len(history) == g.history_count(i)
    if history:
        oldest_first = sorted(history, key=lambda e: e.id or 0)
        assert [e.at for e in oldest_first] == [g.created_at(i), g.last_updated(i)]
        assert [e.detail["description"] for e in oldest_first] == ["action: updated; reason: expired",
                                                                   "moved to backup"]  # fmt: skip
        text = repr([e.detail for e in history])
        assert all(g.session(i, k) not in text for k in (0, 1, 8, 9))


async def table_counts(db: SqlDatabase) -> tuple[int, int, int]:
    async with db.engine.connect() as conn:
        found = [
            (await conn.execute(select(func.count()).select_from(t))).scalar_one() for t in (accounts, sessions, events)
        ]
    return found[0], found[1], found[2]


async def test_import_10000_accounts_then_rerun_changes_nothing(
    sql_database: SqlDatabase, cipher: Cipher, clock: FakeClock, big_export: ExportFiles
) -> None:
    array = sql_database.backend == "postgresql"  # SQLite reads the line-delimited file, PostgreSQL the array
    archived = big_export.array if array else big_export.lines
    report = await run_import(sql_database, cipher, clock, archived, big_export.users)
    check_report(report, big_export, array=array)
    assert report.changed and "created" in report.summary()
    for i in SAMPLE:
        await check_account(sql_database, cipher, clock, i)
    for j in range(g.USERS_ONLY):
        async with sql_database.unit_of_work() as uow:
            account = await uow.accounts.get_account(g.phone(big_export.count + j))
            assert account is not None and account.id is not None
            only = await uow.sessions.sessions(account.id)
        assert [(s.role, s.string.reveal() if s.string else None) for s in only] == [
            (Role.KEEPER, g.keeper(big_export.count + j))
        ]
    async with sql_database.engine.connect() as conn:  # encrypted at rest
        row = (await conn.execute(select(sessions.c.string_ct).limit(1))).scalar_one()
        two_fa = (await conn.execute(select(accounts.c.two_fa_ct).where(accounts.c.phone == g.phone(0)))).scalar_one()
    assert b"1" + g.session(0, 0)[1:20].encode() not in row and g.password(0).encode() not in two_fa
    before = await table_counts(sql_database)
    clock.advance(3600)

    again = await run_import(sql_database, cipher, clock, archived, big_export.users)
    assert not again.changed
    assert (again.accounts_created, again.accounts_updated, again.sessions_added, again.events_imported) == (0, 0, 0, 0)
    assert again.accounts_unchanged == big_export.count + g.users_count(big_export.count) + g.USERS_ONLY
    assert again.summary().startswith("nothing changed")
    assert again.rejected == report.rejected
    assert await table_counts(sql_database) == before
    clock.set(datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    await check_account(sql_database, cipher, clock, 3)
