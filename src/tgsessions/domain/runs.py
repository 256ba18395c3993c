"""Maintenance runs as the operator sees them: state, progress and the final report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class RunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


@dataclass(slots=True)
class MaintenanceRun:
    actor: str
    started_at: datetime
    status: RunStatus = RunStatus.RUNNING
    total: int = 0
    done: int = 0
    finished_at: datetime | None = None
    report: dict[str, object] = field(default_factory=dict)
    error: str | None = None
    last_account_id: int | None = None  # the resume cursor: the last account this run (or the one it resumed) finished
    holder: str | None = None  # the instance (lease holder) that ran it
    id: int | None = None
