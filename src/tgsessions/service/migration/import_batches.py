"""One batch of an import, and the steps both passes (archivedClients, users) write it with.

A batch is written in one unit of work: its stored accounts and sessions are read in bulk (by phone and by
fingerprint), and a record whose string is stored for another account, or used by an earlier record of the same
batch, raises ``BatchConflict`` (the importer rejects it and writes the batch again without it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tgsessions.domain.model import Account, Action, Event, Origin, Role, Session
from tgsessions.domain.ports import Cipher, Clock, UnitOfWork
from tgsessions.service.migration.import_options import ImportOptions
from tgsessions.service.migration.import_validation import SessionCheck
from tgsessions.service.session_strings import IncomingSession, session_id_for

SOURCE = "mongo-export"
CONFLICT = "a session of this record is already stored for another account"


@dataclass(slots=True)
class ImportBatch:
    """What one attempt at writing a batch adds up to; merged into the report only once it committed."""

    uow: UnitOfWork
    now: datetime
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    events_imported: int = 0
    over_limit: int = 0
    sessions: list[Session] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    checks: list[SessionCheck] = field(default_factory=list)


class BatchConflict(Exception):
    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


class BatchWriter:
    """The steps shared by both passes; ``validating``: the sessions of each record are planned for a check."""

    def __init__(self, cipher: Cipher, clock: Clock, options: ImportOptions, *, validating: bool) -> None:
        self._cipher = cipher
        self._clock = clock
        self._options = options
        self._validating = validating

    def _fingerprint(self, incoming: IncomingSession) -> str:
        return session_id_for(self._cipher, incoming.data)

    async def _lookup(
        self, work: ImportBatch, phones: list[str], fingerprints: list[list[str]]
    ) -> tuple[dict[str, Account], dict[str, Session]]:
        """The batch's stored accounts and sessions; BatchConflict for the first record whose string is stored for
        another account or used by an earlier record of the batch."""
        accounts = {a.phone: a for a in await work.uow.bulk.accounts_by_phone(phones)}
        stored = {s.session_id: s for s in await work.uow.bulk.sessions_by_id([f for fs in fingerprints for f in fs])}
        owner: dict[str, int] = {}
        for index, (phone, fs) in enumerate(zip(phones, fingerprints, strict=True)):
            account = accounts.get(phone)
            for fingerprint in fs:
                session = stored.get(fingerprint)
                if session is not None and (account is None or session.account_id != account.id):
                    raise BatchConflict(index, CONFLICT)
                if owner.setdefault(fingerprint, index) != index:
                    raise BatchConflict(index, CONFLICT)
        return accounts, stored

    def _session(
        self,
        account: Account,
        incoming: IncomingSession,
        role: Role,
        created_at: datetime,
        since: datetime,
        *,
        session_id: str | None = None,
    ) -> Session:
        """An imported session row; ``session_id``: its fingerprint when already computed (else computed here)."""
        assert account.id is not None
        fingerprint = session_id or self._fingerprint(incoming)
        return Session(fingerprint, account.id, role, Origin.IMPORTED, account.identity, created_at, since,
                       string=incoming.string, source_format=incoming.format)  # fmt: skip

    def _event(self, account: Account, action: Action, at: datetime, **detail: str | int | bool | None) -> Event:
        assert account.id is not None
        return Event(account.id, action, self._options.actor, "ok", at, detail=dict(detail))

    def _plan_checks(
        self, work: ImportBatch, source: str, position: int, account: Account, strings: list[IncomingSession]
    ) -> None:
        if not self._validating:
            return
        work.checks.extend(
            SessionCheck(source, position, account.phone, self._fingerprint(s), s.string, account.identity,
                         account.proxy)
            for s in strings
        )  # fmt: skip
