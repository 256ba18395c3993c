"""Read-only views of an account and of the service (scope ``status:read``): never a session string."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tgsessions.api.auth import RuntimeDep, StatusRead
from tgsessions.api.openapi import errors
from tgsessions.api.presenters import cache_stats_out, history_out, session_meta, status_out
from tgsessions.api.routes.params import Mobile
from tgsessions.api.schemas.sessions import SessionMeta
from tgsessions.api.schemas.status import CacheStatsOut, HistoryOut, StatusOut

router = APIRouter(prefix="/archived-clients", tags=["status"])
MAX_EVENT_ID = 2**63 - 1


@router.get(
    "/{mobile}/session-status",
    summary="Health of the account's sessions",
    description="The primary is checked now (cache first); backups and keeper by their last known verdict.",
    response_model=StatusOut,
    responses=errors(404, 409),
)
async def session_status(mobile: Mobile, key: StatusRead, runtime: RuntimeDep) -> StatusOut:
    report = await runtime.factory.session_status(mobile, actor=key.actor)
    return status_out(report)


@router.get(
    "/{mobile}/old-sessions",
    summary="The backup sessions, newest first, without strings",
    response_model=list[SessionMeta],
    responses=errors(404),
)
async def old_sessions(mobile: Mobile, _key: StatusRead, runtime: RuntimeDep) -> list[SessionMeta]:
    return [session_meta(info) for info in await runtime.factory.list_backups(mobile)]


@router.get(
    "/{mobile}/history",
    summary="The account's audit events, newest first, paginated",
    response_model=HistoryOut,
    responses=errors(404),
)
async def history(
    mobile: Mobile,
    _key: StatusRead,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500, description="Events per page.")] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_EVENT_ID, description="Only events older than this id (`nextBefore`).")
    ] = None,
) -> HistoryOut:
    page = await runtime.factory.history(mobile, limit=limit, before=before)
    return history_out(page)


@router.get(
    "/health/cache-stats",
    summary="Statistics of the verdict cache",
    response_model=CacheStatsOut,
    responses=errors(),
)
async def cache_stats(_key: StatusRead, runtime: RuntimeDep) -> CacheStatsOut:
    return cache_stats_out(await runtime.factory.cache_stats())
