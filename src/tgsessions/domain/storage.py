"""Storage ports: one narrow store per concept, all reached through one :class:`UnitOfWork` (one transaction).

``uow.accounts`` (AccountStore), ``uow.sessions`` (SessionStore), ``uow.audit`` (AuditLog), ``uow.bulk``
(BulkImport, the batch forms for imports), ``uow.keys`` (ApiKeyStore), ``uow.runs`` (RunStore); the leases
(LeaseStore) live outside units of work, on the :class:`Database`. Re-exported by :mod:`tgsessions.domain.ports`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from tgsessions.domain.access import ApiKey
from tgsessions.domain.model import Account, AccountDeletion, Action, Event, Session
from tgsessions.domain.runs import MaintenanceRun
from tgsessions.domain.verdict import VerdictKind
from tgsessions.domain.warm_hand_out import WarmAnswer, WarmRequest


@dataclass(frozen=True, slots=True)
class Lease:
    """A time-limited claim on a name, with a token that increases every time the name changes hands."""

    name: str
    holder: str
    token: int
    expires_at: datetime


class LeaseStore(Protocol):
    async def try_acquire(self, name: str, holder: str, ttl: timedelta) -> Lease | None:
        """Claim ``name`` if it is free or expired (or already ours); None while someone else holds it."""
        ...

    async def release(self, lease: Lease) -> None:
        """Give the lease up if it is still ours; a lost lease is ignored."""
        ...

    async def forget(self, lease: Lease) -> None:
        """Delete the lease's row if it is still ours (for names that turned out to guard nothing, such as an
        unknown phone), so such rows do not pile up. A later claim starts again at token 1."""
        ...


class AccountStore(Protocol):
    """Accounts, one at a time or a page at a time."""

    async def get_account(self, phone: str) -> Account | None: ...

    async def account_and_primary(self, phone: str) -> tuple[Account, Session | None] | None:
        """The account and its primary session in one read (the hot path of fetch); None for an unknown phone."""
        ...

    async def add_account(self, account: Account) -> Account:
        """Insert; sets ``id``. Raises AccountExists for a stored phone."""
        ...

    async def save_account(self, account: Account) -> None:
        """Update where the stored version equals ``account.version``, then bump it; else ConcurrentModification."""
        ...

    async def accounts_page(self, *, after_id: int | None, limit: int) -> list[Account]:
        """Accounts ordered by id, after ``after_id``: for streaming over all of them."""
        ...

    async def count_accounts(self) -> int: ...

    async def delete_account(self, deletion: AccountDeletion) -> None:
        """Delete the account, its sessions and its events, and keep ``deletion`` as the record that it was."""
        ...


class SessionStore(Protocol):
    """The session strings of accounts (encrypted at rest by the adapter)."""

    async def sessions(self, account_id: int, *, include_retired: bool = False) -> list[Session]: ...

    async def find_session(self, session_id: str) -> Session | None:
        """Any stored session (of any account) with that fingerprint, retired ones included."""
        ...

    async def add_session(self, session: Session) -> Session:
        """Insert; sets ``id``. Raises InvalidInput when the same string is already stored."""
        ...

    async def save_session(self, session: Session) -> None: ...


class AuditLog(Protocol):
    """The append-only history of what happened to each account, and the questions asked of it."""

    async def append_event(self, event: Event) -> None: ...

    async def append_events(self, events: Sequence[Event]) -> None:
        """Several events in one statement, in order."""
        ...

    async def events(self, account_id: int, *, limit: int, before_id: int | None = None) -> list[Event]:
        """Newest first; ``before_id`` pages backwards."""
        ...

    async def event_times(self, account_id: int, action: Action, since: datetime) -> list[datetime]: ...

    async def recent_verdicts(self, account_id: int, limit: int) -> list[VerdictKind]:
        """Outcomes of the latest ``validated`` events, newest first."""
        ...

    async def open_login_attempts(self, account_id: int) -> list[datetime]:
        """When the account's login attempts since its last ``reconciled`` event were made, oldest first: each may
        have left an authorization at Telegram that the service does not hold (a mint intent still open)."""
        ...

    async def phones_with_open_login_attempts(self) -> list[str]:
        """The phones of every account with an open login attempt (see :meth:`open_login_attempts`)."""
        ...


class BulkImport(Protocol):
    """Bulk forms, for imports: a batch of records in a few statements instead of a few per record."""

    async def accounts_by_phone(self, phones: Sequence[str]) -> list[Account]:
        """The stored accounts among ``phones`` (in no particular order)."""
        ...

    async def sessions_by_id(self, session_ids: Sequence[str]) -> list[Session]:
        """The stored sessions (of any account, retired ones included) among these fingerprints, in no order."""
        ...

    async def add_accounts(self, accounts: Sequence[Account]) -> None:
        """Insert all (sets each ``id``), or none: AccountExists when a phone is stored (or repeated)."""
        ...

    async def add_sessions(self, sessions: Sequence[Session]) -> None:
        """Insert all (sets each ``id``), or none: InvalidInput when a string is stored (or repeated)."""
        ...


class ApiKeyStore(Protocol):
    async def add_key(self, key: ApiKey) -> ApiKey:
        """Insert; sets ``id``. Raises InvalidInput for a key_id or name that is already used."""
        ...

    async def key_by_id(self, key_id: str) -> ApiKey | None: ...

    async def keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        ...

    async def save_key(self, key: ApiKey) -> None: ...


class RunStore(Protocol):
    async def add_run(self, run: MaintenanceRun) -> MaintenanceRun:
        """Insert; sets ``id``."""
        ...

    async def save_run(self, run: MaintenanceRun) -> None: ...

    async def run_by_id(self, run_id: int) -> MaintenanceRun | None: ...

    async def latest_run(self) -> MaintenanceRun | None: ...


class UnitOfWork(Protocol):
    """One transaction over every store: what is written through any of them commits (or rolls back) together."""

    accounts: AccountStore
    sessions: SessionStore
    audit: AuditLog
    bulk: BulkImport
    keys: ApiKeyStore
    runs: RunStore

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    async def commit(self) -> None:
        """Commit; with a fence, first check that the lease is still held (else ConcurrentModification).
        With ``release``, the same commit also gives the lease up."""
        ...


class Database(Protocol):
    backend: str

    def unit_of_work(self, *, fence: Lease | None = None, release: bool = False) -> UnitOfWork: ...

    @property
    def leases(self) -> LeaseStore: ...

    async def hand_out_warm(self, requests: Sequence[WarmRequest], now: datetime) -> list[WarmAnswer]:
        """The warm fetch's read-and-audit in one transaction (see domain/warm_hand_out.py's WarmHandOut)."""
        ...
