"""Cleanup and revocation: dead backups retired, live ones beyond the limit logged out at Telegram, then retired.

The last live session of an account is never touched, and a backup whose verdict is unknown is kept
(:func:`~tgsessions.domain.policies.plan_cleanup`). A revocation Telegram cannot do now is deferred: nothing changes
and a ``revoked`` event with outcome ``deferred`` says so.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from tgsessions.domain.errors import InvalidInput, MintFailed, TelegramUnavailable
from tgsessions.domain.model import Action, Session
from tgsessions.domain.phone import normalise_phone
from tgsessions.domain.policies import plan_cleanup
from tgsessions.domain.ports import Clock, TelegramGateway, VerdictCache
from tgsessions.service.options import FactoryOptions
from tgsessions.service.results import CleanupReport
from tgsessions.service.sessions.checks import SessionChecks
from tgsessions.service.sessions.locked_account import LockedAccount

if TYPE_CHECKING:
    from tgsessions.service.sessions.context import UseCaseContext

MAX_CLEANUP_LIMIT = 20


async def cleanup_sessions(
    ctx: UseCaseContext, phone: object, max_backups: int | None = None, *, actor: str
) -> CleanupReport:
    """The cleanup use case: ``max_backups`` (0-20, default ``cleanup_default``) live backups kept."""
    number = normalise_phone(phone)
    limit = ctx.options.cleanup_default if max_backups is None else max_backups
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_CLEANUP_LIMIT:
        raise InvalidInput(f"maxSessions must be a whole number from 0 to {MAX_CLEANUP_LIMIT}", field="maxSessions")
    async with ctx.working(number, actor) as (work, _lease):
        ctx.checks.refuse_banned(work)
        return await ctx.cleanup.cleanup(work, limit)


class Cleanup:
    def __init__(
        self, checks: SessionChecks, gateway: TelegramGateway, cache: VerdictCache, clock: Clock,
        options: FactoryOptions,
    ) -> None:  # fmt: skip
        self._checks = checks
        self._gateway = gateway
        self._cache = cache
        self._clock = clock
        self._options = options

    async def cleanup(self, work: LockedAccount, max_backups: int) -> CleanupReport:
        now = self._clock.now()
        backups = [(b, await self._checks.check(work, b)) for b in work.pool.backups]
        others = 0
        for session in (work.pool.primary, work.pool.keeper):
            if session is not None and (await self._checks.check(work, session)).is_alive:
                others += 1
        plan = plan_cleanup(backups, max_backups, other_live_sessions=others)
        verdicts = {s.session_id: v for s, v in backups}
        report = CleanupReport(work.phone, max_backups, kept=[s.session_id for s in plan.keep])
        for session in plan.retire_dead:
            work.retire(session, now, verdicts[session.session_id].reason)
            report.retired_dead.append(session.session_id)
        for session in plan.revoke:
            target = report.revoked if await self.revoke(work, session) else report.deferred
            target.append(session.session_id)
        work.account.last_cleanup = self._clock.now()
        work.touch_account()
        work.event(
            Action.CLEANUP,
            self._clock.now(),
            max_backups=max_backups,
            retired=len(report.retired_dead),
            revoked=len(report.revoked),
            deferred=len(report.deferred),
        )
        return report

    async def enforce_limit(self, work: LockedAccount) -> list[str]:
        """Revoke and retire the oldest backups beyond ``max_backups``. Returns the session_ids retired."""
        retired = []
        for session in work.pool.beyond_limit(self._options.max_backups):
            if await self.revoke(work, session):
                retired.append(session.session_id)
        return retired

    async def revoke(self, work: LockedAccount, session: Session) -> bool:
        """Log the session out at Telegram, then retire it. False (nothing changed) when Telegram cannot now."""
        try:
            async with asyncio.timeout(self._options.revoke_timeout):
                await self._gateway.log_out(work.access(session))
        except (TimeoutError, TelegramUnavailable, MintFailed) as exc:
            reason = getattr(exc, "reason", None) or type(exc).__name__
            work.event(Action.REVOKED, self._clock.now(), outcome="deferred", session=session, reason=str(reason))
            return False
        await self._cache.invalidate(session.session_id)
        work.event(Action.REVOKED, self._clock.now(), session=session)
        work.retire(session, self._clock.now(), "revoked")
        return True
