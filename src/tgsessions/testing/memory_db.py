"""InMemoryDatabase: a fake of the Database, UnitOfWork and LeaseStore ports (and, through memory_stores.py and
memory_keys_runs.py, of every store a unit of work holds) for fast tests.

Same observable semantics as the SQL adapter (both pass tests/storage's contract suites):

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

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

from tgsessions.domain.errors import ConcurrentModification
from tgsessions.domain.ports import (
    AccountStore,
    ApiKeyStore,
    AuditLog,
    BulkImport,
    Clock,
    Database,
    Lease,
    LeaseStore,
    RunStore,
    SessionStore,
    UnitOfWork,
)
from tgsessions.domain.warm_hand_out import WarmAnswer, WarmRequest, hand_out_in
from tgsessions.testing.memory_keys_runs import InMemoryApiKeyStore, InMemoryRunStore
from tgsessions.testing.memory_rows import StoredRows, WorkingCopy
from tgsessions.testing.memory_stores import (
    InMemoryAccountStore,
    InMemoryAuditLog,
    InMemoryBulkImport,
    InMemorySessionStore,
)


class InMemoryUnitOfWork:
    accounts: AccountStore  # an InMemoryAccountStore
    sessions: SessionStore  # an InMemorySessionStore
    audit: AuditLog  # an InMemoryAuditLog
    bulk: BulkImport  # an InMemoryBulkImport
    keys: ApiKeyStore  # an InMemoryApiKeyStore
    runs: RunStore  # an InMemoryRunStore

    def __init__(self, database: InMemoryDatabase, fence: Lease | None, release: bool = False) -> None:
        if release and fence is None:
            raise ValueError("release needs a fence")
        self._database = database
        self._fence = fence
        self._release = release

    def _start(self) -> None:
        """Fresh stores over a new snapshot: whatever was not committed is dropped."""
        store = self._database.store
        self._rows = WorkingCopy(store)
        self._keys = InMemoryApiKeyStore(store.keys, store.key_ids)
        self._runs = InMemoryRunStore(store.runs, store.run_ids)
        self.accounts = InMemoryAccountStore(self._rows)
        self.sessions = InMemorySessionStore(self._rows)
        self.audit = InMemoryAuditLog(self._rows)
        self.bulk = InMemoryBulkImport(self._rows)
        self.keys, self.runs = self._keys, self._runs

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
            self._rows.check()
            self._keys.check()
        except Exception:
            self._start()
            raise
        self._rows.write()
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
        self.store = StoredRows()
        self._leases = InMemoryLeaseStore(self)

    def unit_of_work(self, *, fence: Lease | None = None, release: bool = False) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self, fence, release)

    @property
    def leases(self) -> InMemoryLeaseStore:
        return self._leases

    async def hand_out_warm(self, requests: Sequence[WarmRequest], now: datetime) -> list[WarmAnswer]:
        async with self.unit_of_work() as uow:
            return await hand_out_in(uow, requests, now)

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
) -> tuple[Database, UnitOfWork, LeaseStore, AccountStore, SessionStore, AuditLog, BulkImport, ApiKeyStore, RunStore]:
    """Checked by mypy: the fake implements the ports."""
    store = db.store
    rows = WorkingCopy(store)
    return (
        db,
        db.unit_of_work(),
        db.leases,
        InMemoryAccountStore(rows),
        InMemorySessionStore(rows),
        InMemoryAuditLog(rows),
        InMemoryBulkImport(rows),
        InMemoryApiKeyStore(store.keys, store.key_ids),
        InMemoryRunStore(store.runs, store.run_ids),
    )
