"""Results of the use cases turned into response schemas (the only place that knows both).

Free-form objects (a maintenance report, an event's detail) leave with camelCase keys, like every other name."""

from __future__ import annotations

from tgsessions.api.errors import retry_after_seconds
from tgsessions.api.schemas.maintenance import RunOut
from tgsessions.api.schemas.sessions import (
    BatchError,
    BatchItemOut,
    CleanupOut,
    FetchOut,
    SessionFormatName,
    SessionMeta,
)
from tgsessions.api.schemas.status import (
    BreakerState,
    CacheStatsOut,
    EventOut,
    HealthMetrics,
    HistoryOut,
    KeeperState,
    StatusOut,
)
from tgsessions.api.schemas.wire import camel_keys
from tgsessions.domain.errors import FormatUnavailable
from tgsessions.domain.model import Event
from tgsessions.domain.ports import CacheStats
from tgsessions.domain.runs import MaintenanceRun
from tgsessions.domain.session_codec import SessionFormat
from tgsessions.service.results import BatchItem, CleanupReport, FetchResult, HistoryPage, SessionInfo, StatusReport


def fetch_out(result: FetchResult, fmt: SessionFormatName = SessionFormatName.TELETHON) -> FetchOut:
    """FormatUnavailable when the session cannot be written in ``fmt`` (Pyrogram without a user id)."""
    return FetchOut(
        mobile=result.phone,
        session=result.rendered(SessionFormat(fmt.value)).reveal(),
        format=fmt,
        session_id=result.session_id,
        role=result.role,
        how=result.how,
        last_updated=result.last_updated,
        created_at=result.created_at,
        updated_at=result.updated_at,
        frozen=result.frozen,
    )


def batch_item_out(item: BatchItem, fmt: SessionFormatName = SessionFormatName.TELETHON) -> BatchItemOut:
    if item.result is not None:
        try:
            return BatchItemOut.model_validate(fetch_out(item.result, fmt).model_dump())
        except FormatUnavailable as exc:
            return BatchItemOut(mobile=item.phone, error=BatchError(error=exc.code, message=exc.message))
    retry = retry_after_seconds(item.retry_after) if item.retry_after is not None else None
    error = BatchError(error=item.error_code or "error", message=item.error or "failed", retry_after=retry)
    return BatchItemOut(mobile=item.phone, error=error)


def session_meta(info: SessionInfo) -> SessionMeta:
    return SessionMeta(
        session_id=info.session_id,
        role=info.role,
        origin=info.origin,
        created_at=info.created_at,
        role_since=info.role_since,
        age=info.age_seconds,
        verdict=info.verdict,
        verdict_reason=info.verdict_reason,
        verdict_at=info.verdict_at,
        breaker_open_until=info.breaker_open_until,
    )


def cleanup_out(report: CleanupReport) -> CleanupOut:
    return CleanupOut(
        mobile=report.phone,
        max_sessions=report.max_backups,
        retired_dead=list(report.retired_dead),
        revoked=list(report.revoked),
        deferred=list(report.deferred),
        kept=list(report.kept),
    )


def status_out(report: StatusReport) -> StatusOut:
    primary, keeper = report.primary, report.keeper
    open_until = primary.breaker_open_until if primary is not None else None
    return StatusOut(
        mobile=report.phone,
        state=report.state,
        is_main_session_active=report.primary_alive,
        total_old_sessions=report.total_backups,
        quarantined=report.quarantined,
        last_checked=report.last_checked,
        health_metrics=HealthMetrics(
            active_old_sessions=report.live_backups,
            last_updated=report.last_updated,
            session_age=primary.age_seconds if primary is not None else None,
            reliability=report.reliability_level,
            score=report.reliability_score,
        ),
        keeper=KeeperState(
            present=keeper is not None,
            session_id=keeper.session_id if keeper is not None else None,
            verdict=keeper.verdict if keeper is not None else None,
        ),
        breaker=BreakerState(open=report.breaker_open, open_until=open_until),
        frozen=report.frozen,
        login_attempts_left=report.login_attempts_left,
    )


def event_out(event: Event) -> EventOut:
    return EventOut(
        id=event.id,
        action=event.action.value,
        actor=event.actor,
        outcome=event.outcome,
        at=event.at,
        session_id=event.session_id,
        reason=event.reason,
        detail=camel_keys(event.detail),
    )


def history_out(page: HistoryPage) -> HistoryOut:
    return HistoryOut(mobile=page.phone, events=[event_out(e) for e in page.events], next_before=page.next_before)


def cache_stats_out(stats: CacheStats) -> CacheStatsOut:
    return CacheStatsOut(
        backend=stats.backend,
        hits=stats.hits,
        misses=stats.misses,
        entries=stats.entries,
        expired=stats.expired,
        evictions=stats.evictions,
        last_sweep=stats.last_sweep,
        ttl_seconds=stats.ttl_seconds,
        max_entries=stats.max_entries,
        hit_rate=stats.hit_rate,
    )


def run_out(run: MaintenanceRun) -> RunOut:
    assert run.id is not None
    return RunOut(
        id=run.id,
        status=run.status.value,
        actor=run.actor,
        started_at=run.started_at,
        finished_at=run.finished_at,
        total=run.total,
        done=run.done,
        report=camel_keys(run.report),
        error=run.error,
    )
