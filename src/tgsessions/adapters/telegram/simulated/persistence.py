"""Keeping the simulated Telegram across restarts of ``tgsessions serve --telegram simulated``.

The world (accounts, authorizations, login attempts) is written as JSON to a 0600 file in the data directory after
every call that changes it, so the demo accounts a server seeded still work after a restart. The auth keys in it are
those of the simulation only: they open nothing anywhere else.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.world import (
    SimAccount,
    SimAccountState,
    SimAuthorization,
    SimulatedTelegram,
)
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import Clock, MintedSession, SessionAccess
from tgsessions.domain.secret import Secret

FORMAT = 1


def _identity(data: dict[str, Any]) -> ClientIdentity:
    return ClientIdentity(**data)


def dump(world: SimulatedTelegram) -> str:
    accounts = []
    for account in world.all_accounts():
        accounts.append(
            {
                "phone": account.phone,
                "dc_id": account.dc_id,
                "two_fa": account.two_fa.reveal() if account.two_fa else None,
                "state": account.state.value,
                "frozen": account.frozen,
                "qr_enabled": account.qr_enabled,
                "login_attempts": [t.isoformat() for t in account.login_attempts],
                "authorizations": [
                    {
                        "created_at": a.created_at.isoformat(),
                        "hash": a.hash,
                        "identity": {f: getattr(a.identity, f) for f in ClientIdentity.__dataclass_fields__},
                        "auth_key": base64.b64encode(a.auth_key).decode(),
                        "alive": a.alive,
                        "password_pending": a.password_pending,
                    }
                    for a in account.authorizations
                ],
            }
        )
    return json.dumps({"format": FORMAT, "accounts": accounts})


def load(world: SimulatedTelegram, text: str) -> None:
    data = json.loads(text)
    if data.get("format") != FORMAT:
        raise ValueError("unknown simulated Telegram state format")
    for raw in data["accounts"]:
        account = SimAccount(
            phone=raw["phone"],
            dc_id=raw["dc_id"],
            two_fa=Secret(raw["two_fa"]) if raw["two_fa"] is not None else None,
            state=SimAccountState(raw["state"]),
            frozen=raw["frozen"],
            qr_enabled=raw["qr_enabled"],
            login_attempts=[datetime.fromisoformat(t) for t in raw["login_attempts"]],
        )
        for auth in raw["authorizations"]:
            account.authorizations.append(
                SimAuthorization(
                    phone=account.phone,
                    dc_id=account.dc_id,
                    created_at=datetime.fromisoformat(auth["created_at"]),
                    hash=auth["hash"],
                    identity=_identity(auth["identity"]),
                    auth_key=base64.b64decode(auth["auth_key"]),
                    alive=auth["alive"],
                    password_pending=auth.get("password_pending", False),
                )
            )
        world.adopt(account)


class PersistentSimulatedGateway(SimulatedTelegramGateway):
    """The simulated gateway, saving the world to ``path`` after every call that may change it."""

    def __init__(self, world: SimulatedTelegram, path: Path) -> None:
        super().__init__(world)
        self.path = path

    @classmethod
    def open(cls, clock: Clock, path: Path) -> PersistentSimulatedGateway:
        world = SimulatedTelegram(clock)
        if path.exists():
            load(world, path.read_text(encoding="utf-8"))
        return cls(world, path)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dump(self.world))
        os.replace(temporary, self.path)

    async def mint(
        self, source: SessionAccess, *, new_identity: ClientIdentity, two_fa: Secret | None
    ) -> MintedSession:
        try:
            return await super().mint(source, new_identity=new_identity, two_fa=two_fa)
        finally:
            self.save()

    async def log_out(self, access: SessionAccess) -> None:
        try:
            await super().log_out(access)
        finally:
            self.save()

    async def revoke_other(self, source: SessionAccess, auth_hash: int) -> None:
        try:
            await super().revoke_other(source, auth_hash)
        finally:
            self.save()
