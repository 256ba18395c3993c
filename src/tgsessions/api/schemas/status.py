"""Schemas of the read-only endpoints: session status, history, cache statistics."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from tgsessions.api.schemas.wire import CamelModel


class HealthMetrics(CamelModel):
    active_old_sessions: int = Field(description="Backups whose last verdict is alive.")
    last_updated: datetime | None = Field(description="Last change of the primary.")
    session_age: float | None = Field(description="Seconds since the primary was created; null without one.")
    reliability: str = Field(description="high, medium or low.")
    score: float = Field(ge=0, le=1)


class KeeperState(CamelModel):
    present: bool
    session_id: str | None
    verdict: str | None


class BreakerState(CamelModel):
    open: bool = Field(description="Whether the primary's circuit breaker is open now.")
    open_until: datetime | None


class StatusOut(CamelModel):
    mobile: str
    state: str = Field(description="active, unrecoverable, banned or deactivated.")
    is_main_session_active: bool | None = Field(description="The primary, checked now; null if Telegram cannot tell.")
    total_old_sessions: int = Field(description="Backups stored.")
    quarantined: int = Field(
        description="Sessions kept but not handed out (a string that cannot be read, another phone's session) until "
        "an operator acts: see `tgsessions repair-sessions` and the history."
    )
    last_checked: datetime | None
    health_metrics: HealthMetrics
    keeper: KeeperState
    breaker: BreakerState
    frozen: bool
    login_attempts_left: int


class EventOut(CamelModel):
    id: int | None
    action: str
    actor: str
    outcome: str
    at: datetime
    session_id: str | None
    reason: str | None
    detail: dict[str, str | int | float | bool | None] = Field(
        description="What else the event says, keys in camelCase."
    )


class HistoryOut(CamelModel):
    mobile: str
    events: list[EventOut] = Field(description="Newest first.")
    next_before: int | None = Field(description="Pass as `before` for the next (older) page; null on the last.")


class CacheStatsOut(CamelModel):
    backend: str
    hits: int
    misses: int
    entries: int
    expired: int
    evictions: int
    last_sweep: datetime | None
    ttl_seconds: float
    max_entries: int
    hit_rate: float = Field(ge=0, le=1)
