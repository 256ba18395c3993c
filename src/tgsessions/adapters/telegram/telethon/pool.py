"""Connection discipline: one live connection per session string, bounded concurrency, flood waits per account.

Telegram kills an auth key used from two connections at once (AUTH_KEY_DUPLICATED), so the process never opens a
second connection for a string while one is open: every user of a string queues on that string's lock and shares its
one connection. Entries are keyed by a SHA-256 of the string (never the string). A connection idle for
``idle_seconds`` is closed by a timer; one that failed at the transport level (or whose key Telegram rejected) is
dropped at once. Calls also hold a slot of their account (``per_account_concurrency``) and of the process
(``max_concurrency``); locks are taken string first, then account, then process, so waiting never holds a slot.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tgsessions.adapters.telegram.telethon.clients import ClientFactory
from tgsessions.adapters.telegram.telethon.outcomes import connection_survives
from tgsessions.domain.ports import Clock, DeadlineBoard, SessionAccess
from tgsessions.domain.secret import Secret

log = logging.getLogger(__name__)

GATE_TTL_MARGIN = 60.0  # seconds a shared flood gate outlives its wait: clocks may differ a little


def session_key(string: Secret) -> str:
    """A non-secret key for a session string (its SHA-256): pool keys and log lines use this, never the string."""
    return hashlib.sha256(string.reveal().encode()).hexdigest()


def account_key(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit()) or phone


async def disconnect(client: Any) -> None:
    """``client.disconnect()`` for both Telethon's (returns a future) and a plain coroutine."""
    result = client.disconnect()
    if inspect.isawaitable(result):
        await result


class FloodGates:
    """Flood waits per account and scope ("api" or "login"), on the injected clock.

    Kept in this process; with a shared ``board`` (Redis, when configured) also held there, so that a flood wait
    Telegram gave one instance is honoured by every instance. A wait known here is answered without asking the
    board; the board's answer is remembered here until it passes."""

    def __init__(self, clock: Clock, board: DeadlineBoard | None = None) -> None:
        self._clock = clock
        self._board = board
        self._until: dict[str, datetime] = {}

    async def record(self, phone: str, seconds: float, scope: str = "api") -> None:
        key = gate_key(phone, scope)
        until = self._clock.now() + timedelta(seconds=seconds)
        self._until[key] = max(until, self._until.get(key, until))
        if self._board is not None:
            await self._board.hold(key, until.timestamp(), ttl_seconds=seconds + GATE_TTL_MARGIN)

    async def remaining(self, phone: str, scope: str = "api") -> float | None:
        """The seconds left of the account's flood wait in ``scope``, or None when there is none."""
        key = gate_key(phone, scope)
        until = self._until.get(key)
        if until is None and self._board is not None:
            held = await self._board.until(key)
            until = None if held is None else datetime.fromtimestamp(held, UTC)
        if until is None:
            return None
        left = (until - self._clock.now()).total_seconds()
        if left <= 0:
            self._until.pop(key, None)
            return None
        self._until[key] = until
        return left


def gate_key(phone: str, scope: str) -> str:
    """The key of an account's flood gate in ``scope``: its digits (never session material) and the scope."""
    return f"{account_key(phone)}:{scope}"


@dataclass(eq=False)
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    client: Any = None
    users: int = 0  # holding or waiting: the idle timer never closes an entry in use
    timer: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class ClientLease:
    """A pooled connection lent to one caller; ``discard()`` closes it on return (e.g. after a log-out)."""

    client: Any
    discarded: bool = False

    def discard(self) -> None:
        self.discarded = True


class ConnectionPool:
    def __init__(
        self,
        factory: ClientFactory,
        *,
        idle_seconds: float = 60.0,
        max_concurrency: int = 20,
        per_account_concurrency: int = 2,
        connect_timeout: float = 5.0,
        close_timeout: float = 5.0,
    ) -> None:
        self.factory = factory
        self.idle_seconds = idle_seconds
        self.per_account_concurrency = per_account_concurrency
        self.connect_timeout = connect_timeout
        self.close_timeout = close_timeout
        self._global = asyncio.Semaphore(max_concurrency)
        self._accounts: dict[str, asyncio.Semaphore] = {}
        self._entries: dict[str, _Entry] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"ConnectionPool(open={self.open_connections}, idle_seconds={self.idle_seconds})"

    @property
    def open_connections(self) -> int:
        return sum(1 for e in self._entries.values() if e.client is not None)

    @asynccontextmanager
    async def slot(self, phone: str) -> AsyncIterator[None]:
        """One call's share of the account's and the process's concurrency."""
        key = account_key(phone)
        account = self._accounts.get(key)
        if account is None:
            account = self._accounts[key] = asyncio.Semaphore(self.per_account_concurrency)
        async with account, self._global:
            yield

    @asynccontextmanager
    async def connection(self, access: SessionAccess) -> AsyncIterator[ClientLease]:
        """The string's one connection (opened if needed), exclusively for the caller while the block runs."""
        key = session_key(access.string)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        entry.users += 1
        try:
            async with entry.lock:
                if entry.timer is not None:
                    entry.timer.cancel()
                    entry.timer = None
                async with self.slot(access.phone):
                    lease = ClientLease(await self._connected(entry, access))
                    try:
                        yield lease
                    except BaseException as exc:
                        if not connection_survives(exc):
                            lease.discard()
                        raise
                    finally:
                        if lease.discarded and entry.client is lease.client:
                            entry.client = None
                            await self.close(lease.client)
        finally:
            entry.users -= 1
            self._after_use(key, entry)

    async def _connected(self, entry: _Entry, access: SessionAccess) -> Any:
        client = entry.client
        if client is not None and client.is_connected():
            return client
        if client is not None:
            entry.client = None
            await self.close(client)
        client = self.factory.for_session(access.string, access.identity, access.proxy)
        try:
            async with asyncio.timeout(self.connect_timeout):
                await client.connect()
        except BaseException:
            await self.close(client)
            raise
        entry.client = client
        return client

    def _after_use(self, key: str, entry: _Entry) -> None:
        if entry.users > 0 or self._entries.get(key) is not entry:
            return
        if entry.client is None:
            del self._entries[key]
            return
        loop = asyncio.get_running_loop()
        entry.timer = loop.call_later(self.idle_seconds, self._expire, key, entry)

    def _expire(self, key: str, entry: _Entry) -> None:
        if entry.users > 0 or self._entries.get(key) is not entry:
            return
        del self._entries[key]
        if entry.client is not None:
            log.debug("closing idle Telegram connection %s", key[:12])
            self._spawn_close(entry.client)

    def _spawn_close(self, client: Any) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(disconnect(client))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        return task

    async def close(self, client: Any) -> None:
        """Disconnect ``client``: shielded from the caller's cancellation, bounded, never raising a failure."""
        task = self._spawn_close(client)
        try:
            async with asyncio.timeout(self.close_timeout):
                await asyncio.shield(task)
        except Exception as exc:
            log.debug("disconnecting a Telegram client failed: %s", type(exc).__name__)

    async def aclose(self) -> None:
        """Close every pooled connection (shutdown)."""
        entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            if entry.timer is not None:
                entry.timer.cancel()
            if entry.client is not None:
                await self.close(entry.client)
        if self._closing:
            await asyncio.wait(list(self._closing), timeout=self.close_timeout)
