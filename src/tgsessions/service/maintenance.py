"""Maintenance over all accounts: keep-alive validation, promotion, minting, cleanup, top-up, unrecoverable marks.

Accounts are streamed in pages by id, each handled under its phone lock like any other use case. An error on one
account is reported and the run goes on. No account and no live session is ever deleted.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from tgsessions.domain.errors import AccountBanned, AccountUnrecoverable, TgSessionsError
from tgsessions.domain.model import Action
from tgsessions.domain.verdict import VerdictKind
from tgsessions.service.core import FactoryCore
from tgsessions.service.results import MaintenanceReport
from tgsessions.service.workspace import AccountWork

Progress = Callable[[int, int, str], Awaitable[None] | None]  # (done, total, phone); may be a coroutine function


async def run_maintenance(
    core: FactoryCore,
    *,
    actor: str = "scheduler",
    progress: Progress | None = None,
    page_size: int = 100,
    max_backups: int | None = None,
) -> MaintenanceReport:
    report = MaintenanceReport(started_at=core.clock.now())
    async with core.db.unit_of_work() as uow:
        total = await uow.accounts.count_accounts()
    report.accounts = total
    after: int | None = None
    done = 0
    while True:
        async with core.db.unit_of_work() as uow:
            page = await uow.accounts.accounts_page(after_id=after, limit=page_size)
        if not page:
            break
        for account in page:
            after = account.id
            await _maintain(core, account.phone, report, actor, max_backups)
            done += 1
            if progress is not None:
                pending = progress(done, max(total, done), account.phone)
                if inspect.isawaitable(pending):
                    await pending
    report.finished_at = core.clock.now()
    return report


async def _maintain(
    core: FactoryCore, phone: str, report: MaintenanceReport, actor: str, max_backups: int | None
) -> None:
    recovery = core.recovery
    seen: list[AccountWork] = []
    try:
        async with core.working(phone, actor) as (work, lease):
            seen.append(work)
            if work.account.is_banned:
                report.banned += 1
                return
            _session, how = await recovery.ensure_primary(work, lease)
            report.promoted += how == "promoted"
            report.minted += how == "minted"
            cleaned = await recovery.cleanup(work, core.options.cleanup_default if max_backups is None else max_backups)
            report.revoked += len(cleaned.revoked)
            report.minted += await recovery.top_up(work, lease, core.options.target_backups)
            keeper = work.keeper
            if keeper is not None:
                verdict = await recovery.check(work, keeper)
                if verdict.kind is VerdictKind.DEAD:
                    work.retire(keeper, core.clock.now(), verdict.reason)
            work.event(Action.MAINTAINED, core.clock.now(), live_backups=len(work.backups))
            report.healthy += 1
    except AccountUnrecoverable:
        report.unrecoverable += 1
    except AccountBanned:
        report.banned += 1
    except TgSessionsError as exc:
        report.errors[phone] = f"{exc.code}: {exc.message}"
    finally:
        report.retired += sum(w.retired_dead for w in seen)
