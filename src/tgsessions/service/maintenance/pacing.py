"""PacedGateway: a TelegramGateway decorator that keeps Telegram calls under a rate, overall and per account.

Maintenance visits every account, and a burst of calls from one IP or on one account is what makes Telegram answer
with flood waits. The runner therefore talks to Telegram through this decorator; fetch does not (a caller waiting
for a session must not queue behind the background job).

Each limit is a token bucket: ``calls_per_second`` overall with a burst of one second's worth, and
``account_calls_per_minute`` per phone with a burst of one minute's worth (so one account's handful of checks goes
out at once, and an account is never asked more than that per minute). A call takes a token from its account's
bucket, then one from the overall bucket, sleeping until each has one. Tokens are reserved synchronously (a bucket
may go below zero), so concurrent callers queue in order without a lock. A rate of 0 means no limit. Time and sleep
are injected: tests run on a fake clock (and a clock that goes backwards restarts the count instead of stalling).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from tgsessions.domain.clock import Sleep
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import Authorization, MintedSession, SessionAccess, TelegramGateway
from tgsessions.domain.secret import Secret
from tgsessions.domain.token_bucket import TokenBucket  # the buckets (tests import it from here too)
from tgsessions.domain.verdict import Verdict

Monotonic = Callable[[], float]

MAX_IDLE_BUCKETS = 10_000  # per-account buckets kept before full (idle) ones are forgotten


class Pacer:
    """The buckets: one overall, one per phone (created on first use)."""

    def __init__(
        self,
        *,
        calls_per_second: float = 0.0,
        account_calls_per_minute: float = 0.0,
        sleep: Sleep = asyncio.sleep,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self._sleep = sleep
        self._monotonic = monotonic
        self._account_rate = account_calls_per_minute / 60.0
        self._account_capacity = max(1.0, account_calls_per_minute)
        now = monotonic()
        self._overall = TokenBucket(calls_per_second, max(1.0, calls_per_second), now) if calls_per_second > 0 else None
        self._accounts: dict[str, TokenBucket] = {}
        self.waited = 0.0  # seconds spent waiting so far (for reports and tests)

    @property
    def enabled(self) -> bool:
        return self._overall is not None or self._account_rate > 0

    def _account_bucket(self, phone: str, now: float) -> TokenBucket | None:
        if self._account_rate <= 0:
            return None
        bucket = self._accounts.get(phone)
        if bucket is None:
            if len(self._accounts) >= MAX_IDLE_BUCKETS:
                self._accounts = {p: b for p, b in self._accounts.items() if not b.full(now)}
            bucket = self._accounts[phone] = TokenBucket(self._account_rate, self._account_capacity, now)
        return bucket

    async def acquire(self, phone: str) -> None:
        """Wait until one more call on ``phone`` fits under both limits: the account's token first, then the overall
        one (so a call held back by its account does not sit on a share of the overall rate meanwhile)."""
        bucket = self._account_bucket(phone, self._monotonic())
        if bucket is not None:
            await self._wait(bucket.reserve(self._monotonic()))
        if self._overall is not None:
            await self._wait(self._overall.reserve(self._monotonic()))

    async def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.waited += seconds
            await self._sleep(seconds)


class PacedGateway:
    """Any TelegramGateway, with every call paced by a :class:`Pacer` (keyed by the account's phone)."""

    def __init__(self, inner: TelegramGateway, pacer: Pacer) -> None:
        self._inner = inner
        self.pacer = pacer
        self.backend = inner.backend

    def __repr__(self) -> str:
        return f"PacedGateway({self._inner!r})"

    async def validate(self, access: SessionAccess) -> Verdict:
        await self.pacer.acquire(access.phone)
        return await self._inner.validate(access)

    async def mint(
        self, source: SessionAccess, *, new_identity: ClientIdentity, two_fa: Secret | None
    ) -> MintedSession:
        await self.pacer.acquire(source.phone)
        return await self._inner.mint(source, new_identity=new_identity, two_fa=two_fa)

    async def log_out(self, access: SessionAccess) -> None:
        await self.pacer.acquire(access.phone)
        await self._inner.log_out(access)

    async def revoke_other(self, source: SessionAccess, auth_hash: int) -> None:
        await self.pacer.acquire(source.phone)
        await self._inner.revoke_other(source, auth_hash)

    async def authorizations(self, access: SessionAccess) -> Sequence[Authorization]:
        await self.pacer.acquire(access.phone)
        return await self._inner.authorizations(access)
