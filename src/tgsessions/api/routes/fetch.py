"""Fetch and batch fetch: the only endpoints that return session strings (scope ``sessions:read``).

The factory writes the ``handed_out`` audit event naming the key in the same transaction as the hand-out and raises
if that write fails, so a string never leaves without its audit row (fail closed).
"""

from __future__ import annotations

from fastapi import APIRouter

from tgsessions.api.auth import RuntimeDep, SessionsRead
from tgsessions.api.openapi import errors
from tgsessions.api.presenters import batch_item_out, fetch_out
from tgsessions.api.routes.params import Mobile, OutputFormat
from tgsessions.api.schemas.sessions import BatchOut, BatchRequest, FetchOut, SessionFormatName

router = APIRouter(prefix="/archived-clients", tags=["sessions"])


@router.get(
    "/fetch/{mobile}",
    summary="A session of the phone that works right now",
    description="Returns the primary if it is alive; else promotes the newest live backup; else mints a new session "
    "from the keeper or another mature live session. Every hand-out is audited with the key's id.",
    response_model=FetchOut,
    responses=errors(404, 409, 422),
)
async def fetch(
    mobile: Mobile, key: SessionsRead, runtime: RuntimeDep, fmt: OutputFormat = SessionFormatName.TELETHON
) -> FetchOut:
    result = await runtime.factory.fetch_one(mobile, actor=key.actor)
    return fetch_out(result, fmt)


@router.post(
    "/batch-fetch",
    summary="Fetch up to 50 phones at once",
    description="Phones are deduplicated after normalisation; each gets a session or an error of its own.",
    response_model=BatchOut,
    responses=errors(),
)
async def batch_fetch(
    body: BatchRequest, key: SessionsRead, runtime: RuntimeDep, fmt: OutputFormat = SessionFormatName.TELETHON
) -> BatchOut:
    items = await runtime.factory.batch_fetch(body.mobiles, actor=key.actor)
    return BatchOut(results=[batch_item_out(item, fmt) for item in items])
