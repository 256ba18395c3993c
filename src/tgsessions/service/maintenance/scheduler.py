"""MaintenanceScheduler: maintenance on an interval, in the background of a serving instance.

Every instance runs a scheduler; the database lease makes sure one run happens at a time. A tick starts a run when
one is due (no run was *started* within the interval, by any instance: the interval is cluster-wide, not per
instance) and waits for it to end; a tick that finds the lease held elsewhere, or a run that is not due, is skipped.
After each tick the scheduler sleeps ``interval`` seconds; the first tick comes ``start_delay`` seconds after
:meth:`start`, never during start-up itself. A run that did not finish (interrupted, failed) never makes the next one
wait: the next tick resumes it (see runs.py). Nothing a tick meets stops the scheduler; only :meth:`aclose` does.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from tgsessions.domain.clock import Sleep
from tgsessions.domain.errors import MaintenanceRunning
from tgsessions.domain.ports import Clock
from tgsessions.domain.runs import MaintenanceRun, RunStatus

log = logging.getLogger("tgsessions.scheduler")

ACTOR = "scheduler"


class Maintainer(Protocol):
    """What the scheduler needs of the SessionFactory."""

    async def start_maintenance(self, *, actor: str) -> MaintenanceRun: ...

    async def wait_for_maintenance(self) -> None: ...

    async def latest_maintenance_run(self) -> MaintenanceRun | None: ...


@dataclass(slots=True)
class TickCounts:
    ticks: int = 0
    started: int = 0
    not_due: int = 0
    busy: int = 0  # another instance held the lease
    failed: int = 0  # the tick itself failed (storage unreachable, ...)


class MaintenanceScheduler:
    def __init__(
        self,
        maintainer: Maintainer,
        clock: Clock,
        *,
        interval: float,
        start_delay: float = 0.0,
        actor: str = ACTOR,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if interval < 0 or start_delay < 0:
            raise ValueError("interval and start_delay must not be negative")
        self._maintainer = maintainer
        self._clock = clock
        self._interval = interval
        self._start_delay = start_delay
        self._actor = actor
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self.counts = TickCounts()

    @property
    def enabled(self) -> bool:
        return self._interval > 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Begin ticking in the background (nothing happens when the interval is 0)."""
        if not self.enabled or self.running:
            return
        self._task = asyncio.create_task(self._loop(), name="maintenance-scheduler")

    async def _loop(self) -> None:
        await self._sleep(self._start_delay)
        while True:
            await self.tick()
            await self._sleep(self._interval)

    async def tick(self) -> MaintenanceRun | None:
        """One tick: start a run if one is due and the lease is free, and wait for it; the run, or None if skipped."""
        self.counts.ticks += 1
        try:
            if not await self._due():
                self.counts.not_due += 1
                return None
            run = await self._maintainer.start_maintenance(actor=self._actor)
        except MaintenanceRunning:
            self.counts.busy += 1
            log.info("maintenance tick skipped: a run is under way in another instance")
            return None
        except Exception as exc:  # a failed tick must not end the schedule
            self.counts.failed += 1
            log.warning("maintenance tick failed: %s", type(exc).__name__)
            return None
        self.counts.started += 1
        log.info("maintenance run %s started", run.id)
        await self._maintainer.wait_for_maintenance()
        return run

    async def _due(self) -> bool:
        latest = await self._maintainer.latest_maintenance_run()
        if latest is None or latest.status is not RunStatus.FINISHED:
            return True
        return self._clock.now() - latest.started_at >= timedelta(seconds=self._interval)

    async def aclose(self) -> None:
        """Stop ticking (a run under way is the runner's to stop, when the factory closes)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
