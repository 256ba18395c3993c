"""Maintenance over all accounts: keep-alive validation, promotion, minting, cleanup, top-up, unrecoverable marks.

Accounts are streamed in pages by id, each handled under its phone lock like any other use case. An error on one
account is reported and the run goes on. No account and no live session is ever deleted.

Keep-alive: Telegram ends an authorization that is not used for the account's TTL, so every session whose last real
verdict is older than ``options.maintenance.keepalive`` (or that has none) is reconnected first, bypassing the
verdict cache. The other checks of the run go through the cache as before, and find those fresh verdicts there.

Resuming: ``after_id`` starts the walk after that account id; ``cursor`` is told the id of every account that was
fully maintained, in order (the runner stores it, so a run that was stopped can be resumed after it).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

from tgsessions.domain.errors import AccountBanned, AccountUnrecoverable, TgSessionsError
from tgsessions.domain.model import Action, Session
from tgsessions.domain.verdict import VerdictKind
from tgsessions.service.core import FactoryCore
from tgsessions.service.results import MaintenanceReport
from tgsessions.service.workspace import AccountWork

Progress = Callable[[int, int, str], Awaitable[None] | None]  # (done, total, phone); may be a coroutine function
Cursor = Callable[[int], None]  # the id of the account just finished


async def run_maintenance(
    core: FactoryCore,
    *,
    actor: str = "scheduler",
    progress: Progress | None = None,
    page_size: int = 100,
    max_backups: int | None = None,
    after_id: int | None = None,
    cursor: Cursor | None = None,
) -> MaintenanceReport:
    """Maintain every account (with ``after_id``: every account after it). ``report.accounts`` counts all of them."""
    report = MaintenanceReport(started_at=core.clock.now())
    async with core.db.unit_of_work() as uow:
        total = await uow.accounts.count_accounts()
    report.accounts = total
    after = after_id
    done = 0
    while True:
        async with core.db.unit_of_work() as uow:
            page = await uow.accounts.accounts_page(after_id=after, limit=page_size)
        if not page:
            break
        for account in page:
            assert account.id is not None
            after = account.id
            await _maintain(core, account.phone, report, actor, max_backups)
            done += 1
            if cursor is not None:
                cursor(account.id)
            if progress is not None:
                pending = progress(done, max(total, done), account.phone)
                if inspect.isawaitable(pending):
                    await pending
    report.finished_at = core.clock.now()
    if after_id is None:  # a run over every account: its count is the whole quarantine
        core.metrics.sessions_in_quarantine(report.quarantined)
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
            report.kept_alive += await _keep_alive(core, work)
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
                else:
                    await _count_unknown_authorizations(core, work, keeper, report)
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
        report.quarantined += sum(len(w.quarantined) for w in seen)


async def _keep_alive(core: FactoryCore, work: AccountWork) -> int:
    """Reconnect every session Telegram has not confirmed within the keep-alive period; how many were asked.

    The verdicts are recorded and cached like any other: the steps after this one act on them (a dead primary is
    replaced, a dead backup retired). AccountBanned propagates (the account is marked)."""
    stale_before = core.clock.now() - core.options.maintenance.keepalive
    asked = 0
    for session in list(work.sessions):
        if not session.role.usable or session.string is None:
            continue  # quarantined: left alone until an operator acts
        if session.verdict_at is not None and session.verdict_at > stale_before:
            continue
        await core.recovery.check(work, session, use_cache=False)
        asked += 1
    return asked


async def _count_unknown_authorizations(
    core: FactoryCore, work: AccountWork, keeper: Session, report: MaintenanceReport
) -> None:
    """Ask Telegram (as the keeper) for the account's authorizations and report those beyond the live sessions the
    service holds. Telegram not answering now is no error of the account: the count is simply skipped."""
    try:
        async with asyncio.timeout(core.options.validation_timeout):
            listed = await core.gateway.authorizations(work.access(keeper))
    except (TimeoutError, TgSessionsError):
        return
    held = sum(1 for s in work.sessions if s.string is not None)
    extra = len(listed) - held
    if extra > 0:
        report.unknown_authorizations[work.phone] = extra
