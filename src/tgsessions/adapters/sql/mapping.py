"""Rows <-> entities, with encryption at the boundary.

Each ciphertext is bound to its row by the AEAD associated data, so a blob copied into another row does not decrypt:

* session string: ``tgs:session:{account_id}:{session_id}``
* 2FA password: ``tgs:2fa:{phone}``
* proxy (the whole Proxy as JSON, password included): ``tgs:proxy:{phone}``

Decryption failures become SecretUnreadable naming the phone or session_id, never the secret.

API keys and maintenance runs hold no ciphertext (a key is stored only as its keyed hash): scopes are kept as their
sorted values joined by commas, a run's report as a JSON object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from functools import lru_cache
from typing import Any

from sqlalchemy.engine import RowMapping

from tgsessions.domain.access import ApiKey, Scope
from tgsessions.domain.errors import SecretUnreadable
from tgsessions.domain.model import (
    Account,
    AccountDeletion,
    AccountState,
    Action,
    ClientIdentity,
    Event,
    Origin,
    Proxy,
    Role,
    Session,
)
from tgsessions.domain.ports import Cipher
from tgsessions.domain.runs import MaintenanceRun, RunStatus
from tgsessions.domain.secret import Secret
from tgsessions.domain.session_codec import SessionFormat
from tgsessions.domain.verdict import VerdictKind


def session_aad(account_id: int, session_id: str) -> bytes:
    return f"tgs:session:{account_id}:{session_id}".encode()


def two_fa_aad(phone: str) -> bytes:
    return f"tgs:2fa:{phone}".encode()


def proxy_aad(phone: str) -> bytes:
    return f"tgs:proxy:{phone}".encode()


@lru_cache(maxsize=4096)
def identity_to_json(identity: ClientIdentity) -> str:
    """Serialised once per distinct identity (``dataclasses.asdict`` per row was an eighth of an import's time)."""
    return json.dumps(asdict(identity), sort_keys=True)


@lru_cache(maxsize=4096)
def identity_from_json(text: str) -> ClientIdentity:
    """Parsed once per distinct text: a fleet shares few identities, and ClientIdentity is immutable."""
    return ClientIdentity(**json.loads(text))


def _proxy_to_json(proxy: Proxy) -> str:
    password = proxy.password.reveal() if proxy.password is not None else None
    fields = {"scheme": proxy.scheme, "host": proxy.host, "port": proxy.port, "username": proxy.username}
    return json.dumps({**fields, "password": password}, sort_keys=True)


def _proxy_from_json(text: str) -> Proxy:
    data = json.loads(text)
    password = data.pop("password", None)
    return Proxy(**data, password=Secret(password) if password is not None else None)


def account_values(account: Account, cipher: Cipher) -> dict[str, Any]:
    """Column values for an account row (everything except ``id``)."""
    phone = account.phone
    two_fa = account.two_fa
    return {
        "phone": phone,
        "two_fa_ct": cipher.encrypt(two_fa.reveal(), aad=two_fa_aad(phone)) if two_fa is not None else None,
        "proxy_ct": cipher.encrypt(_proxy_to_json(account.proxy), aad=proxy_aad(phone)) if account.proxy else None,
        "identity": identity_to_json(account.identity),
        "state": account.state.value,
        "frozen": account.frozen,
        "created_at": account.created_at,
        "updated_at": account.updated_at,
        "last_updated": account.last_updated,
        "last_cleanup": account.last_cleanup,
        "version": account.version,
        "user_id": account.user_id,
    }


def account_from_row(row: RowMapping, cipher: Cipher) -> Account:
    phone: str = row["phone"]
    two_fa = proxy = None
    if row["two_fa_ct"] is not None:
        what = f"the 2FA password of account {phone}"
        two_fa = Secret(decrypt(cipher, row["two_fa_ct"], two_fa_aad(phone), what, phone))
    if row["proxy_ct"] is not None:
        what = f"the proxy of account {phone}"
        proxy = _proxy_from_json(decrypt(cipher, row["proxy_ct"], proxy_aad(phone), what, phone))
    return Account(
        id=row["id"],
        phone=phone,
        identity=identity_from_json(row["identity"]),
        two_fa=two_fa,
        proxy=proxy,
        state=AccountState(row["state"]),
        frozen=bool(row["frozen"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_updated=row["last_updated"],
        last_cleanup=row["last_cleanup"],
        version=row["version"],
        user_id=row["user_id"],
    )


def session_values(session: Session, cipher: Cipher) -> dict[str, Any]:
    """Column values for a session row (everything except ``id``). A retired session stores no string."""
    string = session.string if session.role is not Role.RETIRED else None
    aad = session_aad(session.account_id, session.session_id)
    return {
        "account_id": session.account_id,
        "session_id": session.session_id,
        "role": session.role.value,
        "origin": session.origin.value,
        "string_ct": cipher.encrypt(string.reveal(), aad=aad) if string is not None else None,
        "identity": identity_to_json(session.identity),
        "created_at": session.created_at,
        "role_since": session.role_since,
        "verdict": session.verdict.value if session.verdict is not None else None,
        "verdict_reason": session.verdict_reason,
        "verdict_at": session.verdict_at,
        "consecutive_failures": session.consecutive_failures,
        "open_until": session.open_until,
        "auth_hash": session.auth_hash,
        "source_format": session.source_format.value if session.source_format is not None else None,
    }


def session_from_row(row: Mapping[str, Any] | RowMapping, cipher: Cipher) -> Session:
    account_id: int = row["account_id"]
    session_id: str = row["session_id"]
    string = None
    if row["string_ct"] is not None:
        what = f"session {session_id} of account id {account_id}"
        string = Secret(decrypt(cipher, row["string_ct"], session_aad(account_id, session_id), what))
    return Session(
        id=row["id"],
        account_id=account_id,
        session_id=session_id,
        role=Role(row["role"]),
        origin=Origin(row["origin"]),
        string=string,
        identity=identity_from_json(row["identity"]),
        created_at=row["created_at"],
        role_since=row["role_since"],
        verdict=VerdictKind(row["verdict"]) if row["verdict"] is not None else None,
        verdict_reason=row["verdict_reason"],
        verdict_at=row["verdict_at"],
        consecutive_failures=row["consecutive_failures"],
        open_until=row["open_until"],
        auth_hash=row["auth_hash"],
        source_format=SessionFormat(row["source_format"]) if row["source_format"] is not None else None,
    )


def event_values(event: Event) -> dict[str, Any]:
    return {
        "account_id": event.account_id,
        "action": event.action.value,
        "actor": event.actor,
        "outcome": event.outcome,
        "at": event.at,
        "session_id": event.session_id,
        "reason": event.reason,
        "detail": json.dumps(event.detail, sort_keys=True),
    }


def event_from_row(row: RowMapping) -> Event:
    return Event(
        id=row["id"],
        account_id=row["account_id"],
        action=Action(row["action"]),
        actor=row["actor"],
        outcome=row["outcome"],
        at=row["at"],
        session_id=row["session_id"],
        reason=row["reason"],
        detail=json.loads(row["detail"]),
    )


def scopes_to_text(scopes: frozenset[Scope]) -> str:
    return ",".join(sorted(scope.value for scope in scopes))


def scopes_from_text(text: str) -> frozenset[Scope]:
    return frozenset(Scope(name) for name in text.split(",") if name)


def key_values(key: ApiKey) -> dict[str, Any]:
    """Column values for an api_keys row (everything except ``id``)."""
    return {
        "key_id": key.key_id,
        "name": key.name,
        "scopes": scopes_to_text(key.scopes),
        "key_hash": key.key_hash,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
        "rate_limit_per_minute": key.rate_limit_per_minute,
    }


def key_from_row(row: RowMapping) -> ApiKey:
    return ApiKey(
        id=row["id"],
        key_id=row["key_id"],
        name=row["name"],
        scopes=scopes_from_text(row["scopes"]),
        key_hash=row["key_hash"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        rate_limit_per_minute=row["rate_limit_per_minute"],
    )


def run_values(run: MaintenanceRun) -> dict[str, Any]:
    """Column values for a maintenance_runs row (everything except ``id``)."""
    return {
        "actor": run.actor,
        "status": run.status.value,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "total": run.total,
        "done": run.done,
        "report": json.dumps(run.report, sort_keys=True),
        "error": run.error,
        "last_account_id": run.last_account_id,
        "holder": run.holder,
    }


def run_from_row(row: RowMapping) -> MaintenanceRun:
    return MaintenanceRun(
        id=row["id"],
        actor=row["actor"],
        status=RunStatus(row["status"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        total=row["total"],
        done=row["done"],
        report=json.loads(row["report"]),
        error=row["error"],
        last_account_id=row["last_account_id"],
        holder=row["holder"],
    )


def decrypt(cipher: Cipher, blob: bytes, aad: bytes, what: str, phone: str | None = None) -> str:
    try:
        return cipher.decrypt(bytes(blob), aad=aad)
    except SecretUnreadable as exc:
        raise SecretUnreadable(
            f"{what} cannot be decrypted with the configured keys (wrong key file, or the ciphertext was moved "
            f"from another row)",
            phone=phone,
        ) from exc


def deletion_values(deletion: AccountDeletion) -> dict[str, Any]:
    return {
        "account_id": deletion.account_id,
        "phone": deletion.phone,
        "at": deletion.at,
        "actor": deletion.actor,
        "session_ids": json.dumps(list(deletion.session_ids)),
        "revoked": json.dumps(list(deletion.revoked)),
    }
