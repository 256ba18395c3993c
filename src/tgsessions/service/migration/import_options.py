"""The options of an import from the replaced service's MongoDB export (see importing.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.session_codec import SessionFormat


@dataclass(frozen=True, slots=True)
class ImportOptions:
    batch_size: int = 500
    dry_run: bool = False
    max_backups: int = 10
    identity: ClientIdentity = field(default_factory=ClientIdentity)
    actor: str = "cli"
    validate: bool = False
    validation_concurrency: int = 4
    validation_per_second: float = 5.0  # Telegram calls started per second, overall
    validation_timeout: float = 10.0
    session_format: SessionFormat | None = None  # None: detected per string (the replaced service's are GramJS)
