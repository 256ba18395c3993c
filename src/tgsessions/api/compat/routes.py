"""The replaced service's 15 endpoints under ``/archived-clients`` (docs/compat-original.md has the contract and
where tgsessions deliberately differs). Routes with a fixed path come before ``/{mobile}``."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response, status
from fastapi.responses import JSONResponse, PlainTextResponse

from tgsessions.api.auth import Admin, RuntimeDep, SessionsRead, SessionsWrite, StatusRead
from tgsessions.api.compat.openapi import errors
from tgsessions.api.compat.presenters import cache_stats_out, record_out, status_out
from tgsessions.api.compat.schemas import (
    BatchBody,
    BatchEntry,
    CleanupBody,
    CreateBody,
    DeletedRecord,
    NewSessionBody,
    OriginalCacheStatsOut,
    PatchBody,
    Record,
    SessionStatus,
)
from tgsessions.api.routes.params import Mobile
from tgsessions.api.schemas.sessions import MAX_BATCH, SessionFormatName
from tgsessions.domain.access import ApiKey, Scope
from tgsessions.domain.errors import InvalidInput, MaintenanceRunning, TgSessionsError, UnknownPhone
from tgsessions.domain.phone import normalise_phone
from tgsessions.domain.runs import RunStatus
from tgsessions.domain.session_codec import SessionFormat
from tgsessions.service.runtime import Runtime

router = APIRouter(prefix="/archived-clients", tags=["archived-clients"])

Format = Annotated[
    SessionFormatName | None,
    Query(alias="format", description="The layout of the strings; by default each as it arrived (minted: GramJS)."),
]
CHECK_WAIT_SECONDS = 50.0  # the original timed requests out at 60 s
RECORD: dict[str, Any] = {"response_model_exclude_none": True}


def _fmt(value: SessionFormatName | None) -> SessionFormat | None:
    return SessionFormat(value.value) if value is not None else None


def _strings(key: ApiKey) -> bool:
    return key.allows(Scope.SESSIONS_READ)


async def _record(runtime: Runtime, key: ApiKey, phone: str, fmt: SessionFormatName | None, via: str) -> Record:
    found = await runtime.factory.record(phone, with_strings=_strings(key), fmt=_fmt(fmt), actor=key.actor, via=via)
    return record_out(found)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Record, responses=errors(409), **RECORD)
async def create(body: CreateBody, key: SessionsWrite, runtime: RuntimeDep, fmt: Format = None) -> Record:
    """Row 1: an account with its primary and `oldSessions` (stored as the backups). Duplicate mobile: 409."""
    added = await runtime.factory.add_account(
        body.mobile,
        primary=body.session.get_secret_value(),
        backups=[s.get_secret_value() for s in body.oldSessions],
        fmt=_fmt(body.format),
        actor=key.actor,
    )
    return await _record(runtime, key, added.phone, fmt, "create")


@router.get("", response_model=list[Record], responses=errors(), **RECORD)
async def all_records(key: StatusRead, runtime: RuntimeDep, fmt: Format = None) -> list[Record]:
    """Row 3: every record (strings only for `sessions:read`)."""
    found = await runtime.factory.records(with_strings=_strings(key), fmt=_fmt(fmt), actor=key.actor, via="list")
    return [record_out(r) for r in found]


@router.get("/search", response_model=list[Record], responses=errors(), **RECORD)
async def search(
    request: Request, key: StatusRead, runtime: RuntimeDep, mobile: str | None = None, fmt: Format = None
) -> list[Record]:
    """Row 2: plain equality on `mobile` only."""
    other = sorted(set(request.query_params) - {"mobile", "format", "apiKey"})
    if other:
        raise InvalidInput(f"search filters on mobile only, not on {', '.join(other)}", field="query")
    if mobile is None:
        raise InvalidInput("search needs mobile", field="query.mobile")
    return await _matching(runtime, key, mobile, fmt, "search")


@router.post("/query", status_code=status.HTTP_201_CREATED, response_model=list[Record], responses=errors(), **RECORD)
async def query(
    key: StatusRead, runtime: RuntimeDep, body: Annotated[dict[str, Any] | None, Body()] = None, fmt: Format = None
) -> list[Record]:
    """Row 9: a plain equality filter on `mobile`; no operators, no other field."""
    if not body:
        raise InvalidInput("Query cannot be empty", field="body")
    other = sorted(name for name in body if name != "mobile")
    if other:
        raise InvalidInput(f"query filters on mobile only (plain equality), not on {', '.join(other)}", field="body")
    mobile = body["mobile"]
    if not isinstance(mobile, str | int) or isinstance(mobile, bool):
        raise InvalidInput("query: mobile must be a plain value (operators are not accepted)", field="body.mobile")
    return await _matching(runtime, key, str(mobile), fmt, "query")


async def _matching(
    runtime: Runtime, key: ApiKey, mobile: str, fmt: SessionFormatName | None, via: str
) -> list[Record]:
    try:
        phone = normalise_phone(mobile)
    except InvalidInput:
        return []
    found = await runtime.factory.records([phone], with_strings=_strings(key), fmt=_fmt(fmt), actor=key.actor,
                                           via=via)  # fmt: skip
    return [record_out(r) for r in found]


@router.get(
    "/maintenance/check-archived-clients", response_class=PlainTextResponse, responses=errors(), status_code=200
)
async def check_archived_clients(key: Admin, runtime: RuntimeDep) -> PlainTextResponse:
    """Row 4: runs maintenance (or joins the run under way) and answers its summary. Never deletes an account."""
    factory = runtime.factory
    with contextlib.suppress(MaintenanceRunning):  # else: report the run under way
        await factory.start_maintenance(actor=key.actor)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CHECK_WAIT_SECONDS
    run = await factory.latest_maintenance_run()
    while run is not None and run.status is RunStatus.RUNNING and loop.time() < deadline:
        await asyncio.sleep(0.1)
        run = await factory.latest_maintenance_run()
    report = run.report if run is not None else {}
    done = "completed" if run is not None and run.status is not RunStatus.RUNNING else "under way"
    updated = sum(_count(report.get(name)) for name in ("promoted", "minted", "retired", "revoked"))
    errors_seen = report.get("errors") or {}
    processed = run.done if run is not None else 0
    text = (f"Archived clients check {done}. Processed: {processed}, Updated: {updated}, Deleted: 0, "
            f"Errors: {len(errors_seen) if isinstance(errors_seen, dict) else 0}")  # fmt: skip
    return PlainTextResponse(text)


def _count(value: object) -> int:
    return value if isinstance(value, int) else 0


@router.get("/health/cache-stats", response_model=OriginalCacheStatsOut, responses=errors())
async def cache_stats(_key: StatusRead, runtime: RuntimeDep) -> OriginalCacheStatsOut:
    """Row 15."""
    stats = await runtime.factory.cache_stats()
    return cache_stats_out(stats, runtime.factory.now())


@router.get("/fetch/{mobile}", response_model=Record, responses=errors(404, 409), **RECORD)
async def fetch(mobile: Mobile, key: SessionsRead, runtime: RuntimeDep, fmt: Format = None) -> Record:
    """Row 6: the record with a live `session` (validated, promoted or minted)."""
    result = await runtime.factory.fetch_one(mobile, actor=key.actor)
    return await _record(runtime, key, result.phone, fmt, "fetch")


@router.post("/batch-fetch", status_code=status.HTTP_201_CREATED, response_model=list[BatchEntry], responses=errors())
async def batch_fetch(body: BatchBody, key: SessionsRead, runtime: RuntimeDep, fmt: Format = None) -> JSONResponse:
    """Row 14: one entry per phone, in the order given; a phone that fails gets `client: null` and `error`."""
    if not body.mobiles:
        raise InvalidInput("Mobile numbers array is required", field="body.mobiles")
    if len(body.mobiles) > MAX_BATCH:
        raise InvalidInput(f"Batch size cannot exceed {MAX_BATCH} mobiles", field="body.mobiles")
    items = await runtime.factory.batch_fetch(body.mobiles, actor=key.actor)
    entries: list[dict[str, Any]] = []
    for item in items:
        if item.result is None:
            entries.append({"mobile": item.phone, "client": None, "error": item.error or "failed"})
            continue
        try:
            record = await _record(runtime, key, item.phone, fmt, "batch")
        except TgSessionsError as exc:
            entries.append({"mobile": item.phone, "client": None, "error": exc.message})
        else:  # the record without its absent optional keys; `client` itself is always there
            entries.append({"mobile": item.phone, "client": record.model_dump(mode="json", exclude_none=True)})
    return JSONResponse(entries, status_code=status.HTTP_201_CREATED)


@router.get("/{mobile}", response_model=Record | None, responses=errors(), **RECORD)
async def get_record(mobile: Mobile, key: StatusRead, runtime: RuntimeDep, fmt: Format = None) -> Response | Record:
    """Row 5: the record; an unknown phone answers 200 with an empty body, as the original did."""
    try:
        return await _record(runtime, key, mobile, fmt, "record")
    except UnknownPhone:
        return Response(status_code=200)


@router.patch("/{mobile}", response_model=Record, responses=errors(404), **RECORD)
async def patch(mobile: Mobile, body: PatchBody, key: SessionsWrite, runtime: RuntimeDep, fmt: Format = None) -> Record:
    """Row 7: only `session` can change, as PUT .../session does (no upsert: unknown phone 404)."""
    info = await runtime.factory.update_session(mobile, body.session.get_secret_value(), actor=key.actor)
    del info
    return await _record(runtime, key, mobile, fmt, "update")


@router.delete("/{mobile}", response_model=DeletedRecord, responses=errors(404, 503), **RECORD)
async def delete(
    mobile: Mobile,
    key: SessionsWrite,
    runtime: RuntimeDep,
    fmt: Format = None,
    revoke: Annotated[
        bool, Query(description="Terminate the sessions at Telegram first (else they stay live).")
    ] = False,
) -> DeletedRecord:
    """Row 8: the account goes (its deletion is kept: who, when, which session ids); `?revoke=true` terminates its
    sessions at Telegram first, and deletes nothing if Telegram cannot terminate one now (503)."""
    gone = await runtime.factory.delete_account(mobile, revoke=revoke, with_strings=_strings(key), fmt=_fmt(fmt),
                                                 actor=key.actor)  # fmt: skip
    shown = record_out(gone.record)
    return DeletedRecord(**shown.model_dump(), deletedSessionIds=gone.session_ids, revokedSessionIds=gone.revoked)


@router.put("/{mobile}/session", response_model=Record, responses=errors(404), **RECORD)
async def update_session(
    mobile: Mobile, body: NewSessionBody, key: SessionsWrite, runtime: RuntimeDep, fmt: Format = None
) -> Record:
    """Row 10: the new primary must be alive and of this phone (400 otherwise); the old one joins oldSessions."""
    await runtime.factory.update_session(mobile, body.newSession.get_secret_value(), actor=key.actor)
    return await _record(runtime, key, mobile, fmt, "update")


@router.get("/{mobile}/old-sessions", response_model=list[str], responses=errors(404))
async def old_sessions(mobile: Mobile, key: SessionsRead, runtime: RuntimeDep, fmt: Format = None) -> list[str]:
    """Row 11: the backup strings (audited)."""
    found = await runtime.factory.record(mobile, with_strings=True, fmt=_fmt(fmt), actor=key.actor, via="old-sessions")
    return [s.reveal() for s in found.backups]


@router.post("/{mobile}/cleanup-sessions", status_code=status.HTTP_201_CREATED, response_model=Record,
             responses=errors(404), **RECORD)  # fmt: skip
async def cleanup_sessions(
    mobile: Mobile, key: SessionsWrite, runtime: RuntimeDep, body: CleanupBody | None = None, fmt: Format = None
) -> Record:
    """Row 12: dead backups retired, live ones beyond `maxSessions` revoked at Telegram."""
    await runtime.factory.cleanup_sessions(mobile, body.maxSessions if body is not None else None, actor=key.actor)
    return await _record(runtime, key, mobile, fmt, "cleanup")


@router.get("/{mobile}/session-status", response_model=SessionStatus, responses=errors(404))
async def session_status(mobile: Mobile, key: StatusRead, runtime: RuntimeDep) -> SessionStatus:
    """Row 13."""
    report = await runtime.factory.session_status(mobile, actor=key.actor)
    return status_out(report, runtime.factory.now())
