"""Virtual time for tests of concurrent, paced work: sleeps wait on a timeline that jumps ahead only when every task
is idle, so many workers sleeping at once see one consistent clock (a sleep that simply advanced a fake clock by its
own length would add up the waits of concurrent sleepers)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable
from typing import TypeVar

from tgsessions.testing.clock import FakeClock

T = TypeVar("T")

IDLE_ROUNDS = 50  # event-loop turns without a wake-up before the timeline may jump


class VirtualTime:
    """``sleep`` for the code under test, ``monotonic`` for its pacer; :meth:`run` drives the timeline."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self._start = clock.now()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return (self.clock.now() - self._start).total_seconds()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.monotonic() + seconds, next(self._order), wake))
        await wake

    async def run(self, work: Awaitable[T]) -> T:
        """Await ``work``, moving the timeline to the next wake-up whenever nothing else can run."""
        task = asyncio.ensure_future(work)
        while not task.done():
            for _ in range(IDLE_ROUNDS):
                await asyncio.sleep(0)
                if task.done():
                    break
            else:
                self._wake_next()
        return task.result()

    def _wake_next(self) -> None:
        if not self._sleepers:
            return
        due = self._sleepers[0][0]
        if due > self.monotonic():
            self.clock.advance(due - self.monotonic())
        while self._sleepers and self._sleepers[0][0] <= due:
            _, _, wake = heapq.heappop(self._sleepers)
            if not wake.done():
                wake.set_result(None)
