"""Maintenance runs, started on request or by the scheduler: one at a time (in this process and, through the database
lease ``maintenance``, across instances), paced towards Telegram, with progress saved while they go, the report kept
for the operator, and resumed after a stop.

Resume rule: the resume cursor of a run is its low watermark — the highest account id such that every account up
to it is finished (workers finish accounts out of order; see sweep.py) — saved with its progress. When an instance
gets the lease it looks at the latest run. If that run is still ``running``, its instance died without finishing it
(the lease was free, so nobody runs it any more): it is marked ``failed`` with the error ``interrupted``. If the
latest run did not finish (interrupted, stopped, or failed), the new
run starts after its cursor and carries its ``done`` count on; otherwise it starts from the first account. Accounts
are therefore maintained once per cycle, except the few finished beyond the cursor (out of order, or after a killed
run's last progress save), which are maintained again; none is ever skipped.

The run works through its own context (:func:`maintenance_context`): the same database, phone locks and hints as
fetch, with every Telegram call paced (pacing.py), the verdict cache seen through
:class:`~tgsessions.service.maintenance.verdicts.MaintenanceVerdicts` (maintenance never pushes a hot verdict out)
and its storage calls taking turns (db_turns.py: a fetch never queues behind every worker).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tgsessions.domain.clock import Sleep
from tgsessions.domain.errors import MaintenanceRunning, NotFound, TgSessionsError
from tgsessions.domain.ports import Lease
from tgsessions.domain.runs import MaintenanceRun, RunStatus
from tgsessions.service.maintenance.db_turns import TurnTakingDatabase
from tgsessions.service.maintenance.pacing import Monotonic, PacedGateway, Pacer
from tgsessions.service.maintenance.sweep import run_maintenance
from tgsessions.service.maintenance.verdicts import MaintenanceVerdicts
from tgsessions.service.results import MaintenanceReport
from tgsessions.service.sessions import UseCaseContext

log = logging.getLogger("tgsessions.maintenance")

LEASE_NAME = "maintenance"
LEASE_TTL = timedelta(seconds=10)  # a run whose process died is taken over within this
RENEW_EVERY = 3.0  # seconds between lease renewals while a run is under way, whatever its progress
SAVE_EVERY = 1.0  # seconds between progress writes (by the heartbeat, never by a worker)
INTERRUPTED = "interrupted"


def report_dict(report: MaintenanceReport) -> dict[str, object]:
    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    return {k: plain(v) for k, v in dataclasses.asdict(report).items()}


def resume_point(previous: MaintenanceRun | None) -> int | None:
    """Where a new run starts: after the cursor of the latest run when that one did not finish, else at the start."""
    if previous is None or previous.status is RunStatus.FINISHED:
        return None
    return previous.last_account_id


def maintenance_context(
    ctx: UseCaseContext, pacer: Pacer, *, sleep: Sleep, rand: Callable[[], float]
) -> UseCaseContext:
    """``ctx`` as a maintenance run uses it: its own validator, minter, checks, promotion, cleanup and top-up over a
    PacedGateway, the MaintenanceVerdicts view of the cache and the TurnTakingDatabase view of the database, sharing
    the phone locks (so fetch and maintenance still exclude each other per phone, and a waiting fetch is seen), the
    warm path and the hints."""
    db = TurnTakingDatabase(ctx.db)
    own = UseCaseContext.build(
        db=db,
        gateway=PacedGateway(ctx.gateway, pacer),
        cache=MaintenanceVerdicts(ctx.cache, ctx.clock),
        cipher=ctx.cipher,
        clock=ctx.clock,
        options=ctx.options,
        sleep=sleep,
        rand=rand,
        lock_holder=ctx.locks.holder,
        metrics=ctx.metrics,
    )
    return dataclasses.replace(own, locks=ctx.locks.sharing(db.leases), warm=ctx.warm, primary_hints=ctx.primary_hints)


class MaintenanceRunner:
    def __init__(
        self,
        ctx: UseCaseContext,
        *,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        monotonic: Monotonic | None = None,
    ) -> None:
        """Pacing sleeps with ``sleep`` and reads time from ``monotonic`` (default: the ctx's clock, so a fake clock
        and a fake sleep that advances it make pacing deterministic)."""
        self._ctx = ctx
        pacing = ctx.options.maintenance
        self.pacer = Pacer(
            calls_per_second=pacing.calls_per_second,
            route_calls_per_second=pacing.route_calls_per_second,
            account_calls_per_minute=pacing.account_calls_per_minute,
            max_wait=ctx.options.validation_timeout / 4,
            sleep=sleep,
            monotonic=monotonic or (lambda: ctx.clock.now().timestamp()),
        )
        self.context = maintenance_context(ctx, self.pacer, sleep=sleep, rand=rand)
        self._task: asyncio.Task[None] | None = None
        self._watch: Callable[[int, int, str], None] | None = None

    @property
    def holder(self) -> str:
        """This instance's name on leases and runs."""
        return self._ctx.locks.holder

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self, actor: str, *, watch: Callable[[int, int, str], None] | None = None) -> MaintenanceRun:
        """Start a run in the background and return it (status running); MaintenanceRunning if one is under way.
        ``watch`` is told the progress (done, total, phone) as the run goes (the CLI's progress bar)."""
        self._watch = watch
        if self.running:
            raise MaintenanceRunning("a maintenance run is already under way in this instance")
        ctx = self._ctx
        lease = await ctx.db.leases.try_acquire(LEASE_NAME, self.holder, LEASE_TTL)
        if lease is None:
            raise MaintenanceRunning("a maintenance run is under way in another instance")
        try:
            run, previous = await self._open_run(actor)
        except BaseException:
            await asyncio.shield(ctx.db.leases.release(lease))
            raise
        self._task = asyncio.create_task(self._execute(run, lease, previous), name=f"maintenance-{run.id}")
        return run

    async def _open_run(self, actor: str) -> tuple[MaintenanceRun, MaintenanceRun | None]:
        """Under the lease: close a stale run left ``running`` by a dead instance, and add the new run (resuming
        after the latest run's cursor when that run did not finish)."""
        now = self._ctx.clock.now()
        async with self._ctx.db.unit_of_work() as uow:
            previous = await uow.runs.latest_run()
            if previous is not None and previous.status is RunStatus.RUNNING:
                previous.status, previous.error, previous.finished_at = RunStatus.FAILED, INTERRUPTED, now
                await uow.runs.save_run(previous)
                log.warning("maintenance run %s was left running by %s: marked interrupted", previous.id,
                            previous.holder)  # fmt: skip
            run = MaintenanceRun(actor=actor, started_at=now, holder=self.holder)
            if (after := resume_point(previous)) is not None:
                assert previous is not None
                run.last_account_id, run.done = after, previous.done
            run = await uow.runs.add_run(run)
            await uow.commit()
        return run, previous

    async def _execute(self, run: MaintenanceRun, lease: Lease, previous: MaintenanceRun | None) -> None:
        ctx = self._ctx
        resumed_after, offset = run.last_account_id, run.done
        lost = asyncio.Event()
        paced_before = self.pacer.waited

        async def renew() -> None:
            nonlocal lease
            renewed = await ctx.db.leases.try_acquire(LEASE_NAME, self.holder, LEASE_TTL)
            if renewed is None:
                lost.set()
                raise MaintenanceRunning("the maintenance lease was taken over by another instance")
            lease = renewed

        async def heartbeat() -> None:
            """Save the progress every SAVE_EVERY seconds and renew the lease every RENEW_EVERY, off the workers'
            path (they never wait for these writes); stop once the lease is lost."""
            loop = asyncio.get_running_loop()
            renewed_at, saved = loop.time(), (run.done, run.last_account_id)
            while not lost.is_set():
                await asyncio.sleep(SAVE_EVERY)
                try:
                    if loop.time() - renewed_at >= RENEW_EVERY:
                        await renew()
                        renewed_at = loop.time()
                    held = loop.time() - renewed_at < LEASE_TTL.total_seconds() / 2  # nobody can have taken over
                    if held and (run.done, run.last_account_id) != saved:
                        saved = (run.done, run.last_account_id)
                        await self._save(run)
                except MaintenanceRunning:
                    log.warning("maintenance run %s lost its lease", run.id)
                except (TgSessionsError, OSError) as exc:  # storage trouble: try again at the next beat
                    log.warning("maintenance run %s could not renew its lease or save its progress: %s", run.id,
                                type(exc).__name__)  # fmt: skip

        def cursor(account_id: int) -> None:
            run.last_account_id = account_id

        def progress(done: int, total: int, _phone: str) -> None:
            run.done = offset + done
            run.total = max(total, run.done)
            ctx.metrics.maintenance_progress(run.done, run.total)
            if self._watch is not None:
                self._watch(run.done, run.total, _phone)
            if lost.is_set():
                raise MaintenanceRunning("the maintenance lease was taken over by another instance")

        beating = asyncio.create_task(heartbeat(), name=f"maintenance-{run.id}-lease")
        try:
            report = await run_maintenance(
                self.context,
                actor=run.actor,
                progress=progress,
                after_id=resumed_after,
                cursor=cursor,
                pacer=self.pacer,
            )
        except (TgSessionsError, OSError) as exc:
            run.status, run.error = RunStatus.FAILED, getattr(exc, "message", type(exc).__name__)
            log.warning("maintenance run %s failed: %s", run.id, type(exc).__name__)
        else:
            run.status = RunStatus.FINISHED
            run.report = report_dict(report)
            if resumed_after is not None and previous is not None:
                run.report |= {"resumed_after_account": resumed_after, "resumed_run": previous.id}
            run.report["paced_seconds"] = round(self.pacer.waited - paced_before, 3)
            run.total = max(run.total, report.accounts)
        finally:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)
            run.finished_at = ctx.clock.now()
            await asyncio.shield(self._finish(run, lease))

    async def _finish(self, run: MaintenanceRun, lease: Lease) -> None:
        if run.status is RunStatus.RUNNING:
            run.status, run.error = RunStatus.FAILED, INTERRUPTED
        await self._save(run)
        await self._ctx.db.leases.release(lease)

    async def _save(self, run: MaintenanceRun) -> None:
        async with self._ctx.db.unit_of_work() as uow:
            await uow.runs.save_run(run)
            await uow.commit()

    async def get(self, run_id: int) -> MaintenanceRun:
        async with self._ctx.db.unit_of_work() as uow:
            run = await uow.runs.run_by_id(run_id)
        if run is None:
            raise NotFound(f"no maintenance run with id {run_id}")
        return run

    async def latest(self) -> MaintenanceRun | None:
        async with self._ctx.db.unit_of_work() as uow:
            return await uow.runs.latest_run()

    async def wait(self) -> None:
        """Wait for the run this process started (if any) to end."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
