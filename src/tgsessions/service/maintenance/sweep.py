"""Maintenance over all accounts: keep-alive validation, promotion, minting, cleanup, top-up, unrecoverable marks.

Accounts are streamed in pages by id, each handled under its phone lock like any other use case. No account and no
live session is ever deleted.

A failure of one account, of any kind (a row that does not decrypt, a storage error, an unexpected exception in one
of its steps), never stops the run: it is written in the report (``errors[phone]``, counted in ``failed``), in the
account's history (a ``maintained`` event with outcome ``failed`` and the error code, when the account can still be
written) and in the metrics (``maintenance_account_failed(code)``), and the run goes on to the next account. An
account whose own row does not decrypt (its 2FA password or proxy) makes its page unreadable: the page is then read
one account at a time up to it, and its id is found by probing the pages after it (which never decrypts it).
Messages of unexpected exceptions are never shown (they might hold anything): only their type.

Keep-alive: Telegram ends an authorization that is not used for the account's TTL, so every session whose last real
verdict is older than ``options.maintenance.keepalive`` (or that has none) is reconnected first, bypassing the
verdict cache. The other checks of the run go through the cache as before, and find those fresh verdicts there.

Resuming: ``after_id`` starts the walk after that account id; ``cursor`` is told the id of every account that was
fully maintained, in order (the runner stores it, so a run that was stopped can be resumed after it).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tgsessions.domain.errors import AccountBanned, AccountUnrecoverable, SecretUnreadable, TgSessionsError
from tgsessions.domain.model import Account, Action, Event, Session
from tgsessions.domain.verdict import VerdictKind
from tgsessions.service.results import MaintenanceReport
from tgsessions.service.sessions import LockedAccount, UseCaseContext

SweepProgress = Callable[[int, int, str], Awaitable[None] | None]  # (done, total, phone); may be an async function
Cursor = Callable[[int], None]  # the id of the account just finished

log = logging.getLogger("tgsessions.maintenance")
UNEXPECTED = "internal_error"  # the code recorded for an exception that is not a TgSessionsError


@dataclass(frozen=True, slots=True)
class Unlisted:
    """An account whose own row does not decrypt, so it cannot be listed: its id, phone and the error."""

    id: int
    phone: str
    error: SecretUnreadable


async def run_maintenance(
    ctx: UseCaseContext,
    *,
    actor: str = "scheduler",
    progress: SweepProgress | None = None,
    page_size: int = 100,
    max_backups: int | None = None,
    after_id: int | None = None,
    cursor: Cursor | None = None,
) -> MaintenanceReport:
    """Maintain every account (with ``after_id``: every account after it). ``report.accounts`` counts all of them."""
    report = MaintenanceReport(started_at=ctx.clock.now())
    async with ctx.db.unit_of_work() as uow:
        total = await uow.accounts.count_accounts()
    report.accounts = total
    after = after_id
    done = 0
    while True:
        page = await _page(ctx, after, page_size)
        if not page:
            break
        for account in page:
            assert account.id is not None
            after = account.id
            if isinstance(account, Unlisted):
                await _failed(ctx, account.id, account.phone, account.error, report, actor)
            else:
                await _maintain(ctx, account, report, actor, max_backups)
            done += 1
            if cursor is not None:
                cursor(account.id)
            if progress is not None:
                pending = progress(done, max(total, done), account.phone)
                if inspect.isawaitable(pending):
                    await pending
    report.finished_at = ctx.clock.now()
    if after_id is None:  # a run over every account: its count is the whole quarantine
        ctx.metrics.sessions_in_quarantine(report.quarantined)
    return report


async def _page(ctx: UseCaseContext, after: int | None, limit: int) -> list[Account | Unlisted]:
    """The next page of accounts; when one of them does not decrypt, the accounts before it one at a time, then it
    (as :class:`Unlisted`)."""
    try:
        async with ctx.db.unit_of_work() as uow:
            return list(await uow.accounts.accounts_page(after_id=after, limit=limit))
    except SecretUnreadable:
        pass
    try:
        async with ctx.db.unit_of_work() as uow:
            return list(await uow.accounts.accounts_page(after_id=after, limit=1))
    except SecretUnreadable as exc:
        return [Unlisted(await _unlisted_id(ctx, after or 0, exc), exc.phone or "(unknown phone)", exc)]


async def _unlisted_id(ctx: UseCaseContext, after: int, error: SecretUnreadable) -> int:
    """The id of the first account after ``after``, whose row raises ``error``: the smallest ``x`` from which the
    page after ``x`` no longer starts with it (galloping, then bisecting: a few reads, none of them decrypting it)."""

    async def starts_with_it(x: int) -> bool:
        try:
            async with ctx.db.unit_of_work() as uow:
                await uow.accounts.accounts_page(after_id=x, limit=1)
        except SecretUnreadable as other:
            return (other.phone, other.message) == (error.phone, error.message)
        return False

    low, step = after, 1  # the page after ``low`` starts with it
    while await starts_with_it(low + step):
        low, step = low + step, step * 2
    high = low + step  # ... and the page after ``high`` does not: its id is in (low, high]
    while high - low > 1:
        middle = (low + high) // 2
        if await starts_with_it(middle):
            low = middle
        else:
            high = middle
    return high


async def _failed(
    ctx: UseCaseContext, account_id: int, phone: str, exc: Exception, report: MaintenanceReport, actor: str
) -> None:
    """Record one account's failure (report, history, metrics); the run goes on whatever happens here."""
    if isinstance(exc, TgSessionsError):
        code, message = exc.code, exc.message
    else:
        code, message = UNEXPECTED, f"unexpected {type(exc).__name__} during maintenance"
    report.failed += 1
    report.errors[phone] = f"{code}: {message}"
    ctx.metrics.maintenance_account_failed(code)
    log.warning("maintenance of account %s failed (%s, %s); the run goes on", phone, code, type(exc).__name__)
    event = Event(account_id, Action.MAINTAINED, actor, "failed", ctx.clock.now(), reason=code,
                  detail={"error": message[:500]})  # fmt: skip
    try:
        async with ctx.db.unit_of_work() as uow:
            await uow.audit.append_event(event)
            await uow.commit()
    except Exception as write_error:  # the account cannot be written (storage down, row gone): the report has it
        log.warning("maintenance could not write the failure of account %s to its history (%s)", phone,
                    type(write_error).__name__)  # fmt: skip


async def _maintain(
    ctx: UseCaseContext, account: Account, report: MaintenanceReport, actor: str, max_backups: int | None
) -> None:
    phone = account.phone
    seen: list[LockedAccount] = []
    try:
        async with ctx.working(phone, actor) as (work, lease):
            seen.append(work)
            if work.account.is_banned:
                report.banned += 1
                return
            report.kept_alive += await _keep_alive(ctx, work)
            _session, how = await ctx.promotion.ensure_primary(work, lease)
            report.promoted += how == "promoted"
            report.minted += how == "minted"
            cleaned = await ctx.cleanup.cleanup(
                work, ctx.options.cleanup_default if max_backups is None else max_backups
            )
            report.revoked += len(cleaned.revoked)
            report.minted += await ctx.top_up.top_up(work, lease, ctx.options.target_backups)
            reconciled = await ctx.minter.reconciler.reconcile(work, lease)  # what failed mints left behind
            report.orphans_reset += reconciled.revoked
            keeper = work.pool.keeper
            if keeper is not None:
                verdict = await ctx.checks.check(work, keeper)
                if verdict.kind is VerdictKind.DEAD:
                    work.retire(keeper, ctx.clock.now(), verdict.reason)
                else:
                    await _count_unknown_authorizations(ctx, work, keeper, report)
            work.event(Action.MAINTAINED, ctx.clock.now(), live_backups=len(work.pool.backups))
            report.healthy += 1
    except AccountUnrecoverable:
        report.unrecoverable += 1
    except AccountBanned:
        report.banned += 1
    except Exception as exc:  # any failure of this account: recorded, and the run goes on to the next one
        assert account.id is not None
        await _failed(ctx, account.id, phone, exc, report, actor)
    finally:
        report.retired += sum(w.retired_dead for w in seen)
        report.quarantined += sum(len(w.pool.quarantined) for w in seen)


async def _keep_alive(ctx: UseCaseContext, work: LockedAccount) -> int:
    """Reconnect every session Telegram has not confirmed within the keep-alive period; how many were asked.

    The verdicts are recorded and cached like any other: the steps after this one act on them (a dead primary is
    replaced, a dead backup retired). AccountBanned propagates (the account is marked)."""
    stale_before = ctx.clock.now() - ctx.options.maintenance.keepalive
    asked = 0
    for session in work.pool.usable:  # quarantined ones are left alone until an operator acts
        if session.verdict_at is not None and session.verdict_at > stale_before:
            continue
        await ctx.checks.check(work, session, use_cache=False)
        asked += 1
    return asked


async def _count_unknown_authorizations(
    ctx: UseCaseContext, work: LockedAccount, keeper: Session, report: MaintenanceReport
) -> None:
    """Ask Telegram (as the keeper) for the account's authorizations and report those beyond the live sessions the
    service holds. Telegram not answering now is no error of the account: the count is simply skipped."""
    try:
        async with asyncio.timeout(ctx.options.validation_timeout):
            listed = await ctx.gateway.authorizations(work.access(keeper))
    except (TimeoutError, TgSessionsError):
        return
    held = sum(1 for s in work.pool.sessions if s.string is not None)
    extra = len(listed) - held
    if extra > 0:
        report.unknown_authorizations[work.phone] = extra
