"""The simulated world as JSON: the whole world (a snapshot) and single accounts or authorizations (journal lines).

Snapshot (``format`` 2): ``{"format": 2, "generation": "<hex>", "accounts": [account + "authorizations": [...]]}``.
Format 1, written before the journal existed, is the same without ``generation``; it is still read. A journal line
is ``{"generation": ..., "account": {...}}`` (the account's own fields, not its authorizations) or
``{"generation": ..., "authorization": {...}}`` (one authorization, with its phone): replayed in order, each one
replaces what the world held for that account or auth key.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from tgsessions.adapters.telegram.simulated.entities import SimAccount, SimAccountState, SimAuthorization
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.secret import Secret

FORMAT = 2
READABLE_FORMATS = (1, 2)


def account_fields(account: SimAccount) -> dict[str, Any]:
    return {
        "phone": account.phone,
        "dc_id": account.dc_id,
        "two_fa": account.two_fa.reveal() if account.two_fa else None,
        "state": account.state.value,
        "frozen": account.frozen,
        "qr_enabled": account.qr_enabled,
        "login_attempts": [t.isoformat() for t in account.login_attempts],
    }


def authorization_fields(auth: SimAuthorization) -> dict[str, Any]:
    return {
        "phone": auth.phone,
        "created_at": auth.created_at.isoformat(),
        "hash": auth.hash,
        "identity": {f: getattr(auth.identity, f) for f in ClientIdentity.__dataclass_fields__},
        "auth_key": base64.b64encode(auth.auth_key).decode(),
        "alive": auth.alive,
        "password_pending": auth.password_pending,
    }


def dump(world: SimulatedTelegram, generation: str) -> str:
    accounts = [
        account_fields(account) | {"authorizations": [authorization_fields(a) for a in account.authorizations]}
        for account in world.all_accounts()
    ]
    return json.dumps({"format": FORMAT, "generation": generation, "accounts": accounts})


def load(world: SimulatedTelegram, text: str) -> str | None:
    """Fill ``world`` from a snapshot; its generation (None for format 1)."""
    data = json.loads(text)
    if data.get("format") not in READABLE_FORMATS:
        raise ValueError("unknown simulated Telegram state format")
    for raw in data["accounts"]:
        account = _account(raw)
        account.authorizations = [_authorization(a, account) for a in raw["authorizations"]]
        world.adopt(account)
    generation = data.get("generation")
    return str(generation) if generation is not None else None


def journal_line(generation: str, entity: SimAccount | SimAuthorization) -> str:
    if isinstance(entity, SimAuthorization):
        return json.dumps({"generation": generation, "authorization": authorization_fields(entity)}) + "\n"
    return json.dumps({"generation": generation, "account": account_fields(entity)}) + "\n"


def replay(world: SimulatedTelegram, line: dict[str, Any]) -> None:
    """Apply one journal line to ``world``."""
    if "account" in line:
        restored = _account(line["account"])
        known = world.lookup_account(restored.phone)
        if known is None:
            world.adopt(restored)
            return
        known.dc_id, known.two_fa, known.state = restored.dc_id, restored.two_fa, restored.state
        known.frozen, known.qr_enabled = restored.frozen, restored.qr_enabled
        known.login_attempts = restored.login_attempts
    else:
        raw = line["authorization"]
        world.restore(_authorization(raw, world.account(raw["phone"])))


def _account(raw: dict[str, Any]) -> SimAccount:
    return SimAccount(
        phone=raw["phone"],
        dc_id=raw["dc_id"],
        two_fa=Secret(raw["two_fa"]) if raw["two_fa"] is not None else None,
        state=SimAccountState(raw["state"]),
        frozen=raw["frozen"],
        qr_enabled=raw["qr_enabled"],
        login_attempts=[datetime.fromisoformat(t) for t in raw["login_attempts"]],
    )


def _authorization(raw: dict[str, Any], account: SimAccount) -> SimAuthorization:
    return SimAuthorization(
        phone=account.phone,
        dc_id=account.dc_id,
        created_at=datetime.fromisoformat(raw["created_at"]),
        hash=raw["hash"],
        identity=ClientIdentity(**raw["identity"]),
        auth_key=base64.b64decode(raw["auth_key"]),
        alive=raw["alive"],
        password_pending=raw.get("password_pending", False),
    )
