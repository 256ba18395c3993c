"""``import --validate``: every imported session checked at Telegram, a few at a time and paced.

Calls start at most ``per_second`` times a second overall, at most ``concurrency`` at once, each bounded by
``timeout``. Nothing is recorded on the sessions: the verdicts only feed the report (maintenance checks them again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from tgsessions.domain.errors import TgSessionsError
from tgsessions.domain.model import ClientIdentity, Proxy
from tgsessions.domain.ports import SessionAccess, TelegramGateway
from tgsessions.domain.secret import Secret
from tgsessions.domain.verdict import VerdictKind
from tgsessions.service.migration.import_report import DeadSession, ValidationCounts


@dataclass(frozen=True, slots=True)
class SessionCheck:
    source: str
    position: int
    phone: str
    session_id: str
    string: Secret
    identity: ClientIdentity
    proxy: Proxy | None


class PacedValidator:
    def __init__(self, gateway: TelegramGateway, *, concurrency: int, per_second: float, timeout: float) -> None:
        self._gateway = gateway
        self._gate = asyncio.Semaphore(max(1, concurrency))
        self._interval = 1.0 / per_second if per_second > 0 else 0.0
        self._timeout = timeout
        self._next_start = 0.0

    async def check_all(self, checks: Sequence[SessionCheck], counts: ValidationCounts) -> None:
        await asyncio.gather(*(self._check(item, counts) for item in checks))

    async def _check(self, item: SessionCheck, counts: ValidationCounts) -> None:
        loop = asyncio.get_running_loop()
        async with self._gate:
            start = max(loop.time(), self._next_start)
            self._next_start = start + self._interval
            await asyncio.sleep(start - loop.time())
            access = SessionAccess(item.string, item.phone, item.identity, item.proxy)
            try:
                async with asyncio.timeout(self._timeout):
                    verdict = await self._gateway.validate(access)
            except (TimeoutError, TgSessionsError):
                counts.unknown += 1
                return
        if verdict.kind is VerdictKind.ALIVE:
            counts.alive += 1
        elif verdict.kind is VerdictKind.UNKNOWN:
            counts.unknown += 1
        else:
            counts.dead += 1
            counts.dead_sessions.append(DeadSession(item.source, item.position, item.phone, item.session_id,
                                                    verdict.reason))  # fmt: skip
