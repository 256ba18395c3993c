"""Maintenance over all accounts: keep-alive validation, promotion, minting, cleanup, top-up, unrecoverable marks.

Accounts are streamed in pages by id (pages.py) to ``workers`` concurrent workers (``options.maintenance.workers``
unless given), each account handled under its phone lock like any other use case (visit.py), so the run goes as
fast as the pacing of its gateway lets it (pacing.py), not one account at a time. No account and no live session is
ever deleted.

A failure of one account, of any kind (a row that does not decrypt, a storage error, an unexpected exception in one
of its steps), never stops the run: it is written in the report (``errors[phone]``, counted in ``failed``), in the
account's history (a ``maintained`` event with outcome ``failed`` and the error code, when the account can still be
written) and in the metrics (``maintenance_account_failed(code)``), and the run goes on to the next account. What
does stop it — the page stream failing, or ``progress`` raising (the runner's lease was lost) — stops every worker,
and that error is raised.

An account set aside for a flood wait (visit.py) is handed back to the workers once the pause is over, in the
meantime its worker goes on with other accounts; the sweep ends when every account streamed has finished.

Progress and resuming: accounts finish out of order, so the sweep *settles* them in id order: an account is settled
once it and every account before it have finished. For each settled account, in id order, ``cursor`` is told its id
(the low watermark: every account up to it is done, so a run resumed ``after_id`` that cursor never skips one; the
few finished beyond it are maintained again) and then ``progress(done, total, phone)`` is called with ``done`` one
more than the time before. Calls to ``progress`` (which may be an async function) never overlap.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

from tgsessions.domain.model import Account
from tgsessions.service.maintenance.pacing import Pacer
from tgsessions.service.maintenance.pages import Unlisted, accounts_after
from tgsessions.service.maintenance.visit import Visit, VisitPlan, advance, merge
from tgsessions.service.results import MaintenanceReport
from tgsessions.service.sessions import UseCaseContext

SweepProgress = Callable[[int, int, str], Awaitable[None] | None]  # (done, total, phone); may be an async function
Cursor = Callable[[int], None]  # the id of the account just settled: every account up to it is done

MAX_LOOKAHEAD = 5_000  # accounts streamed ahead of the oldest unsettled one, at most (bounds memory)


async def run_maintenance(
    ctx: UseCaseContext,
    *,
    actor: str = "scheduler",
    progress: SweepProgress | None = None,
    page_size: int = 100,
    max_backups: int | None = None,
    after_id: int | None = None,
    cursor: Cursor | None = None,
    workers: int | None = None,
    pacer: Pacer | None = None,
) -> MaintenanceReport:
    """Maintain every account (with ``after_id``: every account after it). ``report.accounts`` counts all of them.
    ``pacer`` is the one behind ``ctx``'s gateway, whose flood pauses set accounts aside (the runner's)."""
    report = MaintenanceReport(started_at=ctx.clock.now())
    async with ctx.db.unit_of_work() as uow:
        report.accounts = await uow.accounts.count_accounts()
        open_attempts = frozenset(await uow.audit.phones_with_open_login_attempts())
    sweep = _Sweep(ctx, report, VisitPlan(actor, max_backups, pacer, open_attempts), progress, cursor)
    await sweep.run(accounts_after(ctx, after_id, page_size), max(1, workers or ctx.options.maintenance.workers))
    report.finished_at = ctx.clock.now()
    if after_id is None:  # a run over every account: its count is the whole quarantine
        ctx.metrics.sessions_in_quarantine(report.quarantined)
    return report


class _Sweep:
    """The workers, the queue they take visits from, and the settling of finished visits in id order."""

    def __init__(
        self,
        ctx: UseCaseContext,
        report: MaintenanceReport,
        plan: VisitPlan,
        progress: SweepProgress | None,
        cursor: Cursor | None,
    ) -> None:
        self._ctx = ctx
        self._report = report
        self._plan = plan
        self._progress = progress
        self._cursor = cursor
        self._queue: asyncio.Queue[Visit | None] = asyncio.Queue()
        self._unsettled: deque[Visit] = deque()  # streamed, in id order, not yet settled
        self._settling = asyncio.Lock()  # progress calls never overlap
        self._settled = asyncio.Event()  # something was settled (the stream may read ahead again)
        self._in_flight = 0  # streamed and not finished
        self._streamed = False
        self._workers = 0
        self._done = 0

    async def run(self, accounts: AsyncIterator[Account | Unlisted], workers: int) -> None:
        self._workers = workers
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._stream(accounts, workers))
                for number in range(workers):
                    group.create_task(self._work(group), name=f"maintenance-worker-{number}")
        except BaseExceptionGroup as failed:  # the first error, as it was raised (the others were cancellations)
            raise failed.exceptions[0] from None

    async def _stream(self, accounts: AsyncIterator[Account | Unlisted], workers: int) -> None:
        """Hand every account to the workers, at most ``2 x workers`` waiting and ``MAX_LOOKAHEAD`` unsettled."""
        async for account in accounts:
            while self._queue.qsize() >= 2 * workers or len(self._unsettled) >= MAX_LOOKAHEAD:
                self._settled.clear()
                await self._settled.wait()
            visit = Visit(account, MaintenanceReport(started_at=self._report.started_at))
            self._unsettled.append(visit)
            self._in_flight += 1
            self._queue.put_nowait(visit)
        self._streamed = True
        self._end_if_done()

    async def _work(self, group: asyncio.TaskGroup) -> None:
        while (visit := await self._queue.get()) is not None:
            self._settled.set()  # room in the queue: the stream may go on
            wait = await advance(self._ctx, visit, self._plan)
            while wait == 0:  # a caller waited for the lock: it went first, and the visit goes on after it
                wait = await advance(self._ctx, visit, self._plan)
            if wait is None:
                await self._finish(visit)
            else:
                group.create_task(self._later(visit, wait), name=f"maintenance-deferred-{visit.phone}")

    async def _later(self, visit: Visit, seconds: float) -> None:
        """Hand a visit set aside for a pause back to the workers once the pause is over."""
        assert self._plan.pacer is not None
        await self._plan.pacer.sleep(seconds)
        self._queue.put_nowait(visit)

    async def _finish(self, visit: Visit) -> None:
        visit.finished = True
        merge(self._report, visit)
        async with self._settling:
            while self._unsettled and self._unsettled[0].finished:
                settled = self._unsettled.popleft()
                self._done += 1
                self._settled.set()
                if self._cursor is not None:
                    self._cursor(settled.id)
                if self._progress is not None:
                    pending = self._progress(self._done, max(self._report.accounts, self._done), settled.phone)
                    if inspect.isawaitable(pending):
                        await pending
        self._in_flight -= 1
        self._end_if_done()

    def _end_if_done(self) -> None:
        """Once every account streamed has finished, tell every worker to stop."""
        if self._streamed and self._in_flight == 0:
            for _ in range(self._workers):
                self._queue.put_nowait(None)
