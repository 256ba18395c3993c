"""Schemas of the session endpoints: fetch, batch fetch, update, cleanup, add account, backups.

Only :class:`FetchOut` (and a successful :class:`BatchItemOut`) carries a session string; every other response
describes sessions by their non-secret ``sessionId``. Every name on the wire is camelCase; request bodies refuse
unknown fields (:class:`~tgsessions.api.schemas.wire.RequestModel`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, SecretStr, Strict

from tgsessions.api.schemas.wire import CamelModel, Host, Name, RequestModel

MAX_BATCH = 50
SessionString = Annotated[SecretStr, Field(min_length=1, max_length=4096)]


class SessionFormatName(StrEnum):
    TELETHON = "telethon"
    GRAMJS = "gramjs"
    PYROGRAM = "pyrogram"


#: A layout in a request body: strict bodies take the enum's JSON string (and nothing else) for it.
FormatIn = Annotated[SessionFormatName, Strict(False)]


class FetchOut(CamelModel):
    """A session that works right now, named as the replaced service named its record's fields."""

    mobile: str = Field(description="The phone number, digits only.")
    session: str = Field(description="A session string that works right now, in the layout asked for (`format`).")
    format: SessionFormatName = Field(description="The layout of `session`: telethon, gramjs or pyrogram.")
    session_id: str = Field(description="Non-secret fingerprint of the session (for logs and the API).")
    role: str
    how: str = Field(description="How the session was obtained: cached, validated, promoted or minted.")
    last_updated: datetime | None = Field(description="Last change of the primary session.")
    created_at: datetime
    updated_at: datetime
    frozen: bool


class BatchRequest(RequestModel):
    mobiles: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=MAX_BATCH)


class BatchError(CamelModel):
    error: str
    message: str
    retry_after: int | None = None


class BatchItemOut(CamelModel):
    """A fetched phone: the fields of :class:`FetchOut`, or (all of them null but ``mobile``) an ``error``."""

    mobile: str
    session: str | None = None
    format: SessionFormatName | None = None
    session_id: str | None = None
    role: str | None = None
    how: str | None = None
    last_updated: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    frozen: bool | None = None
    error: BatchError | None = None


class BatchOut(CamelModel):
    results: list[BatchItemOut] = Field(description="One item per distinct phone, in the order given.")


class UpdateSessionRequest(RequestModel):
    new_session: SessionString = Field(description="The new primary: must be alive and belong to this phone.")
    format: FormatIn | None = Field(None, description="Force the string's layout; detected when absent.")


class SessionMeta(CamelModel):
    """A stored session, without its string."""

    session_id: str
    role: str
    origin: str
    created_at: datetime
    role_since: datetime
    age: float = Field(description="Seconds since the session was created.")
    verdict: str | None
    verdict_reason: str | None
    verdict_at: datetime | None
    breaker_open_until: datetime | None


class CleanupRequest(RequestModel):
    max_sessions: int = Field(5, ge=0, le=20, description="How many live backups to keep.")


class CleanupOut(CamelModel):
    mobile: str
    max_sessions: int
    retired_dead: list[str] = Field(description="sessionIds of dead backups, retired.")
    revoked: list[str] = Field(description="sessionIds of live backups beyond the limit, revoked and retired.")
    deferred: list[str] = Field(description="Beyond the limit, but Telegram could not revoke them now.")
    kept: list[str]


class IdentityIn(RequestModel):
    api_id: int | None = Field(None, ge=1, le=2_147_483_647)
    device_model: Name = "tgsessions"
    system_version: Name = "Linux"
    app_version: Name = "1.0"
    lang_code: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})?$")] = "en"
    system_lang_code: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})?$")] = "en"


class ProxyIn(RequestModel):
    scheme: Literal["socks5", "socks4", "http", "mtproxy"]
    host: Host
    port: int = Field(ge=1, le=65535)
    username: Name | None = None
    password: Annotated[SecretStr, Field(min_length=1, max_length=256)] | None = None


class AddAccountRequest(RequestModel):
    mobile: Annotated[str, Field(min_length=1, max_length=64)]
    session: SessionString | None = Field(None, description="The primary session.")
    keeper_session: SessionString | None = Field(None, description="Held by the service only, never handed out.")
    backups: list[SessionString] = Field(default_factory=list, max_length=50, description="Newest first.")
    old_sessions: list[SessionString] | None = Field(
        None, max_length=50, description="The replaced service's name for the backups (give one of the two)."
    )
    format: FormatIn | None = Field(
        None, description="Force the layout of every string in the body; detected per string when absent."
    )
    two_factor_password: Annotated[SecretStr, Field(min_length=1, max_length=256)] | None = None
    identity: IdentityIn | None = None
    proxy: ProxyIn | None = None


class AccountOut(CamelModel):
    mobile: str
    sessions: list[SessionMeta] = Field(description="The sessions stored, without their strings.")
