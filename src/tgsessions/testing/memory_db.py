"""InMemoryDatabase: a fake of the Database, UnitOfWork, AccountRepository, ApiKeyRepository, RunRepository and
LeaseStore ports for fast tests.

Same observable semantics as the SQL adapter (both pass tests/storage's contract suite):

* a unit of work reads a snapshot taken when it starts and applies its writes to the store only on ``commit()``;
  leaving the block without committing discards them;
* entities are copied in and out: mutating a returned object changes nothing until it is saved and committed;
* ``save_account`` is optimistic (stored version must equal ``account.version``, then it is bumped), checked again
  at commit against whatever committed in between; unique phone (AccountExists) and session_id (InvalidInput);
* API keys: unique name, key_id and key_hash (InvalidInput), also checked at commit; a run's report goes through
  JSON on the way in, as the SQL adapter stores it;
* a fenced commit checks the lease (holder, token, not expired by the injected clock) first;
* leases behave like SqlLeaseStore (tokens increase when a name is retaken, are kept on renewal).

No cipher: secrets are kept as :class:`Secret` objects (immutable, so sharing them is safe). Ids come from counters
that never roll back, like database sequences.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

from tgsessions.domain.access import ApiKey
from tgsessions.domain.errors import AccountExists, ConcurrentModification, InvalidInput
from tgsessions.domain.model import Account, AccountDeletion, Action, Event, Role, Session
from tgsessions.domain.ports import (
    AccountRepository,
    ApiKeyRepository,
    Clock,
    Database,
    Lease,
    LeaseStore,
    RunRepository,
    UnitOfWork,
)
from tgsessions.domain.runs import MaintenanceRun
from tgsessions.domain.verdict import VerdictKind
from tgsessions.testing.memory_keys_runs import InMemoryApiKeyRepository, InMemoryRunRepository

_VERDICTS = {kind.value: kind for kind in VerdictKind}


def _account(account: Account) -> Account:
    return replace(account)  # every field is immutable: a shallow replace is a deep copy


def _session(session: Session) -> Session:
    copied = replace(session)
    if copied.role is Role.RETIRED:
        copied.string = None
    return copied


def _event(event: Event) -> Event:
    return replace(event, detail=dict(event.detail))


@dataclass
class _Store:
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


class InMemoryAccountRepository:
    """Reads a snapshot of the store plus this unit of work's own writes; ordering as in SqlAccountRepository."""

    def __init__(self, store: _Store) -> None:
        self._store = store
        self._accounts = dict(store.accounts)
        self._sessions = dict(store.sessions)
        self._base_versions = {account_id: a.version for account_id, a in store.accounts.items()}
        self._new_events: list[Event] = []
        self._dirty_accounts: set[int] = set()
        self._dirty_sessions: set[int] = set()
        self._deletions: list[AccountDeletion] = []

    async def get_account(self, phone: str) -> Account | None:
        found = next((a for a in self._accounts.values() if a.phone == phone), None)
        return _account(found) if found is not None else None

    async def account_and_primary(self, phone: str) -> tuple[Account, Session | None] | None:
        account = await self.get_account(phone)
        if account is None or account.id is None:
            return None
        primary = [s for s in await self.sessions(account.id) if s.role is Role.PRIMARY]
        return account, (primary[0] if primary else None)

    async def add_account(self, account: Account) -> Account:
        if any(a.phone == account.phone for a in self._accounts.values()):
            raise AccountExists(account.phone)
        account.id = next(self._store.account_ids)
        self._accounts[account.id] = _account(account)
        self._dirty_accounts.add(account.id)
        return account

    async def save_account(self, account: Account) -> None:
        stored = self._accounts.get(account.id) if account.id is not None else None
        if account.id is None:
            raise ValueError("save_account needs a stored account (id is None)")
        if stored is None or stored.version != account.version:
            raise ConcurrentModification(
                f"account {account.phone} was changed by someone else; reload and retry", phone=account.phone
            )
        account.version += 1
        self._accounts[account.id] = _account(account)
        self._dirty_accounts.add(account.id)

    async def accounts_page(self, *, after_id: int | None, limit: int) -> list[Account]:
        ids = sorted(i for i in self._accounts if after_id is None or i > after_id)[:limit]
        return [_account(self._accounts[i]) for i in ids]

    async def count_accounts(self) -> int:
        return len(self._accounts)

    async def sessions(self, account_id: int, *, include_retired: bool = False) -> list[Session]:
        found = [
            s
            for s in self._sessions.values()
            if s.account_id == account_id and (include_retired or s.role is not Role.RETIRED)
        ]
        found.sort(key=lambda s: (s.role_since, s.id or 0), reverse=True)
        return [_session(s) for s in found]

    async def find_session(self, session_id: str) -> Session | None:
        found = next((s for s in self._sessions.values() if s.session_id == session_id), None)
        return _session(found) if found is not None else None

    async def add_session(self, session: Session) -> Session:
        if any(s.session_id == session.session_id for s in self._sessions.values()):
            raise InvalidInput("this session string is already stored", field="session")
        session.id = next(self._store.session_ids)
        if session.role is Role.RETIRED:
            session.string = None
        self._sessions[session.id] = _session(session)
        self._dirty_sessions.add(session.id)
        return session

    async def save_session(self, session: Session) -> None:
        if session.id is None:
            raise ValueError("save_session needs a stored session (id is None)")
        if session.id not in self._sessions:
            raise ConcurrentModification(f"session {session.session_id} is no longer stored")
        if session.role is Role.RETIRED:
            session.string = None
        self._sessions[session.id] = _session(session)
        self._dirty_sessions.add(session.id)

    async def append_event(self, event: Event) -> None:
        self._new_events.append(replace(_event(event), id=next(self._store.event_ids)))

    async def append_events(self, batch: Sequence[Event]) -> None:
        for event in batch:
            await self.append_event(event)

    async def open_login_attempts(self, account_id: int) -> list[datetime]:
        found = sorted(self._all_events(account_id), key=lambda e: e.id or 0)
        last = max((e.id or 0 for e in found if e.action is Action.RECONCILED), default=0)
        return [e.at for e in found if e.action is Action.LOGIN_ATTEMPT and (e.id or 0) > last]

    async def phones_with_open_login_attempts(self) -> list[str]:
        phones = [a.phone for i, a in self._accounts.items() if await self.open_login_attempts(i)]
        return sorted(phones)

    async def delete_account(self, deletion: AccountDeletion) -> None:
        self._deletions.append(deletion)
        self._accounts.pop(deletion.account_id, None)
        self._dirty_accounts.discard(deletion.account_id)
        for pk in [pk for pk, s in self._sessions.items() if s.account_id == deletion.account_id]:
            del self._sessions[pk]
            self._dirty_sessions.discard(pk)
        self._new_events = [e for e in self._new_events if e.account_id != deletion.account_id]

    async def accounts_by_phone(self, phones: Sequence[str]) -> list[Account]:
        wanted = set(phones)
        return [_account(a) for a in self._accounts.values() if a.phone in wanted]

    async def sessions_by_id(self, session_ids: Sequence[str]) -> list[Session]:
        wanted = set(session_ids)
        return [_session(s) for s in self._sessions.values() if s.session_id in wanted]

    async def add_accounts(self, batch: Sequence[Account]) -> None:
        stored = {a.phone for a in self._accounts.values()}
        phones = [a.phone for a in batch]
        if len(set(phones)) != len(phones) or stored.intersection(phones):
            raise AccountExists("(one of a batch)")
        for account in batch:
            await self.add_account(account)

    async def add_sessions(self, batch: Sequence[Session]) -> None:
        stored = {s.session_id for s in self._sessions.values()}
        ids = [s.session_id for s in batch]
        if len(set(ids)) != len(ids) or stored.intersection(ids):
            raise InvalidInput("this session string is already stored", field="session")
        for session in batch:
            await self.add_session(session)

    def _all_events(self, account_id: int) -> list[Event]:
        stored = [e for e in self._store.events.values() if e.account_id == account_id]
        return stored + [e for e in self._new_events if e.account_id == account_id]

    async def events(self, account_id: int, *, limit: int, before_id: int | None = None) -> list[Event]:
        found = [e for e in self._all_events(account_id) if before_id is None or (e.id or 0) < before_id]
        found.sort(key=lambda e: e.id or 0, reverse=True)
        return [_event(e) for e in found[:limit]]

    async def event_times(self, account_id: int, action: Action, since: datetime) -> list[datetime]:
        found = [e for e in self._all_events(account_id) if e.action is action and e.at >= since]
        found.sort(key=lambda e: (e.at, e.id or 0))
        return [e.at for e in found]

    async def recent_verdicts(self, account_id: int, limit: int) -> list[VerdictKind]:
        found = [e for e in self._all_events(account_id) if e.action is Action.VALIDATED and e.outcome in _VERDICTS]
        found.sort(key=lambda e: e.id or 0, reverse=True)
        return [_VERDICTS[e.outcome] for e in found[:limit]]

    def check(self) -> None:
        """Check this unit of work's writes against the live store (what others committed since it started)."""
        store = self._store
        for account_id in self._dirty_accounts:
            current = store.accounts.get(account_id)
            if current is not None and current.version != self._base_versions.get(account_id):
                raise ConcurrentModification(f"account {current.phone} was changed by someone else; reload and retry")
            phone = self._accounts[account_id].phone
            if any(a.phone == phone and i != account_id for i, a in store.accounts.items()):
                raise AccountExists(phone)
        for session_pk in self._dirty_sessions:
            session_id = self._sessions[session_pk].session_id
            if any(s.session_id == session_id and i != session_pk for i, s in store.sessions.items()):
                raise InvalidInput("this session string is already stored", field="session")

    def write(self) -> None:
        """Apply this unit of work's writes to the store (after ``check`` passed)."""
        store = self._store
        for account_id in self._dirty_accounts:
            store.accounts[account_id] = self._accounts[account_id]
        for session_pk in self._dirty_sessions:
            store.sessions[session_pk] = self._sessions[session_pk]
        for event in self._new_events:
            store.events[event.id or 0] = event
        for deletion in self._deletions:
            store.deletions.append(deletion)
            store.accounts.pop(deletion.account_id, None)
            for table in (store.sessions, store.events):
                for pk in [pk for pk, row in table.items() if row.account_id == deletion.account_id]:
                    del table[pk]
        self._deletions.clear()
        self._base_versions.update({i: store.accounts[i].version for i in self._dirty_accounts})
        self._dirty_accounts.clear()
        self._dirty_sessions.clear()
        self._new_events.clear()


class InMemoryUnitOfWork:
    accounts: AccountRepository  # an InMemoryAccountRepository
    keys: ApiKeyRepository  # an InMemoryApiKeyRepository
    runs: RunRepository  # an InMemoryRunRepository

    def __init__(self, database: InMemoryDatabase, fence: Lease | None, release: bool = False) -> None:
        if release and fence is None:
            raise ValueError("release needs a fence")
        self._database = database
        self._fence = fence
        self._release = release

    def _start(self) -> None:
        """Fresh repositories over a new snapshot: whatever was not committed is dropped."""
        store = self._database.store
        self._accounts = InMemoryAccountRepository(store)
        self._keys = InMemoryApiKeyRepository(store.keys, store.key_ids)
        self._runs = InMemoryRunRepository(store.runs, store.run_ids)
        self.accounts, self.keys, self.runs = self._accounts, self._keys, self._runs

    async def __aenter__(self) -> Self:
        self._start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._start()  # drop uncommitted writes

    async def commit(self) -> None:
        if self._fence is not None and not self._database.holds(self._fence):
            self._start()
            raise ConcurrentModification(f"lease on {self._fence.name} was lost")
        try:
            self._accounts.check()
            self._keys.check()
        except Exception:
            self._start()
            raise
        self._accounts.write()
        self._keys.write()
        self._runs.write()
        if self._release and self._fence is not None:
            self._database.store.leases[self._fence.name] = replace(self._fence, expires_at=self._database.clock.now())


class InMemoryLeaseStore:
    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    async def try_acquire(self, name: str, holder: str, ttl: timedelta) -> Lease | None:
        now = self._database.clock.now()
        leases = self._database.store.leases
        current = leases.get(name)
        if current is None:
            token = 1
        elif current.holder == holder and current.expires_at > now:
            token = current.token  # renewal keeps the token
        elif current.expires_at <= now or current.holder == holder:
            token = current.token + 1
        else:
            return None
        lease = Lease(name=name, holder=holder, token=token, expires_at=now + ttl)
        leases[name] = lease
        return lease

    async def forget(self, lease: Lease) -> None:
        current = self._database.store.leases.get(lease.name)
        if current is not None and (current.holder, current.token) == (lease.holder, lease.token):
            del self._database.store.leases[lease.name]

    async def release(self, lease: Lease) -> None:
        if self._database.holds(lease):
            self._database.store.leases[lease.name] = replace(lease, expires_at=self._database.clock.now())


class InMemoryDatabase:
    """A whole database in a dict, for unit tests of the service layer. ``backend`` is ``"memory"``."""

    backend = "memory"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.store = _Store()
        self._leases = InMemoryLeaseStore(self)

    def unit_of_work(self, *, fence: Lease | None = None, release: bool = False) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self, fence, release)

    @property
    def leases(self) -> InMemoryLeaseStore:
        return self._leases

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def holds(self, lease: Lease) -> bool:
        """Whether ``lease`` is still the current, unexpired claim on its name."""
        current = self.store.leases.get(lease.name)
        return (
            current is not None
            and current.holder == lease.holder
            and current.token == lease.token
            and current.expires_at > self.clock.now()
        )


def _conforms(
    db: InMemoryDatabase,
) -> tuple[Database, UnitOfWork, LeaseStore, AccountRepository, ApiKeyRepository, RunRepository]:
    """Checked by mypy: the fake implements the ports."""
    store = db.store
    return (
        db,
        db.unit_of_work(),
        db.leases,
        InMemoryAccountRepository(store),
        InMemoryApiKeyRepository(store.keys, store.key_ids),
        InMemoryRunRepository(store.runs, store.run_ids),
    )
