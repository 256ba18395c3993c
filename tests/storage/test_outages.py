"""A database that does not answer becomes StorageUnavailable (a RetryLater), never a raw driver error."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import text

from tgsessions.adapters.crypto.aesgcm import AesGcmCipher
from tgsessions.adapters.sql.database import SqlDatabase
from tgsessions.domain.errors import RetryLater, StorageUnavailable
from tgsessions.testing.clock import FakeClock


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_postgresql_is_storage_unavailable(cipher: AesGcmCipher, clock: FakeClock) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/test"
    with pytest.raises(StorageUnavailable) as caught:
        await SqlDatabase.open(url, cipher=cipher, clock=clock)
    assert isinstance(caught.value, RetryLater) and caught.value.retry_after >= 1
    assert "unavailable" in caught.value.message


async def test_connection_lost_inside_a_unit_of_work(pg_test_url: str, cipher: AesGcmCipher, clock: FakeClock) -> None:
    db = await SqlDatabase.open(pg_test_url, cipher=cipher, clock=clock)
    other = await SqlDatabase.open(pg_test_url, cipher=cipher, clock=clock)
    try:
        with pytest.raises(StorageUnavailable, match=r"lost|unavailable"):
            async with db.unit_of_work() as uow:
                conn = uow.accounts._conn  # type: ignore[attr-defined]
                pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                async with other.engine.connect() as admin:
                    await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                    await admin.commit()
                await uow.accounts.count_accounts()
        async with db.unit_of_work() as uow:  # the pool recovers with a fresh connection
            assert await uow.accounts.count_accounts() >= 0
    finally:
        await db.aclose()
        await other.aclose()
