"""Read-mostly use cases: status, backups, history, cleanup, cache statistics."""

from __future__ import annotations

from tgsessions.domain.account_pool import AccountPool
from tgsessions.domain.errors import AccountBanned, InvalidInput, UnknownPhone
from tgsessions.domain.model import Account
from tgsessions.domain.phone import normalise_phone
from tgsessions.domain.policies import reliability
from tgsessions.domain.ports import CacheStats
from tgsessions.domain.verdict import VerdictKind
from tgsessions.service.results import AccountSummary, HistoryPage, SessionInfo, StatusReport
from tgsessions.service.sessions.context import UseCaseContext


async def session_status(ctx: UseCaseContext, phone: object, *, actor: str) -> StatusReport:
    """The primary is checked now (cache first); backups and keeper are reported by their last known verdict."""
    number = normalise_phone(phone)
    async with ctx.working(number, actor) as (work, _lease):
        primary = work.pool.primary
        primary_alive: bool | None = None
        if primary is not None and not work.account.is_banned:
            try:
                verdict = await ctx.checks.check(work, primary)
            except AccountBanned:
                primary_alive = False
            else:
                primary_alive = None if verdict.kind is VerdictKind.UNKNOWN else verdict.is_alive
        elif work.account.is_banned:
            primary_alive = False
        backups = work.pool.backups
        live = sum(s.verdict is VerdictKind.ALIVE for s in backups)
        async with ctx.db.unit_of_work() as uow:
            recent = await uow.audit.recent_verdicts(work.account_id, ctx.options.recent_verdicts)
        left, _wait = await ctx.minter.budget_left(work)
        score = reliability(
            primary_alive=bool(primary_alive),
            live_backups=live,
            recent=recent,
            target_backups=ctx.options.target_backups,
        )
        checks = [s.verdict_at for s in work.pool.sessions if s.verdict_at is not None]
        account = work.account
        return StatusReport(
            phone=number,
            state=account.state.value,
            frozen=account.frozen,
            primary_alive=primary_alive,
            breaker_open=primary is not None and primary.breaker_open(ctx.clock.now()),
            primary=ctx.info(primary) if primary else None,
            keeper=ctx.info(work.pool.keeper) if work.pool.keeper else None,
            live_backups=live,
            total_backups=len(backups),
            quarantined=len(work.pool.quarantined),
            reliability_score=score.score,
            reliability_level=score.level,
            login_attempts_left=left,
            last_checked=max(checks) if checks else None,
            last_updated=account.last_updated,
            last_cleanup=account.last_cleanup,
            created_at=account.created_at,
        )


async def _account(ctx: UseCaseContext, number: str) -> Account:
    async with ctx.db.unit_of_work() as uow:
        account = await uow.accounts.get_account(number)
    if account is None or account.id is None:
        raise UnknownPhone(number)
    return account


async def list_backups(ctx: UseCaseContext, phone: object) -> list[SessionInfo]:
    number = normalise_phone(phone)
    account = await _account(ctx, number)
    assert account.id is not None
    async with ctx.db.unit_of_work() as uow:
        sessions = await uow.sessions.sessions(account.id)
    return [ctx.info(s) for s in AccountPool(sessions).backups]


async def history(ctx: UseCaseContext, phone: object, *, limit: int = 50, before: int | None = None) -> HistoryPage:
    number = normalise_phone(phone)
    top = ctx.options.history_limit_max
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= top:
        raise InvalidInput(f"limit must be a whole number from 1 to {top}", field="limit")
    if before is not None and (isinstance(before, bool) or not isinstance(before, int) or before < 1):
        raise InvalidInput("before must be a positive event id", field="before")
    account = await _account(ctx, number)
    assert account.id is not None
    async with ctx.db.unit_of_work() as uow:
        events = await uow.audit.events(account.id, limit=limit, before_id=before)
    next_before = events[-1].id if len(events) == limit else None
    return HistoryPage(number, events, next_before)


async def list_accounts(ctx: UseCaseContext, *, after: str | None = None, limit: int = 100) -> list[AccountSummary]:
    """Accounts ordered by creation, ``limit`` (1-1000) at a time, after the phone ``after``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InvalidInput("limit must be a whole number from 1 to 1000", field="limit")
    after_id = None
    if after is not None:
        after_id = (await _account(ctx, normalise_phone(after))).id
    async with ctx.db.unit_of_work() as uow:
        page = await uow.accounts.accounts_page(after_id=after_id, limit=limit)
    return [
        AccountSummary(a.phone, a.state.value, a.frozen, a.created_at, a.updated_at, a.last_updated, a.last_cleanup)
        for a in page
    ]


async def cache_stats(ctx: UseCaseContext) -> CacheStats:
    return await ctx.cache.stats()
