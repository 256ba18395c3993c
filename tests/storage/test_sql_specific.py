"""What only the SQL adapter has: ciphertext at rest bound to its row, timezone handling, pragmas, error hygiene,
concurrency across engines (as across processes)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError

from tests.storage.builders import account, session, session_string
from tgsessions.adapters.crypto import AesGcmCipher, KeyRing
from tgsessions.adapters.sql import SqlDatabase
from tgsessions.domain.errors import ConcurrentModification, SecretUnreadable
from tgsessions.domain.model import Action, Event, Role
from tgsessions.domain.verdict import VerdictKind

TTL = timedelta(seconds=30)


async def seed(db, clock, cipher, phone, tags, *, with_secrets=True):
    async with db.unit_of_work() as uow:
        owner = await uow.accounts.add_account(account(phone, clock.now(), with_secrets=with_secrets))
        stored = [await uow.sessions.add_session(session(cipher, owner.id, tag, clock.now())) for tag in tags]
        await uow.commit()
    return owner, stored


async def raw_rows(db, table):
    async with db.engine.connect() as conn:
        return [tuple(row) for row in (await conn.execute(text(f"SELECT * FROM {table}"))).all()]


def contains(value, secret: str) -> bool:
    if isinstance(value, bytes | bytearray | memoryview):
        return secret.encode() in bytes(value)
    return secret in str(value)


async def test_no_plaintext_secret_in_any_column(sql_database, clock, cipher):
    await seed(sql_database, clock, cipher, "79000000001", ["p", "q"])
    secrets = [session_string("p"), session_string("q"), "2fa-password-79000000001", "proxy-pw-79000000001"]
    secrets += [session_string("p")[:24]]  # not even a prefix
    found = False
    for table in ("accounts", "sessions", "events"):
        for row in await raw_rows(sql_database, table):
            for value in row:
                found = found or any(contains(value, secret) for secret in secrets)
    assert not found, "a plaintext secret (or a prefix of one) is stored in a table"
    assert len(await raw_rows(sql_database, "sessions")) == 2


def read_database_files(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.name.startswith("raw.db"))


async def test_no_plaintext_secret_in_the_sqlite_files(tmp_path: Path, clock, cipher):
    from tgsessions.adapters.sql.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'raw.db'}"
    await upgrade(url)
    db = await SqlDatabase.open(url, cipher=cipher, clock=clock)
    try:
        await seed(db, clock, cipher, "79000000002", ["r"])
        blobs = read_database_files(tmp_path)  # the WAL file too, while it exists
    finally:
        await db.aclose()
    blobs += read_database_files(tmp_path)
    assert b"79000000002" in blobs, "the check reads the right file"
    for secret in (session_string("r"), "2fa-password-79000000002", "proxy-pw-79000000002"):
        assert secret.encode() not in blobs, "a plaintext secret is in the SQLite file"


async def test_retired_session_keeps_no_ciphertext(sql_database, clock, cipher):
    _, (stored,) = await seed(sql_database, clock, cipher, "79000000003", ["t"], with_secrets=False)
    stored.retire(clock.now())
    async with sql_database.unit_of_work() as uow:
        await uow.sessions.save_session(stored)
        await uow.commit()
    async with sql_database.engine.connect() as conn:
        ciphertext = (await conn.execute(text("SELECT string_ct FROM sessions"))).scalar_one()
    assert ciphertext is None


@pytest.mark.parametrize("same_account", [True, False], ids=["same-account", "other-account"])
async def test_session_ciphertext_moved_to_another_row_does_not_decrypt(sql_database, clock, cipher, same_account):
    first_owner, (source, *rest) = await seed(sql_database, clock, cipher, "79000000004", ["u", "v"])
    if same_account:
        target = rest[0]
    else:
        _, (target,) = await seed(sql_database, clock, cipher, "79000000005", ["w"])
    async with sql_database.engine.begin() as conn:
        statement = "UPDATE sessions SET string_ct = (SELECT string_ct FROM sessions WHERE id = :src) WHERE id = :dst"
        await conn.execute(text(statement), {"src": source.id, "dst": target.id})
    async with sql_database.unit_of_work() as uow:
        assert (await uow.sessions.find_session(source.session_id)).string is not None
        with pytest.raises(SecretUnreadable) as caught:
            await uow.sessions.find_session(target.session_id)
        with pytest.raises(SecretUnreadable):
            await uow.sessions.sessions(target.account_id)
    message = str(caught.value)
    assert target.session_id in message
    for secret in (session_string("u"), session_string("v"), session_string("w")):
        assert secret not in message, "the error message must not carry a session string"
    assert first_owner.id is not None


@pytest.mark.parametrize("column", ["two_fa_ct", "proxy_ct"])
async def test_account_ciphertext_moved_to_another_account_does_not_decrypt(sql_database, clock, cipher, column):
    await seed(sql_database, clock, cipher, "79000000006", [])
    await seed(sql_database, clock, cipher, "79000000007", [])
    async with sql_database.engine.begin() as conn:
        statement = (
            f"UPDATE accounts SET {column} = (SELECT {column} FROM accounts WHERE phone = '79000000006') "
            "WHERE phone = '79000000007'"
        )
        await conn.execute(text(statement))
    async with sql_database.unit_of_work() as uow:
        assert await uow.accounts.get_account("79000000006") is not None
        with pytest.raises(SecretUnreadable) as caught:
            await uow.accounts.get_account("79000000007")
    message = str(caught.value)
    assert "79000000007" in message
    assert caught.value.phone == "79000000007"
    for secret in ("2fa-password-79000000006", "proxy-pw-79000000006", "2fa-password-79000000007"):
        assert secret not in message, "the error message must not carry a password"


async def test_another_key_file_cannot_read_the_data(sql_database, clock, cipher):
    await seed(sql_database, clock, cipher, "79000000008", ["x"])
    url = sql_database.engine.url.render_as_string(hide_password=False)
    stranger = await SqlDatabase.open(url, cipher=AesGcmCipher(KeyRing.generate()), clock=clock)
    try:
        async with stranger.unit_of_work() as uow:
            with pytest.raises(SecretUnreadable):
                await uow.accounts.get_account("79000000008")
            assert await uow.accounts.count_accounts() == 1
    finally:
        await stranger.aclose()


async def test_datetimes_in_other_zones_come_back_as_utc(sql_database, clock):
    plus3 = timezone(timedelta(hours=3))
    moment = datetime(2026, 11, 1, 15, 30, 0, 250000, tzinfo=plus3)
    new = account("79000000009", moment)
    async with sql_database.unit_of_work() as uow:
        await uow.accounts.add_account(new)
        await uow.commit()
    async with sql_database.unit_of_work() as uow:
        loaded = await uow.accounts.get_account("79000000009")
    assert loaded.created_at == moment
    assert loaded.created_at.tzinfo == UTC
    assert loaded.created_at.hour == 12


async def test_naive_datetimes_are_refused(sql_database, clock):
    naive = account("79000000010", clock.now())
    naive.created_at = datetime(2026, 11, 1, 12, 0)  # naive on purpose
    async with sql_database.unit_of_work() as uow:
        with pytest.raises(StatementError, match="naive datetime"):
            await uow.accounts.add_account(naive)


async def test_other_integrity_errors_are_not_mistranslated_and_hide_parameters(sql_database, clock, cipher):
    orphan = session(cipher, 999_999, "orphan", clock.now())
    async with sql_database.unit_of_work() as uow:
        with pytest.raises(IntegrityError) as caught:
            await uow.sessions.add_session(orphan)
    assert "hidden" in str(caught.value)
    assert session_string("orphan") not in str(caught.value), "the error message must not carry the session string"


async def test_sqlite_connections_are_configured(tmp_path: Path, clock, cipher):
    db = await SqlDatabase.open(
        f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'dir' / 'p.db'}", cipher=cipher, clock=clock
    )
    try:
        assert db.backend == "sqlite"
        async with db.engine.connect() as conn:
            values = [
                (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            ]
        assert values == ["wal", 10000, 1, 1]
    finally:
        await db.aclose()
    assert (tmp_path / "nested" / "dir" / "p.db").exists()


async def test_concurrent_writers_all_succeed(sql_database, open_same_database, clock, cipher):
    """20 concurrent units of work over two engines, each saving its own session and appending an event."""
    second = await open_same_database()
    owner, stored = await seed(sql_database, clock, cipher, "79000000011", [f"c{n}" for n in range(20)])

    async def work(n: int) -> None:
        db = sql_database if n % 2 else second
        async with db.unit_of_work() as uow:
            mine = await uow.sessions.find_session(stored[n].session_id)
            mine.verdict, mine.consecutive_failures = VerdictKind.ALIVE, n
            await uow.sessions.save_session(mine)
            await uow.audit.append_event(Event(owner.id, Action.VALIDATED, f"w{n}", "alive", clock.now()))
            await asyncio.sleep(0)
            await uow.commit()

    await asyncio.gather(*(work(n) for n in range(20)))
    async with sql_database.unit_of_work() as uow:
        sessions = await uow.sessions.sessions(owner.id)
        events = await uow.audit.events(owner.id, limit=100)
    assert sorted(s.consecutive_failures for s in sessions) == list(range(20))
    assert len(events) == 20


async def test_concurrent_saves_of_one_account_never_lose_an_update(sql_database, open_same_database, clock):
    second = await open_same_database()
    async with sql_database.unit_of_work() as uow:
        await uow.accounts.add_account(account("79000000012", clock.now()))
        await uow.commit()

    async def bump(n: int) -> bool:
        db = sql_database if n % 2 else second
        try:
            async with db.unit_of_work() as uow:
                loaded = await uow.accounts.get_account("79000000012")
                await asyncio.sleep(0)
                await uow.accounts.save_account(loaded)
                await uow.commit()
        except ConcurrentModification:
            return False
        return True

    results = await asyncio.gather(*(bump(n) for n in range(10)))
    async with sql_database.unit_of_work() as uow:
        final = await uow.accounts.get_account("79000000012")
    assert any(results)
    assert final.version == 1 + sum(results)


async def test_two_engines_contend_for_one_lease(sql_database, open_same_database, clock):
    second = await open_same_database()
    tokens: list[int] = []
    for _round in range(8):
        a, b = await asyncio.gather(
            sql_database.leases.try_acquire("maintenance", "process-a", TTL),
            second.leases.try_acquire("maintenance", "process-b", TTL),
        )
        winners = [lease for lease in (a, b) if lease is not None]
        assert len(winners) == 1, "exactly one process holds the lease"
        (winner,) = winners
        loser_db, loser = (second, "process-b") if winner.holder == "process-a" else (sql_database, "process-a")
        assert await loser_db.leases.try_acquire("maintenance", loser, TTL) is None
        tokens.append(winner.token)
        clock.advance(TTL.total_seconds())
    assert tokens == sorted(set(tokens))
    assert len(tokens) == 8


async def test_a_lease_taken_by_another_engine_fences_out_the_first(sql_database, open_same_database, clock):
    second = await open_same_database()
    lease = await sql_database.leases.try_acquire("account:90", "process-a", TTL)
    clock.advance(31)
    assert await second.leases.try_acquire("account:90", "process-b", TTL) is not None

    async def write_fenced() -> None:
        async with sql_database.unit_of_work(fence=lease) as uow:
            await uow.accounts.add_account(account("90", clock.now()))
            await uow.commit()

    with pytest.raises(ConcurrentModification):
        await write_fenced()
    async with second.unit_of_work() as uow:
        assert await uow.accounts.get_account("90") is None


async def test_session_roles_are_stored_as_plain_text(sql_database, clock, cipher):
    _, (stored,) = await seed(sql_database, clock, cipher, "79000000013", ["y"], with_secrets=False)
    async with sql_database.engine.connect() as conn:
        role, session_id = (await conn.execute(text("SELECT role, session_id FROM sessions"))).one()
    assert (role, session_id) == (Role.BACKUP.value, stored.session_id)
    assert session_id.startswith("s_")
