"""The bulk import's rows (adapters/sql/bulk_import: account_rows, session_rows) are mapping.py's rows, with each
distinct client identity serialised once for the whole import; and on SQLite, bulk work sizes the page cache for a
batch."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from tests.support.db_fixtures import on_backends
from tgsessions.adapters.sql import SqlDatabase, mapping
from tgsessions.adapters.sql.bulk_import import SQLITE_CACHE_KIB, session_rows
from tgsessions.domain.model import ClientIdentity, Origin, Role, Session
from tgsessions.domain.ports import Cipher
from tgsessions.domain.secret import Secret
from tgsessions.testing.clock import FakeClock


def test_each_distinct_identity_is_serialised_once_and_reads_back(cipher: Cipher, clock: FakeClock) -> None:
    now = clock.now()
    other = ClientIdentity(api_id=7, device_model="Pixel 7", lang_code="de")
    batch = [
        Session(f"s_{i}", 1, Role.BACKUP, Origin.IMPORTED, other if i % 2 else ClientIdentity(),
                now - timedelta(days=i), now, string=Secret(f"1{i}"))
        for i in range(6)
    ]  # fmt: skip
    mapping.identity_to_json.cache_clear()
    rows = session_rows(batch, cipher)
    info = mapping.identity_to_json.cache_info()
    assert (info.misses, info.hits) == (2, 4), "two identities, six rows"
    assert [mapping.identity_from_json(str(row["identity"])) for row in rows] == [s.identity for s in batch]
    for row, session in zip(rows, batch, strict=True):
        blob = row["string_ct"]
        assert isinstance(blob, bytes)
        assert cipher.decrypt(blob, aad=mapping.session_aad(1, session.session_id)) == session.string.reveal()  # type: ignore[union-attr]


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
