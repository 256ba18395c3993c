"""API keys and their scopes. A key is shown once at creation and stored only as a keyed hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Scope(StrEnum):
    SESSIONS_READ = "sessions:read"  # fetch, batch-fetch: the only scope that returns session strings
    SESSIONS_WRITE = "sessions:write"  # add, update, cleanup
    STATUS_READ = "status:read"  # status, old sessions, history, cache stats, maintenance state
    ADMIN = "admin"  # maintenance runs, key management
    METRICS_READ = "metrics:read"  # Prometheus metrics


ALL_SCOPES = frozenset(Scope)


@dataclass(slots=True)
class ApiKey:
    """A caller's identity. ``key_id`` is public (it prefixes the key and names the caller in the audit trail)."""

    key_id: str
    name: str
    scopes: frozenset[Scope]
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None = None
    rate_limit_per_minute: int | None = None  # None: the service default
    id: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: Scope) -> bool:
        """Scopes do not imply each other: admin does not read session strings."""
        return scope in self.scopes

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"

    def __repr__(self) -> str:
        scopes = ",".join(sorted(self.scopes))
        return f"ApiKey({self.key_id!r}, name={self.name!r}, scopes={scopes!r}, active={self.active})"


def parse_scopes(raw: str | list[str] | tuple[str, ...]) -> frozenset[Scope]:
    """Scopes from "a,b" or a list; ValueError naming the unknown ones."""
    names = [p.strip() for p in raw.split(",")] if isinstance(raw, str) else [str(p).strip() for p in raw]
    names = [n for n in names if n]
    known = {s.value for s in Scope}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if not names:
        raise ValueError("at least one scope is needed")
    return frozenset(Scope(n) for n in names)
