"""Ports: what the use cases need from the outside world, one job each. Adapters implement them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tgsessions.domain.limits import DeadlineBoard, RateWindow
from tgsessions.domain.model import ClientIdentity, Proxy
from tgsessions.domain.secret import Secret
from tgsessions.domain.storage import (
    AccountStore,
    ApiKeyStore,
    AuditLog,
    BulkImport,
    Database,
    Lease,
    LeaseStore,
    RunStore,
    SessionStore,
    UnitOfWork,
)
from tgsessions.domain.verdict import Verdict

__all__ = [  # the storage ports live in domain/storage.py, the shared limits in domain/limits.py; re-exported here
    "AccountStore",
    "ApiKeyStore",
    "AuditLog",
    "BulkImport",
    "Database",
    "DeadlineBoard",
    "Lease",
    "LeaseStore",
    "RateWindow",
    "RunStore",
    "SessionStore",
    "UnitOfWork",
]


class Clock(Protocol):
    def now(self) -> datetime: ...


class Cipher(Protocol):
    """Authenticated encryption of secrets at rest, and keyed fingerprints of session strings."""

    def encrypt(self, plaintext: str, *, aad: bytes) -> bytes:
        """Encrypt under the active key; the result carries the key id. ``aad`` binds it to its row."""
        ...

    def decrypt(self, blob: bytes, *, aad: bytes) -> str:
        """Decrypt with the key named in ``blob``; raise SecretUnreadable if the key or ``aad`` does not match."""
        ...

    def fingerprint(self, plaintext: str) -> str:
        """A stable, non-secret, keyed identifier of ``plaintext`` (the session_id)."""
        ...

    def key_id_of(self, blob: bytes) -> str:
        """The id of the key that encrypted ``blob``."""
        ...


@dataclass(frozen=True, slots=True)
class CacheStats:
    backend: str
    hits: int
    misses: int
    entries: int
    expired: int
    evictions: int
    last_sweep: datetime | None
    ttl_seconds: float
    max_entries: int

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class VerdictCache(Protocol):
    """Recent final verdicts keyed by session_id (never by session material)."""

    async def get(self, session_id: str) -> Verdict | None: ...

    async def get_many(self, session_ids: Sequence[str]) -> list[Verdict | None]:
        """:meth:`get` of each, in order, counted the same; one round trip where the cache is remote."""
        ...

    async def put(self, session_id: str, verdict: Verdict) -> None: ...

    async def invalidate(self, session_id: str) -> None: ...

    async def stats(self) -> CacheStats: ...


@dataclass(frozen=True, slots=True)
class SessionAccess:
    """Everything a gateway needs to connect as a session: the string, whose it is, how it looks to Telegram."""

    string: Secret
    phone: str
    identity: ClientIdentity
    proxy: Proxy | None = None


@dataclass(frozen=True, slots=True)
class MintedSession:
    string: Secret
    method: str  # "qr" or "code"
    identity: ClientIdentity
    auth_hash: int | None = None


@dataclass(frozen=True, slots=True)
class Authorization:
    hash: int
    device_model: str
    app_version: str
    created_at: datetime
    current: bool
    password_pending: bool = False  # logged in, waiting for the 2FA password (its own logOut is refused)


class TelegramGateway(Protocol):
    """Telegram, as the use cases need it.

    ``validate`` never raises for a Telegram outcome: it returns a verdict (see docs/telegram.md). The other
    calls raise domain errors: TelegramUnavailable (transient), AccountBanned, MintFailed/TwoFactorInvalid.
    """

    backend: str  # "simulated" or "telethon"

    async def validate(self, access: SessionAccess) -> Verdict: ...

    async def mint(
        self, source: SessionAccess, *, new_identity: ClientIdentity, two_fa: Secret | None
    ) -> MintedSession:
        """Create a brand-new authorization from the live ``source`` (QR login token first, login code fallback)."""
        ...

    async def log_out(self, access: SessionAccess) -> None:
        """The session logs itself out. A session that is already dead counts as logged out."""
        ...

    async def revoke_other(self, source: SessionAccess, auth_hash: int) -> None:
        """A mature ``source`` resets another authorization by hash. Fresh sources raise MintFailed('fresh')."""
        ...

    async def authorizations(self, access: SessionAccess) -> Sequence[Authorization]: ...
