"""The entities of the simulated world: accounts and their authorizations (one auth key, one session string each)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from tgsessions.adapters.telegram.simulated import strings
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.secret import Secret


class SimAccountState(StrEnum):
    ACTIVE = "active"
    BANNED = "banned"
    DEACTIVATED = "deactivated"


class SimulatedServerError(Exception):
    """Raised by :meth:`SimulatedTelegram.begin_call` when a ``server_error`` fault fires (the gateway translates)."""


@dataclass(eq=False, slots=True)
class SimAuthorization:
    """One login of an account: one auth key, one session string."""

    phone: str
    dc_id: int
    created_at: datetime
    hash: int
    identity: ClientIdentity
    auth_key: bytes = field(repr=False)
    alive: bool = True
    password_pending: bool = False  # signed in, the 2FA password not given: listed, unusable, its logOut refused

    @property
    def string(self) -> Secret:
        return Secret(strings.encode(self.dc_id, self.auth_key))

    def is_mature(self, now: datetime, freshness: timedelta = timedelta(hours=24)) -> bool:
        return now - self.created_at >= freshness


@dataclass(eq=False, slots=True)
class SimAccount:
    phone: str
    dc_id: int
    two_fa: Secret | None = None
    state: SimAccountState = SimAccountState.ACTIVE
    frozen: bool = False
    qr_enabled: bool = True
    flood_until: datetime | None = None
    login_attempts: list[datetime] = field(default_factory=list)
    authorizations: list[SimAuthorization] = field(default_factory=list)

    @property
    def is_dead(self) -> bool:
        return self.state is not SimAccountState.ACTIVE
