"""Entities and value objects: accounts, sessions, audit events, client identities, proxies."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from tgsessions.domain.secret import Secret
from tgsessions.domain.session_codec import SessionFormat
from tgsessions.domain.verdict import Verdict, VerdictKind


class Role(StrEnum):
    KEEPER = "keeper"  # held only by the service, used to mint and revoke, never handed out
    PRIMARY = "primary"  # what fetch returns
    BACKUP = "backup"  # ordered newest first
    RETIRED = "retired"  # kept for the record, string wiped (only on Telegram's own verdict)
    QUARANTINED = "quarantined"  # a string the service cannot read or judge: kept encrypted, never handed out

    @property
    def usable(self) -> bool:
        """May this session be validated, promoted, minted from or handed out?"""
        return self in (Role.KEEPER, Role.PRIMARY, Role.BACKUP)


class Origin(StrEnum):
    IMPORTED = "imported"
    MAINTAINED = "maintained"
    MANUAL = "manual"
    MINTED = "minted"
    PROMOTED = "promoted"


class AccountState(StrEnum):
    ACTIVE = "active"
    UNRECOVERABLE = "unrecoverable"  # no live session left; nothing deleted
    BANNED = "banned"
    DEACTIVATED = "deactivated"


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """What Telegram sees on every initConnection. Pinned per authorization and reused on every connect."""

    api_id: int | None = None
    device_model: str = "tgsessions"
    system_version: str = "Linux"
    app_version: str = "1.0"
    lang_code: str = "en"
    system_lang_code: str = "en"


@dataclass(frozen=True, slots=True)
class Proxy:
    """One proxy per account, used consistently. The password is a :class:`Secret`."""

    scheme: str  # socks5, socks4, http, mtproxy
    host: str
    port: int
    username: str | None = None
    password: Secret | None = None


@dataclass(slots=True)
class Account:
    phone: str
    identity: ClientIdentity
    created_at: datetime
    updated_at: datetime
    id: int | None = None
    two_fa: Secret | None = None
    proxy: Proxy | None = None
    state: AccountState = AccountState.ACTIVE
    frozen: bool = False
    last_updated: datetime | None = None  # last change of the primary
    last_cleanup: datetime | None = None
    version: int = 1
    user_id: int | None = None  # Telegram's id of the account's user, learnt from validation or a Pyrogram string

    @property
    def is_banned(self) -> bool:
        return self.state in (AccountState.BANNED, AccountState.DEACTIVATED)


@dataclass(slots=True)
class Session:
    """One authorization of an account. ``session_id`` is a keyed fingerprint of the string: safe to show."""

    session_id: str
    account_id: int
    role: Role
    origin: Origin
    identity: ClientIdentity
    created_at: datetime
    role_since: datetime  # when it got its current role; orders backups newest first
    string: Secret | None = None  # None once retired
    id: int | None = None
    verdict: VerdictKind | None = None
    verdict_reason: str | None = None
    verdict_at: datetime | None = None
    consecutive_failures: int = 0
    open_until: datetime | None = None  # circuit breaker
    auth_hash: int | None = None  # Telegram authorization hash when known
    source_format: SessionFormat | None = None  # the layout it arrived in; None: made here, or stored by <= 0.1

    def record(self, verdict: Verdict) -> None:
        self.verdict = verdict.kind
        self.verdict_reason = verdict.reason
        self.verdict_at = verdict.checked_at

    def breaker_open(self, now: datetime) -> bool:
        return self.open_until is not None and self.open_until > now

    def last_known_alive(self) -> bool:
        return self.verdict is VerdictKind.ALIVE

    def age_seconds(self, now: datetime) -> float:
        return (now - self.created_at).total_seconds()

    def retire(self, now: datetime) -> None:
        self.role = Role.RETIRED
        self.role_since = now
        self.string = None

    def quarantine(self, now: datetime) -> None:
        """Set aside, string kept: only an operator (or a repair) brings it back."""
        self.role = Role.QUARANTINED
        self.role_since = now

    def with_role(self, role: Role, now: datetime) -> Session:
        return replace(self, role=role, role_since=now)


class Action(StrEnum):
    ACCOUNT_ADDED = "account_added"
    HANDED_OUT = "handed_out"  # a session string left the service
    VALIDATED = "validated"
    PROMOTED = "promoted"
    LOGIN_ATTEMPT = "login_attempt"  # counts against the login budget
    MINTED = "minted"
    MINT_FAILED = "mint_failed"
    RETIRED = "retired"
    REVOKED = "revoked"
    UPDATED = "updated"
    CLEANUP = "cleanup"
    STATE_CHANGED = "state_changed"
    BREAKER_OPENED = "breaker_opened"
    IMPORTED = "imported"
    MAINTAINED = "maintained"
    QUARANTINED = "quarantined"  # set aside for a reason of ours (unreadable string, another phone's session)
    REPAIRED = "repaired"  # a stored string was re-read and rewritten in the canonical form
    EXPORTED = "exported"  # the account was written to an export file (with or without its strings)
    RECONCILED = "reconciled"  # every login attempt before it is accounted for: no authorization of ours is left


@dataclass(frozen=True, slots=True)
class Event:
    """An append-only audit row. Never holds a session string or any part of one."""

    account_id: int
    action: Action
    actor: str
    outcome: str
    at: datetime
    session_id: str | None = None
    reason: str | None = None
    detail: dict[str, str | int | float | bool | None] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AccountDeletion:
    """What stays when an operator deletes an account: who, when, and which sessions went away (ids only), and
    which of them were terminated at Telegram first."""

    phone: str
    account_id: int
    at: datetime
    actor: str
    session_ids: tuple[str, ...]
    revoked: tuple[str, ...]
