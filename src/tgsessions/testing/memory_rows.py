"""The rows of InMemoryDatabase: what is committed (:class:`StoredRows`) and what one unit of work sees
(:class:`WorkingCopy`: a snapshot of the committed accounts and sessions plus its own writes, checked and applied at
commit). The in-memory stores of memory_stores.py all read and write one WorkingCopy, as the SQL stores share one
transaction.

Entities are copied in and out: mutating a returned object changes nothing until it is saved and committed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

from tgsessions.domain.access import ApiKey
from tgsessions.domain.errors import AccountExists, ConcurrentModification, InvalidInput
from tgsessions.domain.model import Account, AccountDeletion, Event, Role, Session
from tgsessions.domain.ports import Lease
from tgsessions.domain.runs import MaintenanceRun

DUPLICATE_SESSION_MESSAGE = "this session string is already stored"


def copy_account(account: Account) -> Account:
    return replace(account)  # every field is immutable: a shallow replace is a deep copy


def copy_session(session: Session) -> Session:
    copied = replace(session)
    if copied.role is Role.RETIRED:
        copied.string = None
    return copied


def copy_event(event: Event) -> Event:
    return replace(event, detail=dict(event.detail))


@dataclass
class StoredRows:
    """Everything committed. Ids come from counters that never roll back, like database sequences."""

    accounts: dict[int, Account] = field(default_factory=dict)
    sessions: dict[int, Session] = field(default_factory=dict)
    events: dict[int, Event] = field(default_factory=dict)
    leases: dict[str, Lease] = field(default_factory=dict)
    account_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    session_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    event_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    keys: dict[int, ApiKey] = field(default_factory=dict)
    runs: dict[int, MaintenanceRun] = field(default_factory=dict)
    deletions: list[AccountDeletion] = field(default_factory=list)
    key_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    run_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class WorkingCopy:
    """One unit of work's accounts, sessions and events: a snapshot of the store plus its own writes."""

    def __init__(self, store: StoredRows) -> None:
        self.store = store
        self.accounts = dict(store.accounts)
        self.sessions = dict(store.sessions)
        self._base_versions = {account_id: a.version for account_id, a in store.accounts.items()}
        self.new_events: list[Event] = []
        self.dirty_accounts: set[int] = set()
        self.dirty_sessions: set[int] = set()
        self.deletions: list[AccountDeletion] = []

    def insert_account(self, account: Account) -> Account:
        """Insert; sets ``id``. AccountExists for a phone this unit of work sees."""
        if any(a.phone == account.phone for a in self.accounts.values()):
            raise AccountExists(account.phone)
        account.id = next(self.store.account_ids)
        self.accounts[account.id] = copy_account(account)
        self.dirty_accounts.add(account.id)
        return account

    def insert_session(self, session: Session) -> Session:
        """Insert; sets ``id`` (a retired session keeps no string). InvalidInput for a session_id this unit of work
        sees."""
        if any(s.session_id == session.session_id for s in self.sessions.values()):
            raise InvalidInput(DUPLICATE_SESSION_MESSAGE, field="session")
        session.id = next(self.store.session_ids)
        if session.role is Role.RETIRED:
            session.string = None
        self.sessions[session.id] = copy_session(session)
        self.dirty_sessions.add(session.id)
        return session

    def events_of(self, account_id: int) -> list[Event]:
        """The account's committed events and this unit of work's new ones (not copies, in no order)."""
        stored = [e for e in self.store.events.values() if e.account_id == account_id]
        return stored + [e for e in self.new_events if e.account_id == account_id]

    def check(self) -> None:
        """Check this unit of work's writes against the live store (what others committed since it started)."""
        store = self.store
        for account_id in self.dirty_accounts:
            current = store.accounts.get(account_id)
            if current is not None and current.version != self._base_versions.get(account_id):
                raise ConcurrentModification(f"account {current.phone} was changed by someone else; reload and retry")
            phone = self.accounts[account_id].phone
            if any(a.phone == phone and i != account_id for i, a in store.accounts.items()):
                raise AccountExists(phone)
        for session_pk in self.dirty_sessions:
            session_id = self.sessions[session_pk].session_id
            if any(s.session_id == session_id and i != session_pk for i, s in store.sessions.items()):
                raise InvalidInput(DUPLICATE_SESSION_MESSAGE, field="session")

    def write(self) -> None:
        """Apply this unit of work's writes to the store (after ``check`` passed)."""
        store = self.store
        for account_id in self.dirty_accounts:
            store.accounts[account_id] = self.accounts[account_id]
        for session_pk in self.dirty_sessions:
            store.sessions[session_pk] = self.sessions[session_pk]
        for event in self.new_events:
            store.events[event.id or 0] = event
        for deletion in self.deletions:
            store.deletions.append(deletion)
            store.accounts.pop(deletion.account_id, None)
            for table in (store.sessions, store.events):
                for pk in [pk for pk, row in table.items() if row.account_id == deletion.account_id]:
                    del table[pk]
        self.deletions.clear()
        self._base_versions.update({i: store.accounts[i].version for i in self.dirty_accounts})
        self.dirty_accounts.clear()
        self.dirty_sessions.clear()
        self.new_events.clear()
