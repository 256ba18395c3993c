"""Liveness (no key) and readiness (any valid key)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tgsessions.api.auth import AnyKey, RuntimeDep
from tgsessions.api.openapi import errors
from tgsessions.api.schemas.maintenance import HealthOut, ReadinessOut

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive", response_model=HealthOut)
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    summary="Database reachable, migrations current, Telegram backend named",
    response_model=ReadinessOut,
    responses={**errors(), 503: {"model": ReadinessOut, "description": "Not ready: the body says what is wrong."}},
)
async def readyz(_key: AnyKey, runtime: RuntimeDep) -> JSONResponse:
    readiness = await runtime.readiness()
    body = ReadinessOut(
        status="ready" if readiness.ready else "not_ready",
        database=readiness.database,
        migrations=readiness.migrations,
        telegram=readiness.telegram_backend,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if readiness.ready else 503)
