"""The replaced service's documents, checked and typed: ``archivedClients`` and ``users`` records.

Input is a :class:`~tgsessions.domain.migration.SourceRecord`'s plain document (see adapters/mongo). A document
that cannot become a record raises :class:`Rejected` with a short reason that never quotes a session string or a
password (it may name the phone number).

``sessionHistory`` entries keep their date and a short description built only from a few known, non-secret fields;
any session text in them is dropped: fields that could hold one are never read, and a value that looks like a
session string (a long run of base64 characters) or contains one of the record's strings is left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from tgsessions.domain.errors import InvalidInput
from tgsessions.domain.migration import PositionUnit, SourceRecord
from tgsessions.domain.phone import normalise_phone
from tgsessions.domain.secret import Secret
from tgsessions.domain.session_codec import SessionFormat
from tgsessions.service.session_strings import IncomingSession, read_session
from tgsessions.service.sessions import as_secret

ARCHIVED_CLIENTS = "archivedClients"
USERS = "users"
REDACTED_MARK = "tgsessionsSessionIdsOnly"  # set by an export without secrets: its "sessions" are session_ids

HISTORY_DATE_FIELDS = ("date", "timestamp", "at", "createdAt", "updatedAt", "time")
HISTORY_TEXT_FIELDS = ("action", "event", "type", "status", "reason", "result", "source", "by", "note", "message")
MAX_DESCRIPTION = 200
_SECRET_LOOKING = re.compile(r"[A-Za-z0-9+/=_-]{40,}")


class Rejected(Exception):
    """This record cannot be imported; ``reason`` is safe to show."""

    def __init__(self, reason: str, *, phone: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.phone = phone


@dataclass(frozen=True, slots=True)
class SourceHistoryEntry:
    index: int
    at: datetime | None
    description: str
    entry_id: str | None = None


@dataclass(frozen=True, slots=True)
class ArchivedClient:
    position: int
    unit: PositionUnit
    phone: str
    primary: IncomingSession
    backups: tuple[IncomingSession, ...]  # newest first, deduplicated by auth key, the primary left out
    created_at: datetime | None
    updated_at: datetime | None
    last_updated: datetime | None
    last_cleanup: datetime | None
    history: tuple[SourceHistoryEntry, ...]

    def strings(self) -> list[IncomingSession]:
        return [self.primary, *self.backups]


@dataclass(frozen=True, slots=True)
class UserRecord:
    position: int
    unit: PositionUnit
    phone: str
    keeper: IncomingSession | None
    password: Secret | None


def _phone(document: Mapping[str, object]) -> str:
    if document.get("mobile") is None:
        raise Rejected("bad phone: no mobile field")
    try:
        return normalise_phone(document["mobile"])
    except InvalidInput as exc:
        raise Rejected(f"bad phone: {exc.message}") from None


def _when(document: Mapping[str, object], name: str) -> datetime | None:
    value = document.get(name)
    return value if isinstance(value, datetime) else None


def _session(
    value: object, *, where: str, phone: str, raw: dict[str, IncomingSession], fmt: SessionFormat | None
) -> IncomingSession | None:
    """A session string in any layout (the replaced service's are GramJS), or None for an empty slot; an entry may
    also be an object with a ``session`` field. The text as found is kept in ``raw`` (for the history filter), with
    what it reads as: a text a record repeats (its primary among its ``oldSessions``, often) is decoded once."""
    if isinstance(value, Mapping):
        value = value.get("session")
    if value is None or value == "":
        return None
    if isinstance(value, str) and (known := raw.get(value.strip())) is not None:
        return known
    try:
        incoming = read_session(value, field=where, fmt=fmt)
    except InvalidInput as exc:
        raise Rejected(f"bad session: {exc.message}", phone=phone) from None
    raw[str(value).strip()] = incoming
    return incoming


def _check_not_redacted(document: Mapping[str, object], phone: str) -> None:
    if document.get(REDACTED_MARK):
        raise Rejected("no session: the file was exported without secrets (it holds session ids)", phone=phone)


def parse_archived_client(record: SourceRecord, fmt: SessionFormat | None = None) -> ArchivedClient:
    document = record.document
    assert document is not None
    phone = _phone(document)
    _check_not_redacted(document, phone)
    raw: dict[str, IncomingSession] = {}
    primary = _session(document.get("session"), where="session", phone=phone, raw=raw, fmt=fmt)
    if primary is None:
        raise Rejected("no session", phone=phone)
    old = document.get("oldSessions")
    if old is not None and not isinstance(old, list):
        raise Rejected("bad oldSessions: not a list", phone=phone)
    backups: list[IncomingSession] = []
    seen = {primary.data.identity()}
    for index, value in enumerate(old or []):
        incoming = _session(value, where=f"oldSessions[{index}]", phone=phone, raw=raw, fmt=fmt)
        if incoming is not None and incoming.data.identity() not in seen:
            seen.add(incoming.data.identity())
            backups.append(incoming)
    secrets = [Secret(text) for text in raw] + [s.string for s in (primary, *backups)]
    return ArchivedClient(
        position=record.position,
        unit=record.unit,
        phone=phone,
        primary=primary,
        backups=tuple(backups),
        created_at=_when(document, "createdAt"),
        updated_at=_when(document, "updatedAt"),
        last_updated=_when(document, "lastUpdated"),
        last_cleanup=_when(document, "lastCleanup"),
        history=tuple(_history(document.get("sessionHistory"), secrets)),
    )


def parse_user(record: SourceRecord, fmt: SessionFormat | None = None) -> UserRecord:
    document = record.document
    assert document is not None
    phone = _phone(document)
    _check_not_redacted(document, phone)
    keeper = _session(document.get("session"), where="session", phone=phone, raw={}, fmt=fmt)
    raw_password = document.get("password")
    password = None
    if raw_password is not None and raw_password != "":
        try:
            password = as_secret(raw_password, field="password", password=True)
        except InvalidInput as exc:
            raise Rejected(f"bad password: {exc.message}", phone=phone) from None
    if keeper is None and password is None:
        raise Rejected("no session", phone=phone)
    return UserRecord(record.position, record.unit, phone, keeper, password)


def _history(entries: object, secrets: list[Secret]) -> list[SourceHistoryEntry]:
    if not isinstance(entries, list):
        return []
    found: list[SourceHistoryEntry] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            continue
        at = next((v for name in HISTORY_DATE_FIELDS if isinstance(v := entry.get(name), datetime)), None)
        entry_id = entry.get("_id")
        entry_id = entry_id if isinstance(entry_id, str) else None
        found.append(SourceHistoryEntry(index, at, describe(entry, secrets), entry_id))
    return found


def _safe(value: object, secrets: Sequence[Secret]) -> str | None:
    if isinstance(value, bool) or value is None:
        return None if value is None else str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    if not text or _SECRET_LOOKING.search(text) or any(s.reveal() in text for s in secrets):
        return None
    return text


def describe(entry: Mapping[str, object], secrets: Sequence[Secret] = ()) -> str:
    """A short, non-secret description of one history entry (its ``description`` when it has one)."""
    own = _safe(entry.get("description"), secrets)
    if own is not None:
        return own[:MAX_DESCRIPTION]
    parts = [f"{name}: {text}" for name in HISTORY_TEXT_FIELDS if (text := _safe(entry.get(name), secrets))]
    return "; ".join(parts)[:MAX_DESCRIPTION] or "history entry"
