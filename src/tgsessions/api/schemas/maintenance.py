"""Schemas of maintenance runs and of the health endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from tgsessions.api.schemas.wire import CamelModel


class RunOut(CamelModel):
    id: int
    status: str = Field(description="running, finished or failed.")
    actor: str
    started_at: datetime
    finished_at: datetime | None
    total: int = Field(description="Accounts to visit (known once the run has counted them).")
    done: int = Field(description="Accounts visited so far.")
    report: dict[str, Any] = Field(
        description="The final report, keys in camelCase (counts per outcome, e.g. `keptAlive`; `errors` and "
        "`unknownAuthorizations` keyed by phone)."
    )
    error: str | None


class MaintenanceStateOut(CamelModel):
    running: bool
    last_run: RunOut | None


class HealthOut(CamelModel):
    status: Literal["ok"]


class ReadinessOut(CamelModel):
    status: Literal["ready", "not_ready"]
    database: str = Field(description="`ok`, or why not.")
    migrations: str = Field(description="`current`, or why not.")
    telegram: str = Field(description="The Telegram backend: telethon or simulated.")
