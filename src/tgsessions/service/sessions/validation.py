"""Validation of one session: verdict cache, circuit breaker, timeout, retries with backoff.

Only transient outcomes (``unknown``) are retried, and never a flood wait: that opens the breaker for exactly the
seconds Telegram asked for. Final verdicts (alive, dead, account_dead) are cached; unknown ones never are.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tgsessions.domain.clock import Sleep
from tgsessions.domain.metrics import Metrics, NoMetrics
from tgsessions.domain.model import Action, Session
from tgsessions.domain.policies import backoff_delay
from tgsessions.domain.ports import Clock, TelegramGateway, VerdictCache
from tgsessions.domain.verdict import Reason, Verdict
from tgsessions.service.options import FactoryOptions
from tgsessions.service.sessions.locked_account import LockedAccount


@dataclass(frozen=True, slots=True)
class Check:
    verdict: Verdict
    from_cache: bool


class Validator:
    def __init__(
        self,
        gateway: TelegramGateway,
        cache: VerdictCache,
        clock: Clock,
        options: FactoryOptions,
        *,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        self._gateway = gateway
        self._cache = cache
        self._clock = clock
        self._options = options
        self._sleep = sleep
        self._rand = rand

    async def cached(self, session: Session) -> Verdict | None:
        return await self._cache.get(session.session_id)

    async def check(self, work: LockedAccount, session: Session, *, use_cache: bool = True) -> Check:
        """The verdict on ``session`` now; records it on the session and, when Telegram was asked, as an event."""
        if use_cache:
            cached = await self._cache.get(session.session_id)
            if cached is not None:
                return Check(cached, from_cache=True)
        now = self._clock.now()
        if session.breaker_open(now):
            assert session.open_until is not None
            wait = (session.open_until - now).total_seconds()
            return Check(Verdict.unknown(Reason.BREAKER_OPEN, now, retry_after=wait), from_cache=False)
        verdict, opened = await self._ask_with_retries(work, session)
        self._metrics.verdict(verdict.kind.value, verdict.reason)
        if opened:
            self._metrics.breaker_opened()
        session.record(verdict)
        work.touch(session)
        work.event(
            Action.VALIDATED, verdict.checked_at, outcome=verdict.kind.value, session=session, reason=verdict.reason
        )
        if opened:
            assert session.open_until is not None
            work.event(
                Action.BREAKER_OPENED,
                verdict.checked_at,
                session=session,
                reason=verdict.reason,
                open_until=session.open_until.isoformat(),
            )
        if verdict.is_final:
            await self._cache.put(session.session_id, verdict)
        else:
            await self._cache.invalidate(session.session_id)
        return Check(verdict, from_cache=False)

    async def _ask_with_retries(self, work: LockedAccount, session: Session) -> tuple[Verdict, bool]:
        """Ask Telegram; retry transient outcomes with backoff. Every attempt feeds the breaker, and an opened
        breaker (or a flood wait) ends the retries. Returns the last verdict and whether the breaker opened."""
        retry = self._options.retry
        breaker = self._options.breaker
        for attempt in range(retry.attempts):
            if attempt:
                await self._sleep(
                    backoff_delay(attempt - 1, base=retry.base_delay, cap=retry.max_delay, rand=self._rand)
                )
            verdict = await self._ask_once(work, session)
            opened = breaker.apply(session, verdict)
            if verdict.is_final or opened or verdict.retry_after is not None:
                break
        return verdict, opened

    async def _ask_once(self, work: LockedAccount, session: Session) -> Verdict:
        try:
            async with asyncio.timeout(self._options.validation_timeout):
                return await self._gateway.validate(work.access(session))
        except TimeoutError:
            return Verdict.unknown(Reason.TIMEOUT, self._now())

    def _now(self) -> datetime:
        return self._clock.now()
