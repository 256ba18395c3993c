"""AccountPool: the rules of one account's sessions, in one place.

* At most one primary and one keeper; backups ordered newest first (the one that entered the pool last is promoted
  first: :func:`~tgsessions.domain.policies.newest_first`).
* A session is held once: the pool is keyed by ``session_id`` (a keyed fingerprint of the auth key), so one
  authorization arriving in two layouts is one session.
* Promotion makes a backup the primary; a session replaced in its role steps aside as the newest backup.
* The limit: backups beyond ``max_backups`` are the oldest ones, to be revoked.
* Quarantined sessions stay in the pool with their string but are never used; retired ones leave it.
* Mint sources: the keeper first, then the sessions older than 24 h, oldest first, never the one handed out
  (:func:`~tgsessions.domain.policies.mint_source_order`).

The pool decides; it never talks to Telegram or storage. Use cases ask it and record what changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tgsessions.domain.model import Role, Session
from tgsessions.domain.policies import mint_source_order, newest_first


class AccountPool:
    def __init__(self, sessions: Iterable[Session] = ()) -> None:
        self._sessions: list[Session] = []
        for session in sessions:
            if session.role is not Role.RETIRED:
                self.admit(session)

    def __repr__(self) -> str:
        return f"AccountPool({len(self._sessions)} sessions)"

    @property
    def sessions(self) -> list[Session]:
        """Every session in the pool (quarantined ones included), in the order they entered."""
        return list(self._sessions)

    def of_role(self, role: Role) -> list[Session]:
        return [s for s in self._sessions if s.role is role]

    @property
    def primary(self) -> Session | None:
        return next(iter(self.of_role(Role.PRIMARY)), None)

    @property
    def keeper(self) -> Session | None:
        return next(iter(self.of_role(Role.KEEPER)), None)

    @property
    def backups(self) -> list[Session]:
        """Newest first: the order of promotion."""
        return newest_first(self.of_role(Role.BACKUP))

    @property
    def quarantined(self) -> list[Session]:
        return self.of_role(Role.QUARANTINED)

    @property
    def usable(self) -> list[Session]:
        """The sessions that may connect: in a usable role, string held."""
        return [s for s in self._sessions if s.role.usable and s.string is not None]

    def find(self, session_id: str) -> Session | None:
        return next((s for s in self._sessions if s.session_id == session_id), None)

    def holds(self, session_id: str) -> bool:
        return self.find(session_id) is not None

    def admit(self, session: Session) -> None:
        """Take ``session`` into the pool; ValueError when the pool already holds it (the same auth key)."""
        if self.holds(session.session_id):
            raise ValueError("the pool already holds this session")
        self._sessions.append(session)

    def assign(self, session: Session, role: Role, now: datetime) -> None:
        """Give a held session its new role from ``now`` on."""
        if session not in self._sessions:
            raise ValueError("the session is not in this pool")
        session.role, session.role_since = role, now

    def promote(self, backup: Session, now: datetime) -> None:
        """A backup becomes the primary."""
        if backup.role is not Role.BACKUP:
            raise ValueError(f"only a backup is promoted, not a {backup.role.value}")
        self.assign(backup, Role.PRIMARY, now)

    def step_aside(self, session: Session, now: datetime) -> None:
        """A session replaced in its role (an old primary or keeper) becomes the newest backup."""
        self.assign(session, Role.BACKUP, now)

    def retire(self, session: Session, now: datetime) -> None:
        """Out of use for good: the string is dropped and the session leaves the pool (its record stays)."""
        session.retire(now)
        self._sessions.remove(session)

    def quarantine(self, session: Session, now: datetime) -> None:
        """Set aside with its string kept; never used until an operator acts."""
        session.quarantine(now)

    def beyond_limit(self, max_backups: int) -> list[Session]:
        """The oldest backups past ``max_backups``: the ones the limit revokes."""
        if max_backups < 0:
            raise ValueError("max_backups must be >= 0")
        return self.backups[max_backups:]

    def mint_sources(self, now: datetime, *, handed_out: str | None = None) -> list[Session]:
        """The order in which sessions are tried as the source of a mint (see the module docstring)."""
        return mint_source_order(self.usable, now, handed_out=handed_out)
