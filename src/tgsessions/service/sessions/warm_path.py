"""The warm path of fetch, served in small batches (group commit).

A warm fetch needs one read (the account and its primary) and one write (the ``handed_out`` audit row). Callers
that arrive while a batch is being written wait for the next one, and each batch is ONE transaction: every waiting
phone is read and every hand-out row is inserted before the single commit. A caller gets its string only after the
commit that holds its audit row succeeded (fail closed); if the commit fails, every caller in the batch gets the
error. A lone caller pays what it would pay alone; under load, transactions are shared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tgsessions.domain.errors import AccountBanned, UnknownPhone
from tgsessions.domain.model import Account, Action, Event, Session
from tgsessions.domain.ports import Clock, Database

MAX_BATCH = 64


@dataclass(slots=True)
class _Waiter:
    phone: str
    hint: str
    actor: str
    future: asyncio.Future[tuple[Account, Session] | None]


class WarmFetches:
    def __init__(self, db: Database, clock: Clock, forget_hint: Callable[[str], None]) -> None:
        self._db = db
        self._clock = clock
        self._forget = forget_hint
        self._waiting: list[_Waiter] = []
        self._writer: asyncio.Task[None] | None = None

    async def fetch(self, phone: str, hint: str, actor: str) -> tuple[Account, Session] | None:
        """The account and its primary when the primary is still ``hint`` (audited), else None (take the cold path).

        Raises UnknownPhone or AccountBanned for that phone, or the storage error of its batch.
        """
        future: asyncio.Future[tuple[Account, Session] | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiter(phone, hint, actor, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="warm-fetch-writer")
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                await self._serve(batch)
            except Exception as exc:  # the batch's transaction failed: nobody in it gets a string
                for waiter in batch:
                    if not waiter.future.done():
                        waiter.future.set_exception(exc)

    async def _serve(self, batch: list[_Waiter]) -> None:
        now = self._clock.now()
        answers: list[tuple[_Waiter, tuple[Account, Session] | Exception | None]] = []
        events: list[Event] = []
        async with self._db.unit_of_work() as uow:
            for waiter in batch:
                answer = self._judge(waiter, await uow.accounts.account_and_primary(waiter.phone), now)
                if isinstance(answer, tuple):
                    account, primary = answer
                    assert account.id is not None
                    events.append(Event(account.id, Action.HANDED_OUT, waiter.actor, "ok", now, primary.session_id,
                                        detail={"how": "cached"}))  # fmt: skip
                answers.append((waiter, answer))
            if events:
                await uow.audit.append_events(events)
                await uow.commit()
        for waiter, answer in answers:
            if waiter.future.done():
                continue
            if isinstance(answer, Exception):
                waiter.future.set_exception(answer)
            else:
                waiter.future.set_result(answer)

    def _judge(
        self, waiter: _Waiter, found: tuple[Account, Session | None] | None, now: datetime
    ) -> tuple[Account, Session] | Exception | None:
        if found is None or found[0].id is None:
            return UnknownPhone(waiter.phone)
        account, primary = found
        if account.is_banned:
            return AccountBanned(waiter.phone, account.state.value)
        if primary is None or primary.session_id != waiter.hint or primary.string is None:
            self._forget(waiter.phone)
            return None
        if primary.breaker_open(now):
            return None
        return account, primary

    async def aclose(self) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
