"""The flows that change an account's pool under its lock: ensure a live primary, top up, clean up, revoke.

Rules (design.md, telegram.md): only dead verdicts retire a session and only account_dead marks the account; an
unknown verdict changes nothing. Nothing is ever deleted: retired sessions keep their record without the string.
"""

from __future__ import annotations

import asyncio

from tgsessions.domain.errors import (
    AccountBanned,
    AccountUnrecoverable,
    LoginBudgetSpent,
    MintFailed,
    TelegramUnavailable,
)
from tgsessions.domain.metrics import Metrics, NoMetrics
from tgsessions.domain.model import AccountState, Action, Role, Session
from tgsessions.domain.policies import mint_source_order, plan_cleanup
from tgsessions.domain.ports import Clock, Lease, TelegramGateway, VerdictCache
from tgsessions.domain.verdict import Reason, Verdict, VerdictKind
from tgsessions.service.options import FactoryOptions
from tgsessions.service.results import CleanupReport
from tgsessions.service.sessions.locked_account import LockedAccount
from tgsessions.service.sessions.minting import Minter
from tgsessions.service.sessions.validation import Check, Validator

BANNED_REASONS = {Reason.USER_BANNED, Reason.PHONE_BANNED}
DEFAULT_RETRY_AFTER = 30.0


class Recovery:
    def __init__(
        self,
        gateway: TelegramGateway,
        cache: VerdictCache,
        clock: Clock,
        options: FactoryOptions,
        validator: Validator,
        minter: Minter,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        self._gateway = gateway
        self._cache = cache
        self._clock = clock
        self._options = options
        self.validator = validator
        self.minter = minter

    async def ensure_primary(self, work: LockedAccount, lease: Lease) -> tuple[Session, str]:
        """A live primary and how it was obtained: "validated", "promoted" or "minted"."""
        self.refuse_banned(work)
        unknown: list[Verdict] = []
        primary = work.primary
        if primary is not None:
            checked = await self.inspect(work, primary)
            verdict = checked.verdict
            if verdict.is_alive:
                return primary, "cached" if checked.from_cache else "validated"
            if verdict.kind is VerdictKind.UNKNOWN:
                raise self.unavailable(work, [verdict])
            work.retire(primary, self._clock.now(), verdict.reason)
        for backup in work.backups:
            verdict = await self.check(work, backup)
            if verdict.is_alive:
                self.promote(work, backup)
                return backup, "promoted"
            if verdict.kind is VerdictKind.UNKNOWN:
                unknown.append(verdict)
            else:
                work.retire(backup, self._clock.now(), verdict.reason)
        tried = frozenset(s.session_id for s in work.backups)
        source = await self.mint_source(work, handed_out=None, unknown=unknown, checked=tried)
        if source is not None:
            minted = await self.minter.mint(work, source, role=Role.PRIMARY, fence=lease)
            self.primary_changed(work)
            return minted, "minted"
        if unknown:
            raise self.unavailable(work, unknown)
        self.mark(work, AccountState.UNRECOVERABLE, reason="no_live_session")
        raise AccountUnrecoverable(work.phone)

    async def check(self, work: LockedAccount, session: Session, *, use_cache: bool = True) -> Verdict:
        """Validate; an account_dead verdict marks the account and raises AccountBanned."""
        return (await self.inspect(work, session, use_cache=use_cache)).verdict

    async def inspect(self, work: LockedAccount, session: Session, *, use_cache: bool = True) -> Check:
        """Like :meth:`check`, and says whether the verdict came from the cache."""
        checked = await self.validator.check(work, session, use_cache=use_cache)
        verdict = checked.verdict
        if verdict.kind is VerdictKind.ACCOUNT_DEAD:
            state = AccountState.BANNED if verdict.reason in BANNED_REASONS else AccountState.DEACTIVATED
            self.mark(work, state, reason=verdict.reason)
            raise AccountBanned(work.phone, state.value)
        if verdict.is_alive and verdict.frozen != work.account.frozen:
            work.account.frozen = verdict.frozen
            work.touch_account()
        if verdict.is_alive and verdict.user_id is not None and verdict.user_id != work.account.user_id:
            work.account.user_id = verdict.user_id  # Pyrogram strings need it
            work.touch_account()
        return checked

    async def mint_source(
        self,
        work: LockedAccount,
        *,
        handed_out: str | None,
        unknown: list[Verdict] | None = None,
        checked: frozenset[str] = frozenset(),
    ) -> Session | None:
        """The first live session in :func:`mint_source_order` (keeper, then oldest mature), validated lazily.

        Sessions in ``checked`` were found not alive moments ago and are not asked again.
        """
        now = self._clock.now()
        for session in mint_source_order(work.sessions, now, handed_out=handed_out):
            if session.session_id in checked:
                continue
            verdict = await self.check(work, session)
            if verdict.is_alive:
                return session
            if verdict.kind is VerdictKind.UNKNOWN:
                if unknown is not None:
                    unknown.append(verdict)
            else:
                work.retire(session, now, verdict.reason)
        return None

    def promote(self, work: LockedAccount, backup: Session) -> None:
        now = self._clock.now()
        backup.role = Role.PRIMARY
        backup.role_since = now
        work.touch(backup)
        work.event(Action.PROMOTED, now, session=backup)
        self._metrics.promoted()
        self.primary_changed(work)

    def primary_changed(self, work: LockedAccount) -> None:
        work.account.last_updated = self._clock.now()
        if work.account.state is AccountState.UNRECOVERABLE:
            self.mark(work, AccountState.ACTIVE, reason="live_session_found")
        work.touch_account()

    def mark(self, work: LockedAccount, state: AccountState, *, reason: str) -> None:
        if work.account.state is state:
            return
        previous = work.account.state
        work.account.state = state
        work.touch_account()
        work.event(Action.STATE_CHANGED, self._clock.now(), outcome=state.value, reason=reason, previous=previous.value)

    def refuse_banned(self, work: LockedAccount) -> None:
        if work.account.is_banned:
            raise AccountBanned(work.phone, work.account.state.value)

    def unavailable(self, work: LockedAccount, verdicts: list[Verdict]) -> TelegramUnavailable:
        waits = [v.retry_after for v in verdicts if v.retry_after]
        reasons = sorted({v.reason for v in verdicts})
        return TelegramUnavailable(
            f"Telegram could not confirm a session of {work.phone} now ({', '.join(reasons)}); nothing was changed",
            retry_after=max(waits) if waits else DEFAULT_RETRY_AFTER,
            phone=work.phone,
        )

    async def top_up(self, work: LockedAccount, lease: Lease, target: int) -> int:
        """Mint backups until ``target`` exist, leaving the login reserve for fetch. Returns how many were minted."""
        if work.account.state is not AccountState.ACTIVE or work.primary is None:
            return 0
        needed = target - len(work.backups)
        if needed <= 0:
            return 0
        source = await self.mint_source(work, handed_out=work.primary.session_id)
        if source is None:
            return 0
        minted = 0
        for _ in range(needed):
            try:
                await self.minter.mint(work, source, role=Role.BACKUP, fence=lease, reserve=self._options.login_reserve)
            except (LoginBudgetSpent, MintFailed, TelegramUnavailable):
                break
            minted += 1
        return minted

    async def enforce_limit(self, work: LockedAccount) -> list[str]:
        """Revoke and retire the oldest backups beyond ``max_backups``. Returns the session_ids retired."""
        retired = []
        for session in work.backups[self._options.max_backups :]:
            if await self.revoke(work, session):
                retired.append(session.session_id)
        return retired

    async def cleanup(self, work: LockedAccount, max_backups: int) -> CleanupReport:
        now = self._clock.now()
        backups = [(b, await self.check(work, b)) for b in work.backups]
        others = 0
        for session in (work.primary, work.keeper):
            if session is not None and (await self.check(work, session)).is_alive:
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
