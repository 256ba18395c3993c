"""Tunable behaviour of the use cases, as plain values (config.py maps settings onto this)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.policies import BreakerPolicy, LoginBudget


@dataclass(frozen=True, slots=True)
class RetryOptions:
    attempts: int = 3  # total tries of a transient failure, the first included
    base_delay: float = 0.5  # seconds; doubled per attempt, full jitter
    max_delay: float = 5.0


@dataclass(frozen=True, slots=True)
class MaintenanceOptions:
    """How a maintenance run treats Telegram (scheduling itself is the scheduler's business)."""

    keepalive: timedelta = timedelta(hours=24)  # a session not seen alive by Telegram for this long is reconnected
    calls_per_second: float = 0.0  # Telegram calls of a run, overall; 0 = not paced
    route_calls_per_second: float = 0.0  # ... per data centre, or per proxy when the account has one; 0 = not paced
    account_calls_per_minute: float = 0.0  # Telegram calls of a run per account; 0 = not paced
    workers: int = 4  # accounts maintained at once (each under its phone lock)


@dataclass(frozen=True, slots=True)
class FactoryOptions:
    validation_timeout: float = 10.0  # connect + one authenticated call
    mint_timeout: float = 30.0
    revoke_timeout: float = 10.0
    retry: RetryOptions = field(default_factory=RetryOptions)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    login_budget: LoginBudget = field(default_factory=LoginBudget)
    login_reserve: int = 2  # attempts that background top-ups leave for fetch
    max_backups: int = 10  # the backup pool never holds more
    target_backups: int = 2  # top-ups mint until this many backups exist
    cleanup_default: int = 5
    batch_limit: int = 50
    batch_concurrency: int = 25
    lease_ttl: timedelta = timedelta(seconds=10)  # renewed every third of it while held
    lease_wait: float = 60.0  # how long a caller waits for another caller's lease before giving up
    history_limit_max: int = 500
    recent_verdicts: int = 20  # how many recent verdicts feed the reliability score
    default_identity: ClientIdentity = field(default_factory=ClientIdentity)
    top_up_in_background: bool = True
    maintenance: MaintenanceOptions = field(default_factory=MaintenanceOptions)
