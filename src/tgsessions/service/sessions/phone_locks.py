"""One caller at a time per phone: a single-flight lock inside the process and a lease row across processes.

The lease carries a token that grows each time it changes hands; every write under the lock is fenced with it,
so a holder whose lease expired (and was taken over) cannot write any more. Leases are short (``TGS_LEASE_TTL_SECONDS``,
10 s) and renewed every third of that while the block runs, so the leases of a process that died are free again
within one TTL, while a living holder keeps them however long its Telegram calls take.

Inside the process the lock is first come, first served, and it says whether anyone waits for it
(:meth:`PhoneLocks.has_waiters`): background work (maintenance) that holds a phone for several steps checks between
them and gives the phone up to a waiting caller (a fetch) instead of making it wait for the whole account.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from tgsessions.domain.errors import ConcurrentModification
from tgsessions.domain.ports import Lease, LeaseStore

log = logging.getLogger("tgsessions.locks")


@dataclass(slots=True)
class Hold:
    """A held phone. ``released`` is set by whoever gave the lease up in its last commit (fewer round trips)."""

    lease: Lease
    released: bool = False
    retaken: Lease | None = None  # a renewal that raced the release and claimed the name again: given up too


class PhoneLocks:
    def __init__(self, leases: LeaseStore, *, ttl: timedelta, wait: float, holder: str | None = None) -> None:
        self._leases = leases
        self._ttl = ttl
        self._wait = wait
        self.holder = holder or f"tgs-{uuid.uuid4().hex[:12]}"
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._waiting: dict[str, int] = {}  # phone -> callers waiting for its local lock (not the holder)

    def _local_lock(self, phone: str) -> asyncio.Lock:
        lock = self._local.get(phone)
        if lock is None:
            lock = asyncio.Lock()
            self._local[phone] = lock
        return lock

    def sharing(self, leases: LeaseStore) -> PhoneLocks:
        """These very locks (the same phones held, the same waiters seen) taking their leases through ``leases``
        (maintenance's, which wait their turn: see maintenance/db_turns.py)."""
        view = PhoneLocks(leases, ttl=self._ttl, wait=self._wait, holder=self.holder)
        view._local, view._waiting = self._local, self._waiting
        return view

    def has_waiters(self, phone: str) -> bool:
        """Whether a caller of this process waits for ``phone`` (held by someone else, typically the asker)."""
        return self._waiting.get(phone, 0) > 0

    async def _enter_local(self, phone: str, local: asyncio.Lock) -> None:
        """Take the local lock, counted as a waiter until it is ours (asyncio.Lock serves waiters in order)."""
        self._waiting[phone] = self._waiting.get(phone, 0) + 1
        try:
            await local.acquire()
        finally:
            left = self._waiting[phone] - 1
            if left:
                self._waiting[phone] = left
            else:
                del self._waiting[phone]

    @asynccontextmanager
    async def hold(self, phone: str) -> AsyncIterator[Hold]:
        """Hold the phone for the block; raise ConcurrentModification if another holder keeps it too long."""
        local = self._local_lock(phone)
        await self._enter_local(phone, local)
        try:
            hold = Hold(await self._acquire(f"phone:{phone}", phone))
            renewing = asyncio.create_task(self._renew(hold), name=f"lease:{phone}")
            try:
                yield hold
            finally:
                renewing.cancel()
                await asyncio.gather(renewing, return_exceptions=True)
                for lease in (hold.lease if not hold.released else None, hold.retaken):
                    if lease is not None:
                        await asyncio.shield(self._leases.release(lease))
        finally:
            local.release()

    async def _renew(self, hold: Hold) -> None:
        """Extend the lease every third of its TTL until the block ends; stop once it is lost (fenced writes fail
        then). A renewal is never what claims a released name: if one raced the release, it is given up."""
        lease = hold.lease
        every = max(self._ttl.total_seconds() / 3, 0.05)
        while True:
            await asyncio.sleep(every)
            if hold.released:
                return
            try:
                renewed = await self._leases.try_acquire(lease.name, self.holder, self._ttl)
            except Exception as exc:  # storage trouble: try again at the next beat; the fence guards every write
                log.warning("could not renew the lease %s: %s", lease.name, type(exc).__name__)
                continue
            if renewed is None:
                return
            if renewed.token != lease.token or hold.released:
                hold.retaken = renewed
                return
            hold.lease = renewed

    async def _acquire(self, name: str, phone: str) -> Lease:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        delay = 0.01
        while True:
            lease = await self._leases.try_acquire(name, self.holder, self._ttl)
            if lease is not None:
                return lease
            if loop.time() >= deadline:
                raise ConcurrentModification(f"account {phone} is busy in another process; try again", phone=phone)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)
