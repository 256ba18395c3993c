"""The bulk import's rows (adapters/sql/bulk_import: account_rows, session_rows) are the rows mapping.py writes
(account_values, session_values): the same columns, the same values, each ciphertext bound to the same row; and on
SQLite, bulk work sizes the page cache for a batch."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from tests.support.db_fixtures import on_backends
from tgsessions.adapters.sql import SqlDatabase, mapping
from tgsessions.adapters.sql.bulk_import import SQLITE_CACHE_KIB, account_rows, session_rows
from tgsessions.domain.model import Account, AccountState, ClientIdentity, Origin, Proxy, Role, Session
from tgsessions.domain.ports import Cipher
from tgsessions.domain.secret import Secret
from tgsessions.domain.session_codec import SessionFormat
from tgsessions.domain.verdict import VerdictKind
from tgsessions.testing.clock import FakeClock


def sessions(clock: FakeClock) -> list[Session]:
    now = clock.now()
    other = ClientIdentity(api_id=7, device_model="Pixel 7", lang_code="de")
    return [
        Session("s_a", 1, Role.PRIMARY, Origin.IMPORTED, ClientIdentity(), now, now, string=Secret("1aaa"),
                source_format=SessionFormat.GRAMJS),
        Session("s_b", 1, Role.BACKUP, Origin.IMPORTED, other, now - timedelta(days=1), now, string=Secret("1bbb"),
                verdict=VerdictKind.ALIVE, verdict_reason="ok", verdict_at=now, consecutive_failures=2,
                open_until=now + timedelta(seconds=30), auth_hash=-12345, source_format=SessionFormat.TELETHON),
        Session("s_c", 2, Role.RETIRED, Origin.MINTED, other, now, now, string=Secret("1ccc")),
        Session("s_d", 2, Role.KEEPER, Origin.MANUAL, ClientIdentity(), now, now, string=Secret("1ddd")),
    ]  # fmt: skip


def readable(row: dict[str, object], cipher: Cipher) -> dict[str, object]:
    """The row with its ciphertext decrypted (with the AAD of the row it was made for)."""
    blob = row["string_ct"]
    if blob is None:
        return row
    assert isinstance(blob, bytes) and isinstance(row["account_id"], int) and isinstance(row["session_id"], str)
    aad = mapping.session_aad(row["account_id"], row["session_id"])
    return {**row, "string_ct": cipher.decrypt(blob, aad=aad)}


def test_session_rows_equal_the_mapping_rows(cipher: Cipher, clock: FakeClock) -> None:
    batch = sessions(clock)
    bulk = [readable(row, cipher) for row in session_rows(batch, cipher)]
    single = [readable(mapping.session_values(s, cipher), cipher) for s in batch]
    assert bulk == single
    assert [row["string_ct"] for row in bulk] == ["1aaa", "1bbb", None, "1ddd"]
    assert bulk[0]["identity"] != bulk[1]["identity"]


def accounts(clock: FakeClock) -> list[Account]:
    now = clock.now()
    other = ClientIdentity(api_id=7, device_model="Pixel 7", lang_code="de")
    proxy = Proxy("socks5", "proxy.example", 1080, username="u", password=Secret("proxy-pw"))
    return [
        Account("79160000001", ClientIdentity(), now, now),
        Account("79160000002", other, now - timedelta(days=3), now, two_fa=Secret("2fa-pw"), last_updated=now,
                last_cleanup=now - timedelta(days=1), state=AccountState.UNRECOVERABLE, frozen=True, version=4,
                user_id=777),
        Account("79160000003", other, now, now, two_fa=Secret("2fa-other"), proxy=proxy),
    ]  # fmt: skip


def opened(row: dict[str, object], cipher: Cipher) -> dict[str, object]:
    """The account row with its 2FA and proxy ciphertexts decrypted (with the AAD of its phone)."""
    phone = row["phone"]
    assert isinstance(phone, str)
    found = dict(row)
    for column, aad in (("two_fa_ct", mapping.two_fa_aad(phone)), ("proxy_ct", mapping.proxy_aad(phone))):
        blob = row[column]
        if blob is not None:
            assert isinstance(blob, bytes)
            found[column] = cipher.decrypt(blob, aad=aad)
    return found


def test_account_rows_equal_the_mapping_rows(cipher: Cipher, clock: FakeClock) -> None:
    batch = accounts(clock)
    bulk = [opened(row, cipher) for row in account_rows(batch, cipher)]
    single = [opened(mapping.account_values(a, cipher), cipher) for a in batch]
    assert bulk == single
    assert [row["two_fa_ct"] for row in bulk] == [None, "2fa-pw", "2fa-other"]
    assert bulk[2]["proxy_ct"] is not None


@on_backends("sqlite", fixture="sql_database")
async def test_bulk_work_on_sqlite_gets_a_page_cache_for_a_batch(sql_database: SqlDatabase) -> None:
    async with sql_database.engine.connect() as conn:
        default = (await conn.exec_driver_sql("PRAGMA cache_size")).scalar()
    async with sql_database.unit_of_work() as uow:
        assert await uow.bulk.accounts_by_phone(["79160000001"]) == []
    async with sql_database.engine.connect() as conn:  # the pool's one connection: the same as the unit of work's
        sized = (await conn.exec_driver_sql("PRAGMA cache_size")).scalar()
    assert (default, sized) == (-2000, -SQLITE_CACHE_KIB)


@on_backends("sqlite", fixture="sql_database")
async def test_the_page_cache_is_sized_once_per_connection(sql_database: SqlDatabase) -> None:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(sql_database.engine.sync_engine, "before_cursor_execute", record)
    for _ in range(3):
        async with sql_database.unit_of_work() as uow:
            await uow.bulk.accounts_by_phone(["79160000001"])
    assert sum(s.startswith("PRAGMA cache_size") for s in statements) == 1
