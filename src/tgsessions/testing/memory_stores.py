"""In-memory fakes of AccountStore, SessionStore, AuditLog and BulkImport, used by InMemoryDatabase's units of
work (memory_db.py). All four of one unit of work share its :class:`WorkingCopy`; ordering as in the SQL stores.

Same observable semantics as the SQL adapter (both pass tests/storage's contract suites): ``save_account`` is
optimistic (stored version must equal ``account.version``, then it is bumped; checked again at commit against
whatever committed in between); phones (AccountExists) and session_ids (InvalidInput) are unique. No cipher: secrets
are kept as :class:`Secret` objects (immutable, so sharing them is safe).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from tgsessions.domain.errors import AccountExists, ConcurrentModification, InvalidInput
from tgsessions.domain.model import Account, AccountDeletion, Action, Event, Role, Session
from tgsessions.domain.verdict import VerdictKind
from tgsessions.testing.memory_rows import (
    DUPLICATE_SESSION_MESSAGE,
    WorkingCopy,
    copy_account,
    copy_event,
    copy_session,
)

_VERDICTS = {kind.value: kind for kind in VerdictKind}


def _live_sessions(rows: WorkingCopy, account_id: int, *, include_retired: bool) -> list[Session]:
    found = [
        s
        for s in rows.sessions.values()
        if s.account_id == account_id and (include_retired or s.role is not Role.RETIRED)
    ]
    found.sort(key=lambda s: (s.role_since, s.id or 0), reverse=True)
    return [copy_session(s) for s in found]


def _open_login_attempts(rows: WorkingCopy, account_id: int) -> list[datetime]:
    found = sorted(rows.events_of(account_id), key=lambda e: e.id or 0)
    last = max((e.id or 0 for e in found if e.action is Action.RECONCILED), default=0)
    return [e.at for e in found if e.action is Action.LOGIN_ATTEMPT and (e.id or 0) > last]


class InMemoryAccountStore:
    def __init__(self, rows: WorkingCopy) -> None:
        self._rows = rows

    async def get_account(self, phone: str) -> Account | None:
        found = next((a for a in self._rows.accounts.values() if a.phone == phone), None)
        return copy_account(found) if found is not None else None

    async def account_and_primary(self, phone: str) -> tuple[Account, Session | None] | None:
        account = await self.get_account(phone)
        if account is None or account.id is None:
            return None
        primary = [s for s in _live_sessions(self._rows, account.id, include_retired=False) if s.role is Role.PRIMARY]
        return account, (primary[0] if primary else None)

    async def add_account(self, account: Account) -> Account:
        return self._rows.insert_account(account)

    async def save_account(self, account: Account) -> None:
        stored = self._rows.accounts.get(account.id) if account.id is not None else None
        if account.id is None:
            raise ValueError("save_account needs a stored account (id is None)")
        if stored is None or stored.version != account.version:
            raise ConcurrentModification(
                f"account {account.phone} was changed by someone else; reload and retry", phone=account.phone
            )
        account.version += 1
        self._rows.accounts[account.id] = copy_account(account)
        self._rows.dirty_accounts.add(account.id)

    async def accounts_page(self, *, after_id: int | None, limit: int) -> list[Account]:
        ids = sorted(i for i in self._rows.accounts if after_id is None or i > after_id)[:limit]
        return [copy_account(self._rows.accounts[i]) for i in ids]

    async def count_accounts(self) -> int:
        return len(self._rows.accounts)

    async def delete_account(self, deletion: AccountDeletion) -> None:
        rows = self._rows
        rows.deletions.append(deletion)
        rows.accounts.pop(deletion.account_id, None)
        rows.dirty_accounts.discard(deletion.account_id)
        for pk in [pk for pk, s in rows.sessions.items() if s.account_id == deletion.account_id]:
            del rows.sessions[pk]
            rows.dirty_sessions.discard(pk)
        rows.new_events = [e for e in rows.new_events if e.account_id != deletion.account_id]


class InMemorySessionStore:
    def __init__(self, rows: WorkingCopy) -> None:
        self._rows = rows

    async def sessions(self, account_id: int, *, include_retired: bool = False) -> list[Session]:
        return _live_sessions(self._rows, account_id, include_retired=include_retired)

    async def find_session(self, session_id: str) -> Session | None:
        found = next((s for s in self._rows.sessions.values() if s.session_id == session_id), None)
        return copy_session(found) if found is not None else None

    async def add_session(self, session: Session) -> Session:
        return self._rows.insert_session(session)

    async def save_session(self, session: Session) -> None:
        if session.id is None:
            raise ValueError("save_session needs a stored session (id is None)")
        if session.id not in self._rows.sessions:
            raise ConcurrentModification(f"session {session.session_id} is no longer stored")
        if session.role is Role.RETIRED:
            session.string = None
        self._rows.sessions[session.id] = copy_session(session)
        self._rows.dirty_sessions.add(session.id)


class InMemoryAuditLog:
    def __init__(self, rows: WorkingCopy) -> None:
        self._rows = rows

    async def append_event(self, event: Event) -> None:
        self._rows.new_events.append(replace(copy_event(event), id=next(self._rows.store.event_ids)))

    async def append_events(self, batch: Sequence[Event]) -> None:
        for event in batch:
            await self.append_event(event)

    async def events(self, account_id: int, *, limit: int, before_id: int | None = None) -> list[Event]:
        found = [e for e in self._rows.events_of(account_id) if before_id is None or (e.id or 0) < before_id]
        found.sort(key=lambda e: e.id or 0, reverse=True)
        return [copy_event(e) for e in found[:limit]]

    async def event_times(self, account_id: int, action: Action, since: datetime) -> list[datetime]:
        found = [e for e in self._rows.events_of(account_id) if e.action is action and e.at >= since]
        found.sort(key=lambda e: (e.at, e.id or 0))
        return [e.at for e in found]

    async def recent_verdicts(self, account_id: int, limit: int) -> list[VerdictKind]:
        found = [e for e in self._rows.events_of(account_id) if e.action is Action.VALIDATED and e.outcome in _VERDICTS]
        found.sort(key=lambda e: e.id or 0, reverse=True)
        return [_VERDICTS[e.outcome] for e in found[:limit]]

    async def open_login_attempts(self, account_id: int) -> list[datetime]:
        return _open_login_attempts(self._rows, account_id)

    async def phones_with_open_login_attempts(self) -> list[str]:
        return sorted(a.phone for i, a in self._rows.accounts.items() if _open_login_attempts(self._rows, i))


class InMemoryBulkImport:
    def __init__(self, rows: WorkingCopy) -> None:
        self._rows = rows

    async def accounts_by_phone(self, phones: Sequence[str]) -> list[Account]:
        wanted = set(phones)
        return [copy_account(a) for a in self._rows.accounts.values() if a.phone in wanted]

    async def sessions_by_id(self, session_ids: Sequence[str]) -> list[Session]:
        wanted = set(session_ids)
        return [copy_session(s) for s in self._rows.sessions.values() if s.session_id in wanted]

    async def add_accounts(self, batch: Sequence[Account]) -> None:
        stored = {a.phone for a in self._rows.accounts.values()}
        phones = [a.phone for a in batch]
        if len(set(phones)) != len(phones) or stored.intersection(phones):
            raise AccountExists("(one of a batch)")
        for account in batch:
            self._rows.insert_account(account)

    async def add_sessions(self, batch: Sequence[Session]) -> None:
        stored = {s.session_id for s in self._rows.sessions.values()}
        ids = [s.session_id for s in batch]
        if len(set(ids)) != len(ids) or stored.intersection(ids):
            raise InvalidInput(DUPLICATE_SESSION_MESSAGE, field="session")
        for session in batch:
            self._rows.insert_session(session)
