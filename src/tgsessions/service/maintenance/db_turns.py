"""TurnTakingDatabase: the database as maintenance uses it — its workers take turns, so a fetch never queues behind
all of them.

A run has many workers, and each of them reads and writes its account (the phone lease, the account and its
sessions, the changes). Storage serves callers in order: with SQLite there is one connection per process, so a fetch
arriving while every worker waits for it would wait for all of their transactions first; PostgreSQL has a pool, but
a fetch's commit still queues behind the workers' commits on the server. Here maintenance's units of work and lease
calls take turns (``permits``, default one at a time), so at most that many of them are ahead of any fetch,
whatever the number of workers; the workers' Telegram calls, which take most of their time, go on meanwhile. One
turn is enough for the rates maintenance runs at: a maintenance transaction takes a few milliseconds and an account
three of them, so one turn carries well over a hundred accounts a second (measured with bench/maintenance.py, where
more turns on PostgreSQL made fetches slower and maintenance no faster). A task that already has a turn (a unit of
work opened inside another) goes on without waiting again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

from tgsessions.domain.ports import Database, Lease, LeaseStore, UnitOfWork
from tgsessions.domain.warm_hand_out import WarmAnswer, WarmRequest

PERMITS = 1


class Turns:
    """``permits`` turns, taken in order; a task holding one does not wait for another."""

    def __init__(self, permits: int) -> None:
        self._free = asyncio.Semaphore(permits)
        self._holding: ContextVar[bool] = ContextVar(f"maintenance-turn-{id(self)}", default=False)

    async def take(self) -> bool:
        """Wait for a turn; False when this task holds one already (then :meth:`give_back` is not called)."""
        if self._holding.get():
            return False
        await self._free.acquire()
        self._holding.set(True)
        return True

    def give_back(self) -> None:
        self._holding.set(False)
        self._free.release()


class TurnTakingDatabase:
    """A Database whose units of work and lease calls take turns (see the module docstring)."""

    def __init__(self, inner: Database, permits: int = PERMITS) -> None:
        self.backend = inner.backend
        self._inner = inner
        self._turns = Turns(permits)
        self._leases = _TurnTakingLeases(inner.leases, self._turns)

    def unit_of_work(self, *, fence: Lease | None = None, release: bool = False) -> UnitOfWork:
        return _TurnTakingUnitOfWork(self._inner.unit_of_work(fence=fence, release=release), self._turns)

    @property
    def leases(self) -> LeaseStore:
        return self._leases

    async def hand_out_warm(self, requests: Sequence[WarmRequest], now: datetime) -> list[WarmAnswer]:
        return await self._inner.hand_out_warm(requests, now)  # fetch's, never maintenance's: no turn


class _TurnTakingUnitOfWork:
    def __init__(self, inner: UnitOfWork, turns: Turns) -> None:
        self._inner = inner
        self._turns = turns
        self._took = False

    async def __aenter__(self) -> Self:
        self._took = await self._turns.take()
        try:
            entered = await self._inner.__aenter__()
        except BaseException:
            self._give_back()
            raise
        self.accounts, self.sessions, self.audit = entered.accounts, entered.sessions, entered.audit
        self.bulk, self.keys, self.runs = entered.bulk, entered.keys, entered.runs
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self._inner.__aexit__(exc_type, exc, tb)
        finally:
            self._give_back()

    async def commit(self) -> None:
        await self._inner.commit()

    def _give_back(self) -> None:
        if self._took:
            self._took = False
            self._turns.give_back()


class _TurnTakingLeases:
    def __init__(self, inner: LeaseStore, turns: Turns) -> None:
        self._inner = inner
        self._turns = turns

    async def try_acquire(self, name: str, holder: str, ttl: timedelta) -> Lease | None:
        took = await self._turns.take()
        try:
            return await self._inner.try_acquire(name, holder, ttl)
        finally:
            if took:
                self._turns.give_back()

    async def release(self, lease: Lease) -> None:
        took = await self._turns.take()
        try:
            await self._inner.release(lease)
        finally:
            if took:
                self._turns.give_back()

    async def forget(self, lease: Lease) -> None:
        took = await self._turns.take()
        try:
            await self._inner.forget(lease)
        finally:
            if took:
                self._turns.give_back()
