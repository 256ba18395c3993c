"""Maintenance: its state without side effects (``status:read``), starting runs and following them (``admin``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from tgsessions.api.auth import Admin, RuntimeDep, StatusRead
from tgsessions.api.openapi import errors
from tgsessions.api.presenters import run_out
from tgsessions.api.schemas.maintenance import MaintenanceStateOut, RunOut
from tgsessions.domain.runs import RunStatus

router = APIRouter(prefix="/archived-clients/maintenance", tags=["maintenance"])
RunId = Annotated[int, Path(alias="runId", ge=1, le=2**31 - 1, description="The run's id, from the start response.")]


@router.get(
    "/check-archived-clients",
    summary="State and report of the last or current maintenance run",
    description="Has no side effects: start a run with `POST /archived-clients/maintenance/runs`.",
    response_model=MaintenanceStateOut,
    responses=errors(),
)
async def check_archived_clients(_key: StatusRead, runtime: RuntimeDep) -> MaintenanceStateOut:
    latest = await runtime.factory.latest_maintenance_run()
    return MaintenanceStateOut(
        running=latest is not None and latest.status is RunStatus.RUNNING,
        last_run=run_out(latest) if latest is not None else None,
    )


@router.post(
    "/runs",
    summary="Start a maintenance run over all accounts",
    description="Returns at once with the run (status `running`); follow it at the `Location` given. One run at a "
    "time: 409 while another is under way.",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunOut,
    responses={
        **errors(409),
        202: {"headers": {"Location": {"description": "Where to follow the run.", "schema": {"type": "string"}}}},
    },
)
async def start_run(key: Admin, runtime: RuntimeDep, response: Response) -> RunOut:
    run = await runtime.factory.start_maintenance(actor=key.actor)
    out = run_out(run)
    response.headers["Location"] = f"{router.prefix}/runs/{out.id}"
    return out


@router.get(
    "/runs/{runId}",
    summary="Progress and report of a maintenance run",
    response_model=RunOut,
    responses=errors(404),
)
async def get_run(run_id: RunId, _key: Admin, runtime: RuntimeDep) -> RunOut:
    return run_out(await runtime.factory.maintenance_run(run_id))
