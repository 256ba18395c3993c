"""What the use cases return: plain, immutable values. Only FetchResult carries a session string."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tgsessions.domain.model import Event
from tgsessions.domain.secret import Secret
from tgsessions.domain.session_codec import SessionFormat
from tgsessions.service.session_strings import render_session


@dataclass(frozen=True, slots=True)
class FetchResult:
    phone: str
    session: Secret
    session_id: str
    role: str
    origin: str
    how: str  # "cached", "validated", "promoted", "minted"
    last_updated: datetime | None
    created_at: datetime
    updated_at: datetime
    frozen: bool
    user_id: int | None = None  # the account's Telegram user id (Pyrogram strings need it)
    api_id: int | None = None  # the api_id the session is pinned to

    def rendered(self, fmt: SessionFormat) -> Secret:
        """The session in the caller's layout; FormatUnavailable when it cannot be written so."""
        return render_session(self.session, fmt, user_id=self.user_id, api_id=self.api_id)


@dataclass(frozen=True, slots=True)
class BatchItem:
    phone: str  # as given when it could not be normalised
    result: FetchResult | None = None
    error_code: str | None = None
    error: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session_id: str
    role: str
    origin: str
    created_at: datetime
    role_since: datetime
    age_seconds: float
    verdict: str | None
    verdict_reason: str | None
    verdict_at: datetime | None
    breaker_open_until: datetime | None


@dataclass(frozen=True, slots=True)
class StatusReport:
    phone: str
    state: str
    frozen: bool
    primary_alive: bool | None  # None: Telegram could not tell now
    breaker_open: bool  # the primary's circuit breaker keeps Telegram out right now
    primary: SessionInfo | None
    keeper: SessionInfo | None
    live_backups: int
    total_backups: int
    quarantined: int  # sessions kept but not handed out (unreadable, another phone's) until an operator acts
    reliability_score: float
    reliability_level: str
    login_attempts_left: int
    last_checked: datetime | None
    last_updated: datetime | None
    last_cleanup: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CleanupReport:
    phone: str
    max_backups: int
    retired_dead: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)  # live beyond the limit, but Telegram could not revoke now
    kept: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HistoryPage:
    phone: str
    events: list[Event]
    next_before: int | None  # pass as ``before`` for the next (older) page


@dataclass(slots=True)
class MaintenanceReport:
    started_at: datetime
    finished_at: datetime | None = None
    accounts: int = 0
    healthy: int = 0
    promoted: int = 0
    minted: int = 0
    retired: int = 0
    revoked: int = 0
    unrecoverable: int = 0
    banned: int = 0
    skipped: int = 0
    kept_alive: int = 0  # sessions reconnected because Telegram had not seen them for the keep-alive period
    orphans_reset: int = 0  # authorizations failed or interrupted mints left at Telegram, reset by reconciliation
    quarantined: int = 0  # sessions held in quarantine (kept, not handed out) in the accounts seen: for an operator
    failed: int = 0  # accounts whose maintenance failed (any error; each one is in ``errors``)
    errors: dict[str, str] = field(default_factory=dict)  # phone -> error code and message
    # phone -> authorizations Telegram lists for the account beyond the live sessions the service holds
    # (the owner's phone, another program, a leak): for a human to look at
    unknown_authorizations: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AccountSummary:
    phone: str
    state: str
    frozen: bool
    created_at: datetime
    updated_at: datetime
    last_updated: datetime | None
    last_cleanup: datetime | None
