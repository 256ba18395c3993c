"""What validating a session can conclude (see docs/telegram.md, "Verdicts")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class VerdictKind(StrEnum):
    ALIVE = "alive"
    DEAD = "dead"  # this authorization is gone for good
    ACCOUNT_DEAD = "account_dead"  # the whole account is banned or deactivated
    UNKNOWN = "unknown"  # transient: says nothing about the session


class Reason:
    """Reason codes carried by verdicts. Stable strings: they reach events, metrics and the API."""

    OK = "ok"
    FROZEN = "frozen"
    # dead (session)
    AUTH_KEY_UNREGISTERED = "auth_key_unregistered"
    SESSION_REVOKED = "session_revoked"
    SESSION_EXPIRED = "session_expired"
    AUTH_KEY_INVALID = "auth_key_invalid"
    AUTH_KEY_DUPLICATED = "auth_key_duplicated"
    PHONE_MISMATCH = "phone_mismatch"
    MALFORMED = "malformed_session"  # our own parse failed: quarantines, never retires
    # dead (account)
    USER_DEACTIVATED = "user_deactivated"
    USER_BANNED = "user_banned"
    PHONE_BANNED = "phone_banned"
    # unknown (transient)
    FLOOD_WAIT = "flood_wait"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    NETWORK = "network_error"
    BREAKER_OPEN = "breaker_open"


# Dead verdicts that are not Telegram saying the authorization is gone: the string may be fine (a parse bug of
# ours) or the credential of another account. These quarantine a session; they never retire or wipe it.
QUARANTINE_REASONS = frozenset({Reason.MALFORMED, Reason.PHONE_MISMATCH})


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: VerdictKind
    reason: str
    checked_at: datetime
    retry_after: float | None = None  # seconds Telegram asked us to wait (flood wait)
    frozen: bool = False  # authorized but restricted; still a live session
    user_id: int | None = None  # the account's user id, when the check returned the user

    @property
    def is_alive(self) -> bool:
        return self.kind is VerdictKind.ALIVE

    @property
    def is_final(self) -> bool:
        """Alive or dead: a verdict that may be cached and may change roles (dead ones)."""
        return self.kind is not VerdictKind.UNKNOWN

    @classmethod
    def alive(cls, at: datetime, *, frozen: bool = False, user_id: int | None = None) -> Verdict:
        return cls(VerdictKind.ALIVE, Reason.FROZEN if frozen else Reason.OK, at, frozen=frozen, user_id=user_id)

    @classmethod
    def dead(cls, reason: str, at: datetime) -> Verdict:
        return cls(VerdictKind.DEAD, reason, at)

    @classmethod
    def account_dead(cls, reason: str, at: datetime) -> Verdict:
        return cls(VerdictKind.ACCOUNT_DEAD, reason, at)

    @classmethod
    def unknown(cls, reason: str, at: datetime, retry_after: float | None = None) -> Verdict:
        return cls(VerdictKind.UNKNOWN, reason, at, retry_after=retry_after)
