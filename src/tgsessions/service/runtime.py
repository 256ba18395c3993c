"""Everything an entry point (HTTP API, CLI) needs, handed over by the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tgsessions.service.access.api_keys import KeyManager
from tgsessions.service.access.rate_limits import RateLimiter
from tgsessions.service.factory import SessionFactory


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    database: str  # "ok" or why not
    migrations: str  # "current" or why not
    telegram_backend: str  # "telethon" or "simulated"


@dataclass(slots=True)
class Services:
    factory: SessionFactory
    keys: KeyManager
    limiter: RateLimiter
    database_backend: str  # "sqlite" or "postgresql"
    telegram_backend: str
    cache_backend: str  # "memory" or "redis"
    readiness: Callable[[], Awaitable[Readiness]]
    metrics: Callable[[], Awaitable[tuple[bytes, str]]] | None = None  # Prometheus text and its content type
