"""Checking a session, and acting on what Telegram says about the account.

A check validates (see validation.py: cache, breaker, timeout, retries) and then applies the account-level rules:
an ``account_dead`` verdict marks the account banned or deactivated and raises AccountBanned; a live verdict
records whether the account is frozen and its user id. Only dead verdicts retire a session (the callers do that);
an unknown verdict changes nothing.
"""

from __future__ import annotations

from tgsessions.domain.errors import AccountBanned, TelegramUnavailable
from tgsessions.domain.model import AccountState, Action, Session
from tgsessions.domain.ports import Clock
from tgsessions.domain.verdict import Reason, Verdict, VerdictKind
from tgsessions.service.sessions.locked_account import LockedAccount
from tgsessions.service.sessions.validation import Check, Validator

BANNED_REASONS = {Reason.USER_BANNED, Reason.PHONE_BANNED}
DEFAULT_RETRY_AFTER = 30.0


class SessionChecks:
    def __init__(self, validator: Validator, clock: Clock) -> None:
        self.validator = validator
        self._clock = clock

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

    def mark(self, work: LockedAccount, state: AccountState, *, reason: str) -> None:
        if work.account.state is state:
            return
        previous = work.account.state
        work.account.state = state
        work.touch_account()
        work.event(Action.STATE_CHANGED, self._clock.now(), outcome=state.value, reason=reason, previous=previous.value)

    def primary_changed(self, work: LockedAccount) -> None:
        """The account has a new live primary: note when, and an unrecoverable account is active again."""
        work.account.last_updated = self._clock.now()
        if work.account.state is AccountState.UNRECOVERABLE:
            self.mark(work, AccountState.ACTIVE, reason="live_session_found")
        work.touch_account()

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
