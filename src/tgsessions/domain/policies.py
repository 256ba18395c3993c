"""Pure policies: which backup to promote, what cleanup does, where to mint from, how healthy an account is.

Every function here is deterministic given its arguments (randomness and time are passed in).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tgsessions.domain.model import Role, Session
from tgsessions.domain.verdict import Verdict, VerdictKind

FRESHNESS = timedelta(hours=24)


def newest_first(backups: Iterable[Session]) -> list[Session]:
    """Backups in promotion order: the one that entered the pool last comes first."""
    return sorted(backups, key=lambda s: (s.role_since, s.created_at, s.id or 0), reverse=True)


def is_mature(session: Session, now: datetime) -> bool:
    """Older than 24 h: may reset other authorizations and is preferred as a mint source."""
    return now - session.created_at >= FRESHNESS


def mint_source_order(sessions: Iterable[Session], now: datetime, *, handed_out: str | None = None) -> list[Session]:
    """The order in which sessions are tried as the source of a mint: the keeper first, then the sessions older
    than 24 h, oldest first. Fresh non-keeper sessions, retired ones and ``handed_out`` (a session_id that is, or is
    about to be, in a consumer's hands) are never sources.
    """
    usable = [s for s in sessions if s.role.usable and s.session_id != handed_out]
    keepers = [s for s in usable if s.role is Role.KEEPER]
    mature = sorted(
        (s for s in usable if s.role is not Role.KEEPER and is_mature(s, now)), key=lambda s: (s.created_at, s.id or 0)
    )
    return keepers + mature


def choose_mint_source(
    candidates: Sequence[tuple[Session, bool]], now: datetime, *, handed_out: str | None = None
) -> Session | None:
    """The first live session of :func:`mint_source_order` among ``candidates`` (session, alive now)."""
    alive = {id(s) for s, ok in candidates if ok}
    order = mint_source_order((s for s, _ in candidates), now, handed_out=handed_out)
    return next((s for s in order if id(s) in alive), None)


@dataclass(frozen=True, slots=True)
class CleanupPlan:
    retire_dead: tuple[Session, ...]  # dead: retire, no need to revoke
    revoke: tuple[Session, ...]  # live beyond the limit: log out at Telegram, then retire
    keep: tuple[Session, ...]  # live within the limit, and every unknown


def plan_cleanup(
    backups: Sequence[tuple[Session, Verdict]], max_backups: int, *, other_live_sessions: int
) -> CleanupPlan:
    """Decide what cleanup does with the backups.

    Dead backups are retired. Live backups beyond ``max_backups`` (oldest first) are revoked, except that the last
    live session of the account is never touched: ``other_live_sessions`` counts live primary/keeper sessions.
    Backups whose verdict is unknown are kept: an unknown verdict never changes anything.
    """
    if max_backups < 0:
        raise ValueError("max_backups must be >= 0")
    ordered = newest_first(s for s, _ in backups)
    verdicts = {id(s): v for s, v in backups}
    dead = [s for s in ordered if verdicts[id(s)].kind in (VerdictKind.DEAD, VerdictKind.ACCOUNT_DEAD)]
    live = [s for s in ordered if verdicts[id(s)].kind is VerdictKind.ALIVE]
    unknown = [s for s in ordered if verdicts[id(s)].kind is VerdictKind.UNKNOWN]
    allowed = max_backups if other_live_sessions > 0 else max(max_backups, 1)
    keep_live, revoke = live[:allowed], live[allowed:]
    return CleanupPlan(tuple(dead), tuple(revoke), tuple(keep_live + unknown))


class Level:
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class Reliability:
    score: float
    level: str


def reliability(
    *, primary_alive: bool, live_backups: int, recent: Sequence[VerdictKind], target_backups: int
) -> Reliability:
    """A 0–1 score and a level.

    score = 0.5 x primary alive + 0.3 x pool depth (live backups / target, capped at 1)
            + 0.2 x success rate of the recent final verdicts (unknowns ignored; none counts as the primary's state).
    level: high when the primary is alive and at least 2 backups are live; medium when the primary is alive or
    at least one backup is live; low otherwise.
    """
    final = [v for v in recent if v is not VerdictKind.UNKNOWN]
    success = (sum(v is VerdictKind.ALIVE for v in final) / len(final)) if final else float(primary_alive)
    depth = min(live_backups / target_backups, 1.0) if target_backups > 0 else float(live_backups > 0)
    score = round(0.5 * primary_alive + 0.3 * depth + 0.2 * success, 3)
    if primary_alive and live_backups >= 2:
        level = Level.HIGH
    elif primary_alive or live_backups >= 1:
        level = Level.MEDIUM
    else:
        level = Level.LOW
    return Reliability(score, level)


@dataclass(frozen=True, slots=True)
class LoginBudget:
    """At most ``limit`` login attempts (successful or not) per account in a rolling ``window``."""

    limit: int = 5
    window: timedelta = timedelta(hours=24)

    def remaining(self, attempts_in_window: int) -> int:
        return max(0, self.limit - attempts_in_window)

    def retry_after(self, attempt_times: Sequence[datetime], now: datetime) -> float:
        """Seconds until one more attempt fits the window (0 when one fits now)."""
        inside = sorted(t for t in attempt_times if t > now - self.window)
        if len(inside) < self.limit:
            return 0.0
        oldest_that_must_expire = inside[len(inside) - self.limit]
        return max(0.0, (oldest_that_must_expire + self.window - now).total_seconds())


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """Per-session circuit breaker.

    Opens after ``threshold`` consecutive transient failures for ``cooldown``, or at once for exactly the seconds of
    a flood wait. Any final verdict (alive or dead) closes it and resets the count.
    """

    threshold: int = 3
    cooldown: timedelta = timedelta(seconds=60)

    def apply(self, session: Session, verdict: Verdict) -> bool:
        """Update the session's breaker fields for ``verdict``; return True when this verdict opened the breaker."""
        now = verdict.checked_at
        if verdict.is_final:
            session.consecutive_failures = 0
            session.open_until = None
            return False
        if verdict.reason == "breaker_open":
            return False
        session.consecutive_failures += 1
        if verdict.retry_after is not None and verdict.retry_after > 0:
            session.open_until = now + timedelta(seconds=verdict.retry_after)
            return True
        if session.consecutive_failures >= self.threshold:
            session.open_until = now + self.cooldown
            return True
        return False


def backoff_delay(attempt: int, *, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base x 2**attempt)]."""
    return rand() * min(cap, base * (1 << attempt))
