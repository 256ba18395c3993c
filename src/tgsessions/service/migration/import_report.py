"""What an import did: counts, every rejected record with its position and reason, and validation results.

Nothing in a report is secret: phones, session_ids (fingerprints), reasons and counts only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tgsessions.domain.migration import PositionUnit


@dataclass(frozen=True, slots=True)
class Rejection:
    source: str  # "archivedClients" or "users"
    position: int
    unit: PositionUnit  # "line" (1-based) or "index" (0-based, in a --jsonArray file)
    reason: str
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class DeadSession:
    source: str
    position: int
    phone: str
    session_id: str
    reason: str


@dataclass(slots=True)
class ValidationCounts:
    alive: int = 0
    dead: int = 0
    unknown: int = 0
    dead_sessions: list[DeadSession] = field(default_factory=list)  # imported anyway


@dataclass(slots=True)
class ImportReport:
    """Accounts are counted per record: an account created from archivedClients and given its keeper by users
    counts once as created and once as updated."""

    dry_run: bool
    records_read: int = 0
    accounts_created: int = 0
    accounts_updated: int = 0
    accounts_unchanged: int = 0
    sessions_added: int = 0
    events_imported: int = 0
    backups_over_limit: int = 0  # backups beyond max_backups: not stored
    formats: dict[str, int] = field(default_factory=dict)  # session strings read, by detected layout
    rejected: list[Rejection] = field(default_factory=list)
    validation: ValidationCounts | None = None

    @property
    def changed(self) -> bool:
        return bool(self.accounts_created or self.accounts_updated)

    def summary(self) -> str:
        verb = "would be" if self.dry_run else "were"
        if not self.changed:
            return f"nothing changed: all {self.accounts_unchanged} accounts {verb} already imported"
        return (
            f"{self.accounts_created} accounts {verb} created, {self.accounts_updated} updated, "
            f"{self.accounts_unchanged} unchanged; {self.sessions_added} sessions added"
        )
