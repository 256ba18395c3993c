"""Minting a brand-new session from a live one, inside the account's login budget.

Every attempt is written down (durably, before Telegram is called) and counts against the budget, successful or
not: that record is the mint's *intent*. The budget is checked before each attempt, so a spent budget refuses
without calling Telegram. Transient failures are retried with backoff while the budget allows; a flood wait, a wrong
2FA password or a dead source are not retried.

A minted session is stored (encrypted, with its ``minted`` event) before the mint returns, and nothing else happens
in between. The intent is closed (``reconciled``) in the same write when that attempt was the only one open; after
a failed attempt, or when older attempts are still open, reconciliation (reconciliation.py) first resets whatever
they left at Telegram. A mint that dies half-way leaves its intent open for start-up and maintenance to reconcile.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import timedelta

from tgsessions.domain.clock import Sleep
from tgsessions.domain.errors import LoginBudgetSpent, MintFailed, TelegramUnavailable, TgSessionsError
from tgsessions.domain.metrics import Metrics, NoMetrics
from tgsessions.domain.model import Action, Origin, Role, Session
from tgsessions.domain.policies import backoff_delay
from tgsessions.domain.ports import Cipher, Clock, Database, Lease, MintedSession, TelegramGateway
from tgsessions.domain.session_codec import SessionFormat
from tgsessions.domain.verdict import Verdict
from tgsessions.service.options import FactoryOptions
from tgsessions.service.session_strings import session_id_of
from tgsessions.service.sessions.locked_account import LockedAccount
from tgsessions.service.sessions.reconciliation import Reconciler

log = logging.getLogger("tgsessions.minting")

SHORT_FLOOD = 5.0  # a flood wait this short is retried after waiting it out; longer ones are returned


class Minter:
    def __init__(
        self,
        db: Database,
        gateway: TelegramGateway,
        cipher: Cipher,
        clock: Clock,
        options: FactoryOptions,
        *,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        self._db = db
        self._gateway = gateway
        self._cipher = cipher
        self._clock = clock
        self._options = options
        self._sleep = sleep
        self._rand = rand
        self.reconciler = Reconciler(db, gateway, clock, options)

    async def budget_left(self, work: LockedAccount) -> tuple[int, float]:
        """Attempts left in the rolling window, and seconds until one more fits when none is left."""
        budget = self._options.login_budget
        now = self._clock.now()
        async with self._db.unit_of_work() as uow:
            times = await uow.audit.event_times(work.account_id, Action.LOGIN_ATTEMPT, now - budget.window)
        return budget.remaining(len(times)), budget.retry_after(times, now)

    async def mint(
        self, work: LockedAccount, source: Session, *, role: Role, fence: Lease, reserve: int = 0
    ) -> Session:
        """Mint from ``source`` and add the new session to ``work`` with ``role``; raise when it cannot be done."""
        retry = self._options.retry
        last: Exception | None = None
        for attempt in range(retry.attempts):
            remaining, wait = await self.budget_left(work)
            if remaining <= reserve:
                self._metrics.login_budget_refused()
                await work.flush(self._db, fence, now=self._clock.now())
                kept = f" ({reserve} kept for fetch)" if reserve else ""
                raise LoginBudgetSpent(
                    f"login budget of account {work.phone} is spent{kept}: at most "
                    f"{self._options.login_budget.limit} logins per {self._window_text()}",
                    retry_after=max(wait, 1.0),
                    phone=work.phone,
                )
            now = self._clock.now()
            work.event(Action.LOGIN_ATTEMPT, now, session=source, attempt=attempt + 1)
            await work.flush(self._db, fence, now=now)  # counted before Telegram is asked
            try:
                async with asyncio.timeout(self._options.mint_timeout):
                    minted = await self._gateway.mint(
                        work.access(source), new_identity=work.account.identity, two_fa=work.account.two_fa
                    )
            except TimeoutError as exc:
                last = MintFailed(
                    f"minting for {work.phone} timed out", reason="timeout", transient=True, phone=work.phone
                )
                last.__cause__ = exc
            except TelegramUnavailable as exc:
                last = exc
                if exc.retry_after > SHORT_FLOOD:
                    self._record_failure(work, source, exc.reason)
                    await self._settle(work, fence, clean=False)
                    raise
            except MintFailed as exc:
                last = exc
                if not exc.transient:
                    self._record_failure(work, source, exc.reason)
                    await self._settle(work, fence, clean=False)
                    raise
            else:
                session = self._adopt(work, source, minted, role)
                await work.flush(self._db, fence, now=self._clock.now())  # stored before anything else happens
                await self._settle(work, fence, clean=attempt == 0)  # no earlier attempt of this mint failed
                return session
            self._record_failure(work, source, getattr(last, "reason", "telegram_unavailable"))
            if attempt + 1 < retry.attempts:
                await self._sleep(backoff_delay(attempt, base=retry.base_delay, cap=retry.max_delay, rand=self._rand))
        assert last is not None
        await self._settle(work, fence, clean=False)
        raise last

    async def _settle(self, work: LockedAccount, fence: Lease, *, clean: bool) -> None:
        """Close the account's mint intents: at once when this clean attempt is the only one open, else by
        reconciling (best effort: what is not done now stays open for start-up and maintenance)."""
        async with self._db.unit_of_work() as uow:
            attempts = await uow.audit.open_login_attempts(work.account_id)
        if clean and len(attempts) <= 1:
            work.event(Action.RECONCILED, self._clock.now(), attempts=len(attempts), revoked=0)
            await work.flush(self._db, fence, now=self._clock.now())
            return
        try:
            await self.reconciler.reconcile(work, fence)
        except TgSessionsError as exc:
            log.info("reconciling %s after a mint: %s", work.phone, exc.code)

    def _adopt(self, work: LockedAccount, source: Session, minted: MintedSession, role: Role) -> Session:
        now = self._clock.now()
        session = Session(
            session_id=session_id_of(self._cipher, minted.string),
            account_id=work.account_id,
            role=role,
            origin=Origin.MINTED,
            identity=minted.identity,
            created_at=now,
            role_since=now,
            string=minted.string,
            auth_hash=minted.auth_hash,
            source_format=SessionFormat.TELETHON,
        )
        session.record(Verdict.alive(now))
        work.add(session)
        self._metrics.minted(minted.method)
        work.event(Action.MINTED, now, session=session, method=minted.method, source=source.session_id, role=role.value)
        return session

    def _record_failure(self, work: LockedAccount, source: Session, reason: str) -> None:
        self._metrics.mint_failed(reason)
        named: dict[str, str] = {}
        if ":" in reason:  # "<step>:<Telegram's error name>", e.g. send_code:PHONE_NUMBER_FLOOD
            named["step"], named["error"] = reason.split(":", 1)
        work.event(Action.MINT_FAILED, self._clock.now(), outcome="failed", session=source, reason=reason, **named)

    def _window_text(self) -> str:
        window = self._options.login_budget.window
        hours = window / timedelta(hours=1)
        return f"{hours:g} h"
