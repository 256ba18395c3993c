"""PacedGateway: a TelegramGateway decorator that keeps maintenance's Telegram calls under its rates, and honours the
flood waits Telegram answers.

Maintenance visits every account with several workers at once, and a burst of calls from one address, towards one
data centre or on one account is what makes Telegram answer with flood waits. The runner therefore talks to
Telegram through this decorator; fetch does not (a caller waiting for a session must not queue behind the
background job).

Each limit is a token bucket (``domain.token_bucket``): ``calls_per_second`` overall and ``route_calls_per_second``
per route (a data centre, or a proxy: see routes.py), each with a burst of one second's worth, and
``account_calls_per_minute`` per phone with a burst of one minute's worth (so one account's handful of checks goes
out at once, and an account is never asked more than that per minute). A call takes a token from its account's
bucket, then its route's, then the overall one, sleeping until each has one — so a call held back by its account
or its route does not sit on a share of the wider rate meanwhile. Tokens are reserved synchronously (a bucket may go
below zero), so concurrent workers queue in order without a lock. A rate of 0 means no limit.

Flood waits: a validation answered ``flood_wait`` (or a revoke or listing refused with TelegramUnavailable) pauses
the call's route (at most ``ROUTE_PAUSE_CAP``: one account's long ban must not stop a whole data centre) and its
account for the seconds Telegram asked; a refused mint pauses its account only (a spent login budget says nothing
about the route). A call that meets a pause waits for it, but never longer than ``max_wait`` (a quarter of the
validation timeout, so pacing never eats the call's own timeout): longer pauses are honoured between the steps of
an account, where the sweep sets the account aside until :meth:`Pacer.paused_for` says the pause is over, and
workers go on with the accounts of the other routes. No verdict is ever invented here.

Time and sleep are injected: tests run on a fake clock (a clock that goes backwards restarts the count instead of
stalling).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from tgsessions.domain.clock import Sleep
from tgsessions.domain.errors import TelegramUnavailable
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import Authorization, MintedSession, SessionAccess, TelegramGateway
from tgsessions.domain.secret import Secret
from tgsessions.domain.token_bucket import TokenBucket  # the buckets (tests import it from here too)
from tgsessions.domain.verdict import Reason, Verdict
from tgsessions.service.maintenance.routes import route_of

Monotonic = Callable[[], float]

MAX_IDLE_BUCKETS = 10_000  # per-account (or per-proxy) buckets kept before full (idle) ones are forgotten
ROUTE_PAUSE_CAP = 120.0  # seconds: the longest a flood wait of one account pauses its whole route


class Pacer:
    """The buckets: one overall, one per route and one per phone (created on first use), and the flood pauses."""

    def __init__(
        self,
        *,
        calls_per_second: float = 0.0,
        route_calls_per_second: float = 0.0,
        account_calls_per_minute: float = 0.0,
        max_wait: float = 2.5,
        sleep: Sleep = asyncio.sleep,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self.sleep = sleep
        self.monotonic = monotonic
        self.max_wait = max_wait
        self._overall = _Buckets(calls_per_second, max(1.0, calls_per_second))
        self._routes = _Buckets(route_calls_per_second, max(1.0, route_calls_per_second))
        self._accounts = _Buckets(account_calls_per_minute / 60.0, max(1.0, account_calls_per_minute))
        self._paused: dict[str, float] = {}  # "route <r>" / "phone <p>" -> monotonic time the pause ends
        self.waited = 0.0  # seconds spent waiting so far, summed over concurrent callers (for reports and tests)

    @property
    def enabled(self) -> bool:
        """Whether any rate is set (flood pauses are honoured either way)."""
        return any(b.rate > 0 for b in (self._overall, self._routes, self._accounts))

    async def acquire(self, phone: str, route: str = "") -> None:
        """Wait until one more call on ``phone`` over ``route`` fits: its pauses (up to ``max_wait``), then the
        account's token, the route's and the overall one."""
        pause = self.paused_for(route, phone)
        if pause > 0:
            await self._wait(min(pause, self.max_wait))
        for buckets, key in ((self._accounts, phone), (self._routes, route), (self._overall, "")):
            bucket = buckets.bucket(key, self.monotonic())
            if bucket is not None:
                await self._wait(bucket.reserve(self.monotonic()))

    def pause(self, route: str | None, phone: str, seconds: float) -> None:
        """Telegram asked to wait ``seconds``: pause the account and (capped, unless None) the route."""
        now = self.monotonic()
        if len(self._paused) >= MAX_IDLE_BUCKETS:
            self._paused = {key: until for key, until in self._paused.items() if until > now}
        self._extend(f"phone {phone}", now + seconds)
        if route is not None:
            self._extend(f"route {route}", now + min(seconds, ROUTE_PAUSE_CAP))

    @property
    def pausing(self) -> bool:
        """Whether any pause was recorded (cheap: lets callers skip looking up a route)."""
        return bool(self._paused)

    def paused_for(self, route: str, phone: str) -> float:
        """Seconds left of the longer pause of ``route`` and ``phone`` (0 when neither is paused)."""
        if not self._paused:
            return 0.0
        now = self.monotonic()
        ends = max(self._paused.get(f"route {route}", now), self._paused.get(f"phone {phone}", now))
        return max(0.0, ends - now)

    def _extend(self, key: str, until: float) -> None:
        self._paused[key] = max(until, self._paused.get(key, until))

    async def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.waited += seconds
            await self.sleep(seconds)


class _Buckets:
    """Token buckets of one kind, by key, all with one rate and capacity (none when the rate is 0)."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self._capacity = capacity
        self._by_key: dict[str, TokenBucket] = {}

    def bucket(self, key: str, now: float) -> TokenBucket | None:
        if self.rate <= 0:
            return None
        found = self._by_key.get(key)
        if found is None:
            if len(self._by_key) >= MAX_IDLE_BUCKETS:
                self._by_key = {k: b for k, b in self._by_key.items() if not b.full(now)}
            found = self._by_key[key] = TokenBucket(self.rate, self._capacity, now)
        return found


class PacedGateway:
    """Any TelegramGateway, with every call paced by a :class:`Pacer` (by the account's phone and the call's
    route), and every flood wait it meets told to the pacer."""

    def __init__(self, inner: TelegramGateway, pacer: Pacer) -> None:
        self._inner = inner
        self.pacer = pacer
        self.backend = inner.backend

    def __repr__(self) -> str:
        return f"PacedGateway({self._inner!r})"

    async def validate(self, access: SessionAccess) -> Verdict:
        route = await self._enter(access)
        verdict = await self._inner.validate(access)
        if verdict.reason == Reason.FLOOD_WAIT and verdict.retry_after:
            self.pacer.pause(route, access.phone, verdict.retry_after)
        return verdict

    async def mint(
        self, source: SessionAccess, *, new_identity: ClientIdentity, two_fa: Secret | None
    ) -> MintedSession:
        await self._enter(source)
        try:
            return await self._inner.mint(source, new_identity=new_identity, two_fa=two_fa)
        except TelegramUnavailable as exc:  # a refused login: this account's budget or flood, not the route's
            self.pacer.pause(None, source.phone, exc.retry_after)
            raise

    async def log_out(self, access: SessionAccess) -> None:
        route = await self._enter(access)
        try:
            await self._inner.log_out(access)
        except TelegramUnavailable as exc:
            self.pacer.pause(route, access.phone, exc.retry_after)
            raise

    async def revoke_other(self, source: SessionAccess, auth_hash: int) -> None:
        route = await self._enter(source)
        try:
            await self._inner.revoke_other(source, auth_hash)
        except TelegramUnavailable as exc:
            self.pacer.pause(route, source.phone, exc.retry_after)
            raise

    async def authorizations(self, access: SessionAccess) -> Sequence[Authorization]:
        route = await self._enter(access)
        try:
            return await self._inner.authorizations(access)
        except TelegramUnavailable as exc:
            self.pacer.pause(route, access.phone, exc.retry_after)
            raise

    async def _enter(self, access: SessionAccess) -> str:
        route = route_of(access)
        await self.pacer.acquire(access.phone, route)
        return route
