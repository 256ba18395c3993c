"""A TelegramGateway decorator that reports every call's latency by kind and outcome to the Metrics port."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from tgsessions.domain.errors import TgSessionsError
from tgsessions.domain.metrics import Metrics
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import Authorization, MintedSession, SessionAccess, TelegramGateway
from tgsessions.domain.secret import Secret
from tgsessions.domain.verdict import Verdict

T = TypeVar("T")


class MeasuredGateway:
    def __init__(self, inner: TelegramGateway, metrics: Metrics) -> None:
        self.inner = inner
        self.backend = inner.backend
        self._metrics = metrics

    def __repr__(self) -> str:
        return f"MeasuredGateway({self.inner!r})"

    async def _timed(self, kind: str, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await call
        except TgSessionsError as exc:
            outcome = exc.code
            raise
        else:
            outcome = result.kind.value if isinstance(result, Verdict) else "ok"
            return result
        finally:
            self._metrics.telegram_call(kind, time.perf_counter() - started, outcome)

    async def validate(self, access: SessionAccess) -> Verdict:
        return await self._timed("validate", self.inner.validate(access))

    async def mint(
        self, source: SessionAccess, *, new_identity: ClientIdentity, two_fa: Secret | None
    ) -> MintedSession:
        return await self._timed("mint", self.inner.mint(source, new_identity=new_identity, two_fa=two_fa))

    async def log_out(self, access: SessionAccess) -> None:
        await self._timed("log_out", self.inner.log_out(access))

    async def revoke_other(self, source: SessionAccess, auth_hash: int) -> None:
        await self._timed("revoke_other", self.inner.revoke_other(source, auth_hash))

    async def authorizations(self, access: SessionAccess) -> Sequence[Authorization]:
        return await self._timed("authorizations", self.inner.authorizations(access))
