"""The next batch is parsed while one is written: batches still go one at a time in file order, and a failing write
stops the import with its own error, the batches before it committed."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import pytest

from tests.migration.conftest import ExportFiles, run_import
from tgsessions.domain.errors import StorageUnavailable
from tgsessions.domain.ports import Cipher
from tgsessions.testing.clock import FakeClock
from tgsessions.testing.memory_db import InMemoryDatabase


class SlowDatabase:
    """The in-memory database, but each unit of work yields to the event loop on the way in and out (as a real
    driver does), counts how many are open at once, and the ``fail_at``-th one fails to start."""

    def __init__(self, inner: InMemoryDatabase, fail_at: int | None = None) -> None:
        self.inner = inner
        self.fail_at = fail_at
        self.started = self.open = self.most_open = 0

    def unit_of_work(self, **kwargs: Any) -> SlowUnitOfWork:
        return SlowUnitOfWork(self, self.inner.unit_of_work(**kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class SlowUnitOfWork:
    def __init__(self, db: SlowDatabase, inner: Any) -> None:
        self.db = db
        self.inner = inner

    async def __aenter__(self) -> Any:
        self.db.started += 1
        if self.db.started == self.db.fail_at:
            raise StorageUnavailable("the database went away", retry_after=1)
        self.db.open += 1
        self.db.most_open = max(self.db.most_open, self.db.open)
        await asyncio.sleep(0)
        return await self.inner.__aenter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.sleep(0)
        await self.inner.__aexit__(exc_type, exc, tb)
        self.db.open -= 1


async def test_batches_are_written_one_at_a_time_in_file_order(
    cipher: Cipher, clock: FakeClock, small_export: ExportFiles
) -> None:
    db = SlowDatabase(InMemoryDatabase(clock))
    report = await run_import(db, cipher, clock, small_export.lines, batch_size=10)  # type: ignore[arg-type]
    assert report.accounts_created == small_export.count and db.most_open == 1 and db.started >= 12
    async with db.inner.unit_of_work() as uow:
        page = await uow.accounts.accounts_page(after_id=None, limit=1000)
    phones = [account.phone for account in page]  # by id: the order they were created in
    assert phones == sorted(phones) and len(phones) == small_export.count


async def test_a_failing_write_stops_the_import_with_its_error_and_keeps_the_batches_before(
    cipher: Cipher, clock: FakeClock, small_export: ExportFiles
) -> None:
    db = SlowDatabase(InMemoryDatabase(clock), fail_at=4)
    with pytest.raises(StorageUnavailable):
        await run_import(db, cipher, clock, small_export.lines, batch_size=10)  # type: ignore[arg-type]
    async with db.inner.unit_of_work() as uow:
        assert await uow.accounts.count_accounts() == 30
