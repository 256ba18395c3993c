"""One account's maintenance, step by step, under its phone lock — giving the lock up between steps when a caller
waits for it, or when Telegram asked the account's route to wait.

The steps, in order: keep-alive (one session per step), a live primary (validated, promoted or minted), cleanup,
top-up, reconciliation of what failed mints left, and the keeper's check (with the count of authorizations the
service does not hold). Between two steps the visit looks whether a fetch (any caller of this process) waits for
the phone: if so it writes what it did so far, gives the lock up and takes it again after that caller (the lock
serves waiters in order), reloading the account, and goes on with the next step. A fetch therefore waits for at most
one step of maintenance, never for a whole account. When the account's route or the account itself is paused by a
flood wait longer than a call may wait (see pacing.py), the visit stops the same way and tells the sweep when to
continue, so its worker can go on with another account meanwhile.

Keep-alive: Telegram ends an authorization that is not used for the account's TTL, so every session whose last real
verdict is older than ``options.maintenance.keepalive`` (or that has none) is reconnected first, bypassing the
verdict cache. The other checks of the visit go through the cache as before, and find those fresh verdicts there.

Counts go to the visit's own tally (merged into the run's report when the visit ends, so concurrent visits never
lose an update). A failure of the account, of any kind, ends its visit and is recorded (report, history, metrics);
messages of unexpected exceptions are never shown (they might hold anything): only their type.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields

from tgsessions.domain.errors import AccountBanned, AccountUnrecoverable, TgSessionsError
from tgsessions.domain.model import Account, Action, Event, Session
from tgsessions.domain.ports import Lease
from tgsessions.domain.verdict import VerdictKind
from tgsessions.service.maintenance.pacing import Pacer
from tgsessions.service.maintenance.pages import Unlisted
from tgsessions.service.maintenance.routes import route_of
from tgsessions.service.results import MaintenanceReport
from tgsessions.service.sessions import LockedAccount, UseCaseContext

log = logging.getLogger("tgsessions.maintenance")

UNEXPECTED = "internal_error"  # the code recorded for an exception that is not a TgSessionsError
MAX_DEFER = 300.0  # seconds: a longer pause is not waited for (the account's calls meet Telegram's own answer)


@dataclass(frozen=True, slots=True)
class VisitPlan:
    """What every visit of a run shares."""

    actor: str
    max_backups: int | None = None  # cleanup's limit (None: the options' default)
    pacer: Pacer | None = None  # the run's pacer, whose flood pauses set visits aside (None: never)
    open_attempts: frozenset[str] | None = None  # phones with open login attempts at the start (None: unknown)


@dataclass(eq=False, slots=True)
class Visit:
    """One account on its way through the steps, kept across the times its lock is given up."""

    account: Account | Unlisted
    tally: MaintenanceReport
    step: int = 0
    asked: set[str] = field(default_factory=set)  # sessions reconnected by this visit's keep-alive
    quarantined: int = 0  # sessions in quarantine when the account was last seen
    fell_short: bool = False  # the top-up minted fewer backups than wanted
    finished: bool = False

    @property
    def id(self) -> int:
        assert self.account.id is not None
        return self.account.id

    @property
    def phone(self) -> str:
        return self.account.phone


async def advance(ctx: UseCaseContext, visit: Visit, plan: VisitPlan) -> float | None:
    """Run ``visit``'s steps from where it stands. None: the account is done (its counts are in ``visit.tally``).
    A number: it stopped early, to continue after that many seconds (0: at once, after the caller that waits)."""
    if isinstance(visit.account, Unlisted):
        await record_failure(ctx, visit.id, visit.phone, visit.account.error, visit.tally, plan.actor)
        return None
    tally = visit.tally
    try:
        async with ctx.working(visit.phone, plan.actor) as (work, lease):
            try:
                return await _steps(ctx, visit, work, lease, plan)
            finally:
                tally.retired += work.retired_dead
                visit.quarantined = len(work.pool.quarantined)
    except AccountUnrecoverable:
        tally.unrecoverable += 1
    except AccountBanned:
        tally.banned += 1
    except Exception as exc:  # any failure of this account: recorded, and the run goes on to the next one
        await record_failure(ctx, visit.id, visit.phone, exc, tally, plan.actor)
    return None


async def _steps(ctx: UseCaseContext, visit: Visit, work: LockedAccount, lease: Lease, plan: VisitPlan) -> float | None:
    if work.account.is_banned:
        visit.tally.banned += 1
        return None
    ran = False  # at least one step per hold, so a visit always moves on
    while visit.step < len(STEPS):
        if ran and ctx.locks.has_waiters(work.phone):
            return 0.0
        pause = _pause(plan.pacer, work)
        if pause is not None:
            return pause
        if await STEPS[visit.step](ctx, visit, work, lease, plan):
            visit.step += 1
        ran = True
    return None


def _pause(pacer: Pacer | None, work: LockedAccount) -> float | None:
    """The seconds to set the account aside for, when its route or itself is paused longer than a call waits."""
    if pacer is None or not pacer.pausing:
        return None
    usable = work.pool.usable
    route = route_of(work.access(usable[0])) if usable else ""
    left = pacer.paused_for(route, work.phone)
    return left if pacer.max_wait < left <= MAX_DEFER else None


Step = Callable[[UseCaseContext, Visit, LockedAccount, Lease, VisitPlan], Awaitable[bool]]


async def _keep_alive(ctx: UseCaseContext, visit: Visit, work: LockedAccount, _lease: Lease, _plan: VisitPlan) -> bool:
    """Reconnect the next session Telegram has not confirmed within the keep-alive period; True when none is left.

    The verdict is recorded and cached like any other: the steps after this one act on it (a dead primary is
    replaced, a dead backup retired). AccountBanned propagates (the account is marked)."""
    stale_before = ctx.clock.now() - ctx.options.maintenance.keepalive
    for session in work.pool.usable:  # quarantined ones are left alone until an operator acts
        if session.session_id in visit.asked or (session.verdict_at is not None and session.verdict_at > stale_before):
            continue
        visit.asked.add(session.session_id)
        await ctx.checks.check(work, session, use_cache=False)
        visit.tally.kept_alive += 1
        return False
    return True


async def _primary(ctx: UseCaseContext, visit: Visit, work: LockedAccount, lease: Lease, _plan: VisitPlan) -> bool:
    _session, how = await ctx.promotion.ensure_primary(work, lease)
    visit.tally.promoted += how == "promoted"
    visit.tally.minted += how == "minted"
    return True


async def _cleanup(ctx: UseCaseContext, visit: Visit, work: LockedAccount, _lease: Lease, plan: VisitPlan) -> bool:
    limit = ctx.options.cleanup_default if plan.max_backups is None else plan.max_backups
    visit.tally.revoked += len((await ctx.cleanup.cleanup(work, limit)).revoked)
    return True


async def _top_up(ctx: UseCaseContext, visit: Visit, work: LockedAccount, lease: Lease, _plan: VisitPlan) -> bool:
    wanted = ctx.options.target_backups - len(work.pool.backups)
    minted = await ctx.top_up.top_up(work, lease, ctx.options.target_backups)
    visit.tally.minted += minted
    visit.fell_short = minted < wanted  # a mint failed (or could not start): its attempt may be left open
    return True


async def _reconcile(ctx: UseCaseContext, visit: Visit, work: LockedAccount, lease: Lease, plan: VisitPlan) -> bool:
    """What failed mints left at Telegram, reset. Only for an account that had open login attempts when the run
    started, or whose top-up fell short now (every mint settles its own attempts; this is the second try): the
    others have none, and asking storage for each of them would cost the run one more query per account."""
    if plan.open_attempts is None or work.phone in plan.open_attempts or visit.fell_short:
        visit.tally.orphans_reset += (await ctx.minter.reconciler.reconcile(work, lease)).revoked
    return True


async def _keeper(ctx: UseCaseContext, visit: Visit, work: LockedAccount, _lease: Lease, _plan: VisitPlan) -> bool:
    """The keeper checked (retired when dead), the unknown authorizations counted, and the account maintained."""
    keeper = work.pool.keeper
    if keeper is not None:
        verdict = await ctx.checks.check(work, keeper)
        if verdict.kind is VerdictKind.DEAD:
            work.retire(keeper, ctx.clock.now(), verdict.reason)
        else:
            await _count_unknown_authorizations(ctx, work, keeper, visit.tally)
    work.event(Action.MAINTAINED, ctx.clock.now(), live_backups=len(work.pool.backups))
    visit.tally.healthy += 1
    return True


STEPS: tuple[Step, ...] = (_keep_alive, _primary, _cleanup, _top_up, _reconcile, _keeper)


async def _count_unknown_authorizations(
    ctx: UseCaseContext, work: LockedAccount, keeper: Session, tally: MaintenanceReport
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
        tally.unknown_authorizations[work.phone] = extra


async def record_failure(
    ctx: UseCaseContext, account_id: int, phone: str, exc: Exception, tally: MaintenanceReport, actor: str
) -> None:
    """Record one account's failure (report, history, metrics); the run goes on whatever happens here."""
    if isinstance(exc, TgSessionsError):
        code, message = exc.code, exc.message
    else:
        code, message = UNEXPECTED, f"unexpected {type(exc).__name__} during maintenance"
    tally.failed += 1
    tally.errors[phone] = f"{code}: {message}"
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


SUMMED_FIELDS = tuple(
    f.name for f in fields(MaintenanceReport) if f.name not in ("started_at", "finished_at", "accounts", "errors",
                                                                 "unknown_authorizations")
)  # fmt: skip


def merge(report: MaintenanceReport, visit: Visit) -> None:
    """Add a finished visit's counts to the run's report (no await: concurrent visits never lose an update)."""
    tally = visit.tally
    tally.quarantined = visit.quarantined
    for name in SUMMED_FIELDS:
        setattr(report, name, getattr(report, name) + getattr(tally, name))
    report.errors.update(tally.errors)
    report.unknown_authorizations.update(tally.unknown_authorizations)
