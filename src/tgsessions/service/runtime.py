"""The one object every entry point (HTTP API, CLI, scheduler, demo, benches) receives: everything built once from
the settings by the composition root (``tgsessions.bootstrap``), or from explicit parts by a test. Port types only:
which adapters stand behind them is the composition root's business."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from tgsessions.domain.ports import Cipher, Clock, Database, TelegramGateway, VerdictCache
from tgsessions.domain.secret import Secret
from tgsessions.service.access import KeyManager, RateLimiter
from tgsessions.service.factory import SessionFactory


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    database: str  # "ok" or why not
    migrations: str  # "current" or why not
    telegram_backend: str  # "telethon" or "simulated"


class SimulatedAuthorization(Protocol):
    @property
    def alive(self) -> bool: ...

    @property
    def string(self) -> Secret: ...


class SimulatedAccount(Protocol):
    @property
    def authorizations(self) -> Sequence[SimulatedAuthorization]: ...


class SimulatedWorld(Protocol):
    """The simulated Telegram behind the simulated backend: what the demo and the demo seeding do with it."""

    def add_account(self, phone: str, *, two_fa: str | None = None) -> None: ...

    def lookup_account(self, phone: str) -> SimulatedAccount | None: ...

    def account(self, phone: str) -> SimulatedAccount: ...

    def create_session(self, phone: str, *, age: timedelta = ...) -> Secret: ...

    def revoke(self, string: Secret) -> None: ...


@dataclass(slots=True)
class Runtime:
    """The services (``factory``, ``keys``, ``limiter``, ``readiness``, ``metrics``) and the ports behind them.
    ``gateway`` is the Telegram backend itself (the factory's calls to it are measured); ``simulated`` the world
    of the simulated backend (None with Telethon)."""

    factory: SessionFactory
    keys: KeyManager
    limiter: RateLimiter
    database: Database
    gateway: TelegramGateway
    cache: VerdictCache
    cipher: Cipher
    clock: Clock
    readiness: Callable[[], Awaitable[Readiness]]
    metrics: Callable[[], Awaitable[tuple[bytes, str]]] | None = None  # Prometheus text and its content type
    simulated: SimulatedWorld | None = None

    @property
    def database_backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.database.backend

    @property
    def telegram_backend(self) -> str:
        """``"telethon"`` or ``"simulated"``."""
        return self.gateway.backend


def readiness_probe(
    ping: Callable[[], Awaitable[None]], schema_current: Callable[[], Awaitable[bool]], telegram_backend: str
) -> Callable[[], Awaitable[Readiness]]:
    """``/readyz``: ready when the database answers ``ping`` and its schema is current."""

    async def readiness() -> Readiness:
        try:
            await ping()
        except Exception as exc:  # any driver error means "not ready"; the message names its type only
            return Readiness(False, f"unreachable ({type(exc).__name__})", "unknown", telegram_backend)
        current = await schema_current()
        return Readiness(current, "ok", "current" if current else "behind: run `tgsessions migrate`", telegram_backend)

    return readiness
