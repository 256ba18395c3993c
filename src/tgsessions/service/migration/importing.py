"""Import from the replaced service's MongoDB export: ``archivedClients`` (and optionally ``users``) records.

* Records stream in one at a time (constant memory, see adapters/mongo) and are written in batches: one unit of
  work per batch, a few statements per batch (bulk reads by phone and fingerprint, bulk inserts). Per record, only
  its phone is kept, as an integer, to reject a phone repeated in the file.
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

Nothing here logs or reports a session string or a password.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from tgsessions.domain.errors import InvalidInput
from tgsessions.domain.migration import PositionUnit, SourceRecord
from tgsessions.domain.model import Account, Action, ClientIdentity, Event, Origin, Role, Session
from tgsessions.domain.ports import AccountRepository, Cipher, Clock, Database, TelegramGateway
from tgsessions.domain.session_codec import SessionFormat
from tgsessions.service.migration.import_report import ImportReport, Rejection, ValidationCounts
from tgsessions.service.migration.import_validation import PacedValidator, SessionCheck
from tgsessions.service.migration.source_records import (
    ARCHIVED_CLIENTS,
    USERS,
    ArchivedClient,
    Rejected,
    UserRecord,
    parse_archived_client,
    parse_user,
)
from tgsessions.service.session_strings import IncomingSession, session_id_for

log = logging.getLogger("tgsessions.import")

SOURCE = "mongo-export"
CONFLICT = "a session of this record is already stored for another account"
Item = TypeVar("Item", ArchivedClient, UserRecord)


@dataclass(frozen=True, slots=True)
class ImportOptions:
    batch_size: int = 500
    dry_run: bool = False
    max_backups: int = 10
    identity: ClientIdentity = field(default_factory=ClientIdentity)
    actor: str = "cli"
    validate: bool = False
    validation_concurrency: int = 4
    validation_per_second: float = 5.0  # Telegram calls started per second, overall
    validation_timeout: float = 10.0
    session_format: SessionFormat | None = None  # None: detected per string (the replaced service's are GramJS)


@dataclass(slots=True)
class _Batch:
    """What one attempt at writing a batch adds up to; merged into the report only once it committed."""

    repo: AccountRepository
    now: datetime
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    events_imported: int = 0
    over_limit: int = 0
    sessions: list[Session] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    checks: list[SessionCheck] = field(default_factory=list)


class _Conflict(Exception):
    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


@dataclass(slots=True)
class _Pass(Generic[Item]):
    source: str
    parse: Callable[[SourceRecord, SessionFormat | None], Item]
    apply: Callable[[_Batch, list[Item]], Awaitable[None]]
    seen: set[int]


Progress = Callable[[ImportReport], None]


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
        progress: Progress | None = None,
    ) -> None:
        self._db = db
        self._cipher = cipher
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

    async def import_archived_clients(self, records: Iterable[SourceRecord]) -> ImportReport:
        await self._run(_Pass(ARCHIVED_CLIENTS, parse_archived_client, self._apply_archived, self._archived_phones),
                        records)  # fmt: skip
        return self.report

    async def import_users(self, records: Iterable[SourceRecord]) -> ImportReport:
        await self._run(_Pass(USERS, parse_user, self._apply_users, set()), records)
        return self.report

    def finish(self) -> ImportReport:
        """The report, rejections in file order; the summary (counts only) is logged."""
        order = {ARCHIVED_CLIENTS: 0, USERS: 1}
        self.report.rejected.sort(key=lambda r: (order.get(r.source, 2), r.position))
        log.info("import: %s; %d records rejected", self.report.summary(), len(self.report.rejected))
        return self.report

    # -- streaming and batching -------------------------------------------------------------------------------

    async def _run(self, stage: _Pass[Item], records: Iterable[SourceRecord]) -> None:
        batch: list[Item] = []
        for record in records:
            self.report.records_read += 1
            if record.document is None:
                self._reject(stage.source, record.position, record.unit, record.error or "malformed JSON")
                continue
            try:
                item = stage.parse(record, self._options.session_format)
            except Rejected as exc:
                self._reject(stage.source, record.position, record.unit, exc.reason, exc.phone)
                continue
            self._count_formats(item)
            key = int(item.phone)
            if key in stage.seen:
                self._reject(stage.source, record.position, record.unit, "duplicate phone in the file", item.phone)
                continue
            stage.seen.add(key)
            batch.append(item)
            if len(batch) >= self._options.batch_size:
                await self._write(stage, batch)
                batch = []
        if batch:
            await self._write(stage, batch)
        if self._progress is not None:
            self._progress(self.report)

    async def _write(self, stage: _Pass[Item], batch: list[Item]) -> None:
        """One unit of work for the batch; a record that conflicts is rejected and the batch written again."""
        pending = list(batch)
        while pending:
            try:
                async with self._db.unit_of_work() as uow:
                    work = _Batch(uow.accounts, self._clock.now())
                    await stage.apply(work, pending)
                    await uow.accounts.add_sessions(work.sessions)
                    await uow.accounts.append_events(work.events)
                    if not self._options.dry_run:
                        await uow.commit()
            except _Conflict as conflict:
                item = pending.pop(conflict.index)
                self._reject(stage.source, item.position, item.unit, conflict.reason, item.phone)
                continue
            await self._count(work)
            break
        if self._progress is not None:
            self._progress(self.report)

    async def _count(self, work: _Batch) -> None:
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

    # -- shared steps -----------------------------------------------------------------------------------------

    def _fingerprint(self, incoming: IncomingSession) -> str:
        return session_id_for(self._cipher, incoming.data)

    async def _lookup(
        self, work: _Batch, phones: list[str], fingerprints: list[list[str]]
    ) -> tuple[dict[str, Account], dict[str, Session]]:
        """The batch's stored accounts and sessions; _Conflict for the first record whose string is stored for
        another account or used by an earlier record of the batch."""
        accounts = {a.phone: a for a in await work.repo.accounts_by_phone(phones)}
        stored = {s.session_id: s for s in await work.repo.sessions_by_id([f for fs in fingerprints for f in fs])}
        owner: dict[str, int] = {}
        for index, (phone, fs) in enumerate(zip(phones, fingerprints, strict=True)):
            account = accounts.get(phone)
            for fingerprint in fs:
                session = stored.get(fingerprint)
                if session is not None and (account is None or session.account_id != account.id):
                    raise _Conflict(index, CONFLICT)
                if owner.setdefault(fingerprint, index) != index:
                    raise _Conflict(index, CONFLICT)
        return accounts, stored

    def _session(
        self, account: Account, incoming: IncomingSession, role: Role, created_at: datetime, since: datetime
    ) -> Session:
        assert account.id is not None
        return Session(self._fingerprint(incoming), account.id, role, Origin.IMPORTED, account.identity, created_at,
                       since, string=incoming.string, source_format=incoming.format)  # fmt: skip

    def _event(self, account: Account, action: Action, at: datetime, **detail: str | int | bool | None) -> Event:
        assert account.id is not None
        return Event(account.id, action, self._options.actor, "ok", at, detail=dict(detail))

    def _plan_checks(
        self, work: _Batch, source: str, position: int, account: Account, strings: list[IncomingSession]
    ) -> None:
        if self._validator is None:
            return
        work.checks.extend(
            SessionCheck(source, position, account.phone, self._fingerprint(s), s.string, account.identity,
                         account.proxy)
            for s in strings
        )  # fmt: skip

    # -- archivedClients --------------------------------------------------------------------------------------

    def _kept(self, client: ArchivedClient) -> tuple[IncomingSession, ...]:
        return client.backups[: self._options.max_backups]

    async def _apply_archived(self, work: _Batch, clients: list[ArchivedClient]) -> None:
        fingerprints = [[self._fingerprint(s) for s in (c.primary, *self._kept(c))] for c in clients]
        accounts, stored = await self._lookup(work, [c.phone for c in clients], fingerprints)
        fresh = {c.phone: self._new_account(c) for c in clients if c.phone not in accounts}
        await work.repo.add_accounts(list(fresh.values()))
        for client, fs in zip(clients, fingerprints, strict=True):
            work.over_limit += len(client.backups) - len(self._kept(client))
            if client.phone in fresh:
                self._create_archived(work, fresh[client.phone], client)
            elif all(f in stored for f in fs):
                work.unchanged += 1
                self._plan_checks(work, ARCHIVED_CLIENTS, client.position, accounts[client.phone], client.strings())
            else:
                await self._merge_archived(work, accounts[client.phone], client)

    def _new_account(self, client: ArchivedClient) -> Account:
        created = client.created_at or self._clock.now()
        return Account(client.phone, self._options.identity, created_at=created,
                       updated_at=client.updated_at or created, last_updated=client.last_updated,
                       last_cleanup=client.last_cleanup)  # fmt: skip

    def _history(self, work: _Batch, account: Account, client: ArchivedClient) -> None:
        fallback = client.created_at or work.now
        work.events += [
            self._event(account, Action.IMPORTED, entry.at or fallback, source="sessionHistory", index=entry.index,
                        description=entry.description, entry_id=entry.entry_id)
            for entry in client.history
        ]  # fmt: skip
        work.events_imported += len(client.history)

    def _create_archived(self, work: _Batch, account: Account, client: ArchivedClient) -> None:
        created = account.created_at
        since = client.last_updated or created
        kept = self._kept(client)
        sessions = [self._session(account, client.primary, Role.PRIMARY, created, since)]
        sessions += [
            self._session(account, secret, Role.BACKUP, created, since - timedelta(microseconds=rank + 1))
            for rank, secret in enumerate(kept)
        ]
        work.sessions += sessions
        work.events.append(self._event(account, Action.ACCOUNT_ADDED, work.now, source=SOURCE, sessions=len(sessions)))
        self._history(work, account, client)
        self._plan_checks(work, ARCHIVED_CLIENTS, client.position, account, [client.primary, *kept])
        work.created += 1

    async def _merge_archived(self, work: _Batch, account: Account, client: ArchivedClient) -> None:
        """Add the record's sessions that the stored account lacks (rare: the account existed before)."""
        assert account.id is not None
        now = work.now
        stored = await work.repo.sessions(account.id, include_retired=True)
        known = {s.session_id for s in stored}
        room = self._options.max_backups - sum(1 for s in stored if s.role is Role.BACKUP)
        added: list[Session] = []
        primary = self._session(account, client.primary, Role.PRIMARY, account.created_at, now)
        new_primary = primary.session_id not in known
        if new_primary:
            if not any(s.role is Role.PRIMARY for s in stored):
                primary.role_since = account.last_updated = client.last_updated or now
                added.append(primary)
            elif room > 0:
                primary.role, room = Role.BACKUP, room - 1  # the newest backup: the stored primary stays
                added.append(primary)
            else:
                work.over_limit += 1
        oldest = min((s.role_since for s in stored if s.role is Role.BACKUP), default=now)
        for secret in self._kept(client):
            backup = self._session(account, secret, Role.BACKUP, account.created_at, oldest)
            if backup.session_id in known:
                continue
            if room <= 0:
                work.over_limit += 1
                continue
            room -= 1
            backup.role_since = oldest - timedelta(microseconds=len(added) + 1)
            added.append(backup)
        if new_primary:
            self._history(work, account, client)
        self._plan_checks(work, ARCHIVED_CLIENTS, client.position, account, client.strings())
        if not added and not new_primary:
            work.unchanged += 1
            return
        account.updated_at = now
        await work.repo.save_account(account)
        work.sessions += added
        work.events.append(self._event(account, Action.UPDATED, now, source=SOURCE, sessions_added=len(added)))
        work.updated += 1

    # -- users ------------------------------------------------------------------------------------------------

    async def _apply_users(self, work: _Batch, users: list[UserRecord]) -> None:
        fingerprints = [[self._fingerprint(u.keeper)] if u.keeper is not None else [] for u in users]
        accounts, stored = await self._lookup(work, [u.phone for u in users], fingerprints)
        fresh: dict[str, Account] = {}
        for index, user in enumerate(users):
            if user.phone in accounts:
                continue
            if self._options.dry_run and int(user.phone) in self._archived_phones:
                work.updated += 1  # a real run's archivedClients pass would have created the account
                continue
            if user.keeper is None:
                raise _Conflict(index, "no session (and no account with this phone)")
            fresh[user.phone] = Account(user.phone, self._options.identity, work.now, work.now, two_fa=user.password)
        await work.repo.add_accounts(list(fresh.values()))
        for user, fs in zip(users, fingerprints, strict=True):
            if user.phone in fresh:
                account = fresh[user.phone]
                assert user.keeper is not None
                work.sessions.append(self._session(account, user.keeper, Role.KEEPER, work.now, work.now))
                work.events.append(self._event(account, Action.ACCOUNT_ADDED, work.now, source=SOURCE, sessions=1))
                self._plan_checks(work, USERS, user.position, account, [user.keeper])
                work.created += 1
            elif user.phone in accounts:
                await self._merge_user(work, accounts[user.phone], user, stored.get(fs[0]) if fs else None)

    async def _merge_user(self, work: _Batch, account: Account, user: UserRecord, mine: Session | None) -> None:
        assert account.id is not None
        now = work.now
        keeper_changed = False
        if user.keeper is not None:
            if mine is None or mine.role is Role.BACKUP:
                keeper_changed = True
                for old in await work.repo.sessions(account.id):
                    if old.role is Role.KEEPER:
                        old.role, old.role_since = Role.BACKUP, now
                        await work.repo.save_session(old)
                if mine is None:
                    work.sessions.append(self._session(account, user.keeper, Role.KEEPER, now, now))
                else:
                    mine.role, mine.role_since = Role.KEEPER, now
                    await work.repo.save_session(mine)
            self._plan_checks(work, USERS, user.position, account, [user.keeper])
        two_fa_changed = user.password is not None and account.two_fa != user.password
        if not keeper_changed and not two_fa_changed:
            work.unchanged += 1
            return
        if two_fa_changed:
            account.two_fa = user.password
        account.updated_at = now
        await work.repo.save_account(account)
        work.events.append(self._event(account, Action.UPDATED, now, source=SOURCE, keeper=keeper_changed,
                                       two_fa=two_fa_changed))  # fmt: skip
        work.updated += 1
