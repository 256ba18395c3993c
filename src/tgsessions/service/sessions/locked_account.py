"""The state of one account while a use case works on it under the phone lock, and the changes it collects.

Telegram calls happen between a short read and a short, fenced write: no database transaction stays open while
Telegram is asked anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tgsessions.domain.account_pool import AccountPool
from tgsessions.domain.errors import UnknownPhone
from tgsessions.domain.model import Account, Action, Event, Session
from tgsessions.domain.ports import Database, Lease, SessionAccess
from tgsessions.domain.verdict import QUARANTINE_REASONS
from tgsessions.service.session_strings import canonical_text


@dataclass(slots=True)
class LockedAccount:
    account: Account
    pool: AccountPool  # the rules of its sessions: ask it which is primary, which backups, what to promote
    actor: str
    account_dirty: bool = False
    retired_dead: int = 0  # sessions retired because Telegram said they are dead (not revoked by us)
    quarantine_reasons: list[str] = field(default_factory=list)  # why sessions were quarantined in this work
    _dirty: dict[str, Session] = field(default_factory=dict)
    _new: list[Session] = field(default_factory=list)
    _events: list[Event] = field(default_factory=list)

    @classmethod
    async def load(cls, db: Database, phone: str, actor: str) -> LockedAccount:
        async with db.unit_of_work() as uow:
            account = await uow.accounts.get_account(phone)
            if account is None or account.id is None:
                raise UnknownPhone(phone)
            sessions = await uow.sessions.sessions(account.id)
        return cls(account, AccountPool(sessions), actor)

    @property
    def account_id(self) -> int:
        assert self.account.id is not None
        return self.account.id

    @property
    def phone(self) -> str:
        return self.account.phone

    def access(self, session: Session) -> SessionAccess:
        assert session.string is not None, "a retired session cannot connect"
        return SessionAccess(canonical_text(session.string), self.phone, session.identity, self.account.proxy)

    def touch(self, session: Session) -> None:
        if session.id is not None:
            self._dirty[session.session_id] = session

    def touch_account(self) -> None:
        self.account_dirty = True

    def add(self, session: Session) -> None:
        self.pool.admit(session)
        self._new.append(session)

    def retire(self, session: Session, now: datetime, reason: str) -> None:
        """Take a session out of use. Only Telegram's own verdict wipes it; for a reason of ours (a string we cannot
        read, another phone's session) it is quarantined with its string kept."""
        if reason in QUARANTINE_REASONS:
            self.quarantine(session, now, reason)
            return
        self.pool.retire(session, now)
        if reason != "revoked":
            self.retired_dead += 1
        self.touch(session)
        self.event(Action.RETIRED, now, session=session, reason=reason)

    def quarantine(self, session: Session, now: datetime, reason: str) -> None:
        """Keep the session (and its string) but never use it again until an operator acts."""
        self.pool.quarantine(session, now)
        self.quarantine_reasons.append(reason)
        self.touch(session)
        self.event(Action.QUARANTINED, now, session=session, reason=reason)

    def event(
        self,
        action: Action,
        at: datetime,
        *,
        outcome: str = "ok",
        session: Session | None = None,
        reason: str | None = None,
        **detail: str | int | float | bool | None,
    ) -> None:
        self._events.append(
            Event(
                account_id=self.account_id,
                action=action,
                actor=self.actor,
                outcome=outcome,
                at=at,
                session_id=session.session_id if session else None,
                reason=reason,
                detail=dict(detail),
            )
        )

    @property
    def has_changes(self) -> bool:
        return bool(self.account_dirty or self._dirty or self._new or self._events)

    async def flush(self, db: Database, fence: Lease | None, *, now: datetime, release: bool = False) -> None:
        """Write every collected change in one unit of work (fenced by the lease; with ``release`` the same commit
        gives the lease up), then forget them."""
        if not self.has_changes:
            return
        async with db.unit_of_work(fence=fence, release=release) as uow:
            for session in self._new:
                stored = await uow.sessions.add_session(session)
                session.id = stored.id
            for session in self._dirty.values():
                await uow.sessions.save_session(session)
            if self.account_dirty:
                self.account.updated_at = now
                await uow.accounts.save_account(self.account)
            await uow.audit.append_events(self._events)

            await uow.commit()
        self._dirty.clear()
        self._new.clear()
        self._events.clear()
        self.account_dirty = False
