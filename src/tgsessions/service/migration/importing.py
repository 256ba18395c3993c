"""Import from the replaced service's MongoDB export: ``archivedClients`` (and optionally ``users``) records.

* Records stream in one at a time (constant memory, see adapters/mongo) and are written in batches: one unit of
  work per batch, a few statements per batch (bulk reads by phone and fingerprint, multi-row inserts, the audit rows
  in one insert). The next batch is parsed while one is written (never more than one in flight, in file order).
  Per record, only its phone is kept, as an integer, to reject a phone repeated in the file.
* Idempotent: an account is found by its phone, a session by its fingerprint (``session_id``). For a stored phone
  only what is missing is added and nothing stored is changed, so a second run over the same file reports every
  account unchanged. The record's timestamps are used when the import creates the account.
* ``archivedClients``: ``session`` → the primary; ``oldSessions`` → backups, newest first as listed, the first
  ``max_backups`` of them (the rest are counted in ``backups_over_limit``, not stored); ``createdAt``/``updatedAt``/
  ``lastUpdated``/``lastCleanup`` → the account; ``sessionHistory`` → ``imported`` events, when the record's primary
  is new to the account. When the stored account already has another primary, the record's session becomes its
  newest backup (a primary is only replaced after a check at Telegram, by ``update``).
* ``users`` (a second streaming pass): ``session`` → the keeper (a stored backup moves to keeper; the old keeper
  becomes a backup), ``password`` → the 2FA password (encrypted by the store). A phone only found there gets an
  account whose only session is the keeper.
* A record with a session string stored for another account, or used by an earlier record of the same batch, is
  rejected: the batch is rolled back and written again without it.
* ``dry_run`` does the same reads and writes and rolls every batch back, so the report says what a real run would
  do (users records of accounts the same run would create count as updated).
* ``validate`` checks every session of each imported record at Telegram after its batch is committed (paced, see
  import_validation.py); dead sessions are still imported, and reported.

The batches are written by import_batches.py, the two passes by import_archived.py and import_users.py.

Nothing here logs or reports a session string or a password.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from tgsessions.domain.errors import InvalidInput
from tgsessions.domain.migration import PositionUnit, SourceRecord
from tgsessions.domain.ports import Cipher, Clock, Database, TelegramGateway
from tgsessions.domain.session_codec import SessionFormat
from tgsessions.service.migration.import_archived import ArchivedClientsWriter
from tgsessions.service.migration.import_batches import BatchConflict, ImportBatch
from tgsessions.service.migration.import_options import ImportOptions
from tgsessions.service.migration.import_report import ImportReport, Rejection, ValidationCounts
from tgsessions.service.migration.import_users import UsersWriter
from tgsessions.service.migration.import_validation import PacedValidator
from tgsessions.service.migration.source_records import (
    ARCHIVED_CLIENTS,
    USERS,
    ArchivedClient,
    Rejected,
    UserRecord,
    parse_archived_client,
    parse_user,
)

__all__ = ["ImportOptions", "ImportProgress", "Importer"]

log = logging.getLogger("tgsessions.import")

_YIELD_EVERY = 8  # records parsed between two turns of the batch being written

Item = TypeVar("Item", ArchivedClient, UserRecord)
ImportProgress = Callable[[ImportReport], None]


@dataclass(slots=True)
class _Pass(Generic[Item]):
    source: str
    parse: Callable[[SourceRecord, SessionFormat | None], Item]
    apply: Callable[[ImportBatch, list[Item]], Awaitable[None]]
    seen: set[int]


class Importer:
    """``await importer.import_archived_clients(records)``, optionally ``await importer.import_users(records)``,
    then ``importer.finish()`` for the report."""

    def __init__(
        self,
        db: Database,
        cipher: Cipher,
        clock: Clock,
        options: ImportOptions | None = None,
        *,
        gateway: TelegramGateway | None = None,
        progress: ImportProgress | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._options = options = options or ImportOptions()
        if options.batch_size < 1:
            raise InvalidInput("batch size must be at least 1", field="batch_size")
        self._validator: PacedValidator | None = None
        if options.validate:
            if gateway is None:
                raise InvalidInput("validation needs a Telegram gateway", field="validate")
            self._validator = PacedValidator(gateway, concurrency=options.validation_concurrency,
                                             per_second=options.validation_per_second,
                                             timeout=options.validation_timeout)  # fmt: skip
        self._progress = progress
        self.report = ImportReport(dry_run=options.dry_run, validation=ValidationCounts() if options.validate else None)
        self._archived_phones: set[int] = set()
        validating = self._validator is not None
        self._archived = ArchivedClientsWriter(cipher, clock, options, validating=validating)
        self._users = UsersWriter(cipher, clock, options, validating=validating, archived_phones=self._archived_phones)

    async def import_archived_clients(self, records: Iterable[SourceRecord]) -> ImportReport:
        await self._run(_Pass(ARCHIVED_CLIENTS, parse_archived_client, self._archived.apply, self._archived_phones),
                        records)  # fmt: skip
        return self.report

    async def import_users(self, records: Iterable[SourceRecord]) -> ImportReport:
        await self._run(_Pass(USERS, parse_user, self._users.apply, set()), records)
        return self.report

    def finish(self) -> ImportReport:
        """The report, rejections in file order; the summary (counts only) is logged."""
        order = {ARCHIVED_CLIENTS: 0, USERS: 1}
        self.report.rejected.sort(key=lambda r: (order.get(r.source, 2), r.position))
        log.info("import: %s; %d records rejected", self.report.summary(), len(self.report.rejected))
        return self.report

    # -- streaming and batching -------------------------------------------------------------------------------

    async def _run(self, stage: _Pass[Item], records: Iterable[SourceRecord]) -> None:
        """Parse the records into batches while the previous batch is written (its task runs whenever this loop
        yields, every few records): the database works in its driver's thread, or its server, meanwhile. Batches
        are written one after the other, in file order, at most one of them in flight."""
        batch: list[Item] = []
        writing: asyncio.Task[None] | None = None
        try:
            for count, record in enumerate(records, start=1):
                item = self._item(stage, record)
                if item is not None:
                    batch.append(item)
                if len(batch) >= self._options.batch_size:
                    if writing is not None:
                        await writing
                    writing, batch = asyncio.create_task(self._write(stage, batch)), []
                elif writing is not None and count % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # the write task takes its driver's answers
            if writing is not None:
                await writing
        except BaseException:
            if writing is not None:  # the import stops: let the batch in flight end (commit or roll back) first
                await asyncio.gather(writing, return_exceptions=True)
            raise
        if batch:
            await self._write(stage, batch)
        if self._progress is not None:
            self._progress(self.report)

    def _item(self, stage: _Pass[Item], record: SourceRecord) -> Item | None:
        """The record's item, or None when it is rejected (malformed, unreadable, or its phone seen before)."""
        self.report.records_read += 1
        if record.document is None:
            self._reject(stage.source, record.position, record.unit, record.error or "malformed JSON")
            return None
        try:
            item = stage.parse(record, self._options.session_format)
        except Rejected as exc:
            self._reject(stage.source, record.position, record.unit, exc.reason, exc.phone)
            return None
        self._count_formats(item)
        key = int(item.phone)
        if key in stage.seen:
            self._reject(stage.source, record.position, record.unit, "duplicate phone in the file", item.phone)
            return None
        stage.seen.add(key)
        return item

    async def _write(self, stage: _Pass[Item], batch: list[Item]) -> None:
        """One unit of work for the batch; a record that conflicts is rejected and the batch written again."""
        pending = list(batch)
        while pending:
            try:
                async with self._db.unit_of_work() as uow:
                    work = ImportBatch(uow, self._clock.now())

                    await stage.apply(work, pending)
                    await uow.bulk.add_sessions(work.sessions)
                    await uow.audit.append_events(work.events)
                    if not self._options.dry_run:
                        await uow.commit()
            except BatchConflict as conflict:
                item = pending.pop(conflict.index)
                self._reject(stage.source, item.position, item.unit, conflict.reason, item.phone)
                continue
            await self._count(work)
            break
        if self._progress is not None:
            self._progress(self.report)

    async def _count(self, work: ImportBatch) -> None:
        report = self.report
        report.accounts_created += work.created
        report.accounts_updated += work.updated
        report.accounts_unchanged += work.unchanged
        report.sessions_added += len(work.sessions)
        report.events_imported += work.events_imported
        report.backups_over_limit += work.over_limit
        if self._validator is not None and report.validation is not None and work.checks:
            await self._validator.check_all(work.checks, report.validation)

    def _count_formats(self, item: ArchivedClient | UserRecord) -> None:
        found = item.strings() if isinstance(item, ArchivedClient) else [item.keeper] if item.keeper else []
        for incoming in found:
            self.report.formats[incoming.format.value] = self.report.formats.get(incoming.format.value, 0) + 1

    def _reject(self, source: str, position: int, unit: PositionUnit, reason: str, phone: str | None = None) -> None:
        self.report.rejected.append(Rejection(source, position, unit, reason, phone))
