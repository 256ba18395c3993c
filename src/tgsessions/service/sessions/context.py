"""What every use case shares: the ports, the options, the lock, and a locked unit of work on one account."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from tgsessions.domain.clock import Sleep
from tgsessions.domain.errors import InvalidInput, UnknownPhone
from tgsessions.domain.metrics import Metrics, NoMetrics
from tgsessions.domain.model import Session
from tgsessions.domain.ports import Cipher, Clock, Database, Lease, TelegramGateway, VerdictCache
from tgsessions.domain.secret import Secret
from tgsessions.service.options import FactoryOptions
from tgsessions.service.results import SessionInfo
from tgsessions.service.sessions.checks import SessionChecks
from tgsessions.service.sessions.cleanup import Cleanup
from tgsessions.service.sessions.locked_account import LockedAccount
from tgsessions.service.sessions.minting import Minter
from tgsessions.service.sessions.phone_locks import Hold, PhoneLocks
from tgsessions.service.sessions.promotion import Promotion
from tgsessions.service.sessions.top_up import TopUp
from tgsessions.service.sessions.validation import Validator
from tgsessions.service.sessions.warm_path import WarmFetches

log = logging.getLogger("tgsessions.factory")

MAX_SESSION_LENGTH = 4096


class PrimaryHints:
    """phone -> session_id of the primary this process last handed out. Only a hint: it lets a fetch skip the
    lock-free warm path when the verdict cache cannot be warm, and the warm path re-checks it against the database."""

    def __init__(self, limit: int = 100_000) -> None:
        self._limit = limit
        self._hints: dict[str, str] = {}

    def get(self, phone: str) -> str | None:
        return self._hints.get(phone)

    def set(self, phone: str, session_id: str) -> None:
        if len(self._hints) >= self._limit and phone not in self._hints:
            self._hints.clear()
        self._hints[phone] = session_id

    def forget(self, phone: str) -> None:
        self._hints.pop(phone, None)


@dataclass
class UseCaseContext:
    db: Database
    gateway: TelegramGateway
    cache: VerdictCache
    cipher: Cipher
    clock: Clock
    options: FactoryOptions
    locks: PhoneLocks
    minter: Minter
    checks: SessionChecks  # validate, and act on what Telegram says of the account
    promotion: Promotion  # a live primary: validated, promoted or minted
    cleanup: Cleanup  # dead retired, the limit enforced, revocation
    top_up: TopUp  # backups minted up to the target
    warm: WarmFetches
    primary_hints: PrimaryHints = field(default_factory=lambda: PrimaryHints())
    metrics: Metrics = field(default_factory=NoMetrics)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    def build(
        cls,
        *,
        db: Database,
        gateway: TelegramGateway,
        cache: VerdictCache,
        cipher: Cipher,
        clock: Clock,
        options: FactoryOptions,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        lock_holder: str | None = None,
        metrics: Metrics | None = None,
    ) -> UseCaseContext:
        metrics = metrics or NoMetrics()
        validator = Validator(gateway, cache, clock, options, sleep=sleep, rand=rand, metrics=metrics)
        minter = Minter(db, gateway, cipher, clock, options, sleep=sleep, rand=rand, metrics=metrics)
        checks = SessionChecks(validator, clock)
        promotion = Promotion(checks, minter, clock, metrics=metrics)
        cleanup = Cleanup(checks, gateway, cache, clock, options)
        top_up = TopUp(promotion, minter, options)
        locks = PhoneLocks(db.leases, ttl=options.lease_ttl, wait=options.lease_wait, holder=lock_holder)
        hints = PrimaryHints()
        warm = WarmFetches(db, clock, hints.forget)
        return cls(db, gateway, cache, cipher, clock, options, locks, minter, checks, promotion, cleanup, top_up, warm,
                   hints, metrics)  # fmt: skip

    @asynccontextmanager
    async def working(self, phone: str, actor: str) -> AsyncIterator[tuple[LockedAccount, Lease]]:
        """Hold the phone, load its account, and write what the block collected (also when it raises a
        domain error, so retirements and verdicts are kept). If that write fails, the block's result is lost."""
        async with self.locks.hold(phone) as hold:
            try:
                work = await LockedAccount.load(self.db, phone, actor)
            except UnknownPhone:
                await self.db.leases.forget(hold.lease)  # no row left behind for a phone that is not stored
                hold.released = True
                raise
            try:
                yield work, hold.lease
            except Exception:
                await self._final_flush(work, hold)
                raise
            await self._final_flush(work, hold)

    async def _final_flush(self, work: LockedAccount, hold: Hold) -> None:
        if work.has_changes:
            await work.flush(self.db, hold.lease, now=self.clock.now(), release=True)
            hold.released = True
        for reason in work.quarantine_reasons:
            self.metrics.quarantined(reason)
        work.quarantine_reasons.clear()

    def spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("background task %s failed: %s", task.get_name(), type(exc).__name__)

    async def drain(self) -> None:
        """Wait for the background work (top-ups) started so far."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        await self.warm.aclose()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def info(self, session: Session) -> SessionInfo:
        return session_info(session, self.clock.now().timestamp())


def session_info(session: Session, now_ts: float) -> SessionInfo:
    return SessionInfo(
        session_id=session.session_id,
        role=session.role.value,
        origin=session.origin.value,
        created_at=session.created_at,
        role_since=session.role_since,
        age_seconds=round(now_ts - session.created_at.timestamp(), 3),
        verdict=session.verdict.value if session.verdict else None,
        verdict_reason=session.verdict_reason,
        verdict_at=session.verdict_at,
        breaker_open_until=session.open_until,
    )


def as_secret(value: object, *, field: str, password: bool = False) -> Secret:
    """A submitted session string or password as a Secret; InvalidInput (without echoing it) when malformed."""
    if isinstance(value, Secret):
        value = value.reveal()
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    text = value if password else value.strip()
    if not text:
        raise InvalidInput(f"{field} is empty", field=field)
    if len(text) > MAX_SESSION_LENGTH:
        raise InvalidInput(f"{field} is too long (at most {MAX_SESSION_LENGTH} characters)", field=field)
    if not text.isprintable() or (not password and any(c.isspace() for c in text)):
        raise InvalidInput(f"{field} contains whitespace or control characters", field=field)
    return Secret(text)
