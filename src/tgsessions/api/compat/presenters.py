"""Service results in the replaced service's shapes."""

from __future__ import annotations

from datetime import datetime

from tgsessions.api.compat.schemas import (
    HistoryEntry,
    OriginalCacheStatsOut,
    OriginalHealthMetrics,
    Record,
    SessionStatus,
)
from tgsessions.domain.model import Event
from tgsessions.domain.ports import CacheStats
from tgsessions.service.results import StatusReport
from tgsessions.service.sessions import AccountRecord


def _entry(event: Event) -> HistoryEntry:
    source = event.detail.get("via") or event.detail.get("how")
    return HistoryEntry(
        session=f"{event.session_id}..." if event.session_id else "",
        action=event.action.value,
        timestamp=event.at,
        status=event.outcome,
        source=str(source) if source is not None else None,
    )


def _primary_text(record: AccountRecord) -> str | None:
    """The primary's string; "" when the caller may have strings but there is no primary (Telegram said it died:
    its string is gone), so `session` keeps the original's type; None (absent) without `sessions:read`."""
    if not record.with_strings:
        return None
    return record.primary.reveal() if record.primary is not None else ""


def record_out(record: AccountRecord) -> Record:
    return Record(
        id=str(record.account_id),
        mobile=record.phone,
        session=_primary_text(record),
        oldSessions=[s.reveal() for s in record.backups] if record.with_strings else None,
        sessionId=record.primary_id,
        oldSessionIds=record.backup_ids,
        lastUpdated=record.last_updated,
        lastCleanup=record.last_cleanup,
        sessionHistory=[_entry(e) for e in record.history],
        createdAt=record.created_at,
        updatedAt=record.updated_at,
    )


def ago(seconds: float) -> str:
    """A duration as the original wrote it: "just now", "5 minutes ago", "2 hours ago", "40 days ago"."""
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        count = int(seconds // size)
        if count >= 1:
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


def status_out(report: StatusReport, now: datetime) -> SessionStatus:
    primary = report.primary
    return SessionStatus(
        mobile=report.phone,
        isMainSessionActive=bool(report.primary_alive),
        totalOldSessions=report.total_backups,
        lastChecked=report.last_checked or now,
        healthMetrics=OriginalHealthMetrics(
            activeOldSessions=report.live_backups,
            lastUpdated=report.last_updated or report.created_at,
            sessionAge=ago(primary.age_seconds) if primary is not None else "no session",
            reliability=report.reliability_level if report.reliability_level in ("high", "medium", "low") else "low",
        ),
    )


def cache_stats_out(stats: CacheStats, now: datetime) -> OriginalCacheStatsOut:
    return OriginalCacheStatsOut(
        totalEntries=stats.entries,
        validEntries=max(0, stats.entries - stats.expired),
        expiredEntries=stats.expired,
        cacheHitRate=f"{round(stats.hit_rate * 100)}%",
        lastCleanup=stats.last_sweep or now,
    )
