"""Small builders for storage tests (no secrets of real accounts: every value here is made up)."""

from __future__ import annotations

from datetime import datetime

from tgsessions.domain.model import Account, ClientIdentity, Origin, Proxy, Role, Session
from tgsessions.domain.ports import Cipher
from tgsessions.domain.secret import Secret
from tgsessions.service.session_strings import session_id_of

IDENTITY = ClientIdentity(
    api_id=12345,
    device_model="Pixel 7",
    system_version="Android 14",
    app_version="10.1.2",
    lang_code="de",
    system_lang_code="de-DE",
)


def account(phone: str, now: datetime, *, with_secrets: bool = False) -> Account:
    extra = {}
    if with_secrets:
        extra = {
            "two_fa": Secret(f"2fa-password-{phone}"),
            "proxy": Proxy("socks5", "proxy.example", 1080, username="user", password=Secret(f"proxy-pw-{phone}")),
        }
    return Account(phone=phone, identity=IDENTITY, created_at=now, updated_at=now, **extra)  # type: ignore[arg-type]


def session_string(tag: str) -> str:
    return f"1BVtsOK8Bu{tag}" + "Qx" * 150 + tag


def session(
    cipher: Cipher,
    account_id: int,
    tag: str,
    now: datetime,
    *,
    role: Role = Role.BACKUP,
    origin: Origin = Origin.MANUAL,
) -> Session:
    string = session_string(tag)
    return Session(
        session_id=session_id_of(cipher, Secret(string)),
        account_id=account_id,
        role=role,
        origin=origin,
        identity=IDENTITY,
        created_at=now,
        role_since=now,
        string=Secret(string),
    )
