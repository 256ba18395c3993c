"""Maintenance runs started on request: one at a time (in this process and, through a database lease, across
instances), with progress saved while they go and the report kept for the operator."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime, timedelta
from typing import Any

from tgsessions.domain.errors import MaintenanceRunning, NotFound, TgSessionsError
from tgsessions.domain.ports import Lease
from tgsessions.domain.runs import MaintenanceRun, RunStatus
from tgsessions.service.core import FactoryCore
from tgsessions.service.maintenance import run_maintenance
from tgsessions.service.results import MaintenanceReport

log = logging.getLogger("tgsessions.maintenance")

LEASE_NAME = "maintenance"
LEASE_TTL = timedelta(minutes=5)
SAVE_EVERY = 1.0  # seconds between progress writes


def report_dict(report: MaintenanceReport) -> dict[str, object]:
    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    return {k: plain(v) for k, v in dataclasses.asdict(report).items()}


class MaintenanceRunner:
    def __init__(self, core: FactoryCore) -> None:
        self._core = core
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self, actor: str) -> MaintenanceRun:
        """Start a run in the background and return it (status running); MaintenanceRunning if one is under way."""
        if self.running:
            raise MaintenanceRunning("a maintenance run is already under way in this instance")
        core = self._core
        lease = await core.db.leases.try_acquire(LEASE_NAME, core.locks.holder, LEASE_TTL)
        if lease is None:
            raise MaintenanceRunning("a maintenance run is under way in another instance")
        run = MaintenanceRun(actor=actor, started_at=core.clock.now())
        async with core.db.unit_of_work() as uow:
            run = await uow.runs.add_run(run)
            await uow.commit()
        self._task = asyncio.create_task(self._execute(run, lease), name=f"maintenance-{run.id}")
        return run

    async def _execute(self, run: MaintenanceRun, lease: Lease) -> None:
        core = self._core
        loop = asyncio.get_running_loop()
        last_save = loop.time()

        async def progress(done: int, total: int, _phone: str) -> None:
            nonlocal last_save, lease
            run.done, run.total = done, total
            if loop.time() - last_save >= SAVE_EVERY:
                last_save = loop.time()
                renewed = await core.db.leases.try_acquire(LEASE_NAME, core.locks.holder, LEASE_TTL)
                if renewed is None:
                    raise MaintenanceRunning("the maintenance lease was taken over by another instance")
                lease = renewed
                await self._save(run)

        try:
            report = await run_maintenance(core, actor=run.actor, progress=progress)
        except (TgSessionsError, OSError) as exc:
            run.status, run.error = RunStatus.FAILED, getattr(exc, "message", type(exc).__name__)
            log.warning("maintenance run %s failed: %s", run.id, type(exc).__name__)
        else:
            run.status, run.report = RunStatus.FINISHED, report_dict(report)
            run.total = max(run.total, report.accounts)
        finally:
            run.finished_at = core.clock.now()
            await asyncio.shield(self._finish(run, lease))

    async def _finish(self, run: MaintenanceRun, lease: Lease) -> None:
        if run.status is RunStatus.RUNNING:
            run.status, run.error = RunStatus.FAILED, "interrupted"
        await self._save(run)
        await self._core.db.leases.release(lease)

    async def _save(self, run: MaintenanceRun) -> None:
        async with self._core.db.unit_of_work() as uow:
            await uow.runs.save_run(run)
            await uow.commit()

    async def get(self, run_id: int) -> MaintenanceRun:
        async with self._core.db.unit_of_work() as uow:
            run = await uow.runs.run_by_id(run_id)
        if run is None:
            raise NotFound(f"no maintenance run with id {run_id}")
        return run

    async def latest(self) -> MaintenanceRun | None:
        async with self._core.db.unit_of_work() as uow:
            return await uow.runs.latest_run()

    async def wait(self) -> None:
        """Wait for the run this process started (if any) to end."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
