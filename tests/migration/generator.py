"""Generated exports of the replaced service (mongoexport's Extended JSON), written line by line to a file.

Everything about record ``i`` is a function of ``i``, so a test can check any account without keeping the file's
contents in memory. Every value type mongoexport writes appears: ``$oid``, ``$date`` as ISO 8601 and as
``$numberLong`` milliseconds, ``$numberLong`` (also as a phone number), nested ``sessionHistory`` entries that hold
session text (which must be dropped), and a few bad records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from telethon.crypto import AuthKey
from telethon.sessions import StringSession

from tgsessions.domain.session_codec import PRODUCTION_DCS as DC_ADDRESSES

BASE = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
MAX_BACKUPS = 10
USERS_ONLY = 5  # phones that exist only in the users file


def phone(i: int) -> str:
    return f"79{i:09d}"


def session(i: int, k: int) -> str:
    """A Telethon ``StringSession`` text made by Telethon itself, unique per (i, k): the auth key is a function of
    (i, k), the data centre of i."""
    key = hashlib.sha256(f"{i}:{k}".encode()).digest() * 8
    made = StringSession()
    dc = i % 5 + 1
    made.set_dc(dc, DC_ADDRESSES[dc], 443)
    made.auth_key = AuthKey(key)
    return str(made.save())


def password(i: int) -> str:
    return f"pw {i} secret!"


def backup_count(i: int) -> int:
    return 12 if i % 97 == 0 else i % 4


def expected_backups(i: int) -> list[str]:
    return [session(i, k) for k in range(1, backup_count(i) + 1)][:MAX_BACKUPS]


def has_user(i: int) -> bool:
    return i % 3 == 0


def keeper(i: int) -> str:
    """The users file's session: an existing backup for some, a new string for the others."""
    return session(i, 1) if i % 30 == 3 and backup_count(i) >= 1 else session(i, 20)


def created_at(i: int) -> datetime:
    return BASE + timedelta(minutes=i, milliseconds=i % 1000)


def updated_at(i: int) -> datetime:
    return created_at(i) + timedelta(days=3, milliseconds=7)


def last_updated(i: int) -> datetime:
    return created_at(i) + timedelta(days=2, milliseconds=5)


def last_cleanup(i: int) -> datetime | None:
    return None if i % 3 == 0 else created_at(i) + timedelta(days=1)


def history_count(i: int) -> int:
    return 2 if i % 2 == 0 else 0


def _iso(moment: datetime) -> dict[str, str]:
    return {"$date": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"}


def _millis(moment: datetime) -> dict[str, dict[str, str]]:
    return {"$date": {"$numberLong": str(int(moment.timestamp() * 1000))}}


def _date(i: int, moment: datetime) -> dict[str, Any]:
    return _iso(moment) if i % 2 == 0 else _millis(moment)


def _oid(i: int, salt: int = 0) -> dict[str, str]:
    return {"$oid": f"{salt:08x}{i:016x}"}


def _mobile(i: int) -> object:
    return ["+" + phone(i), {"$numberLong": phone(i)}, int(phone(i)), phone(i)][i % 4]


def archived_client(i: int) -> dict[str, Any]:
    backups = [session(i, k) for k in range(1, backup_count(i) + 1)]
    doc: dict[str, Any] = {
        "_id": _oid(i),
        "mobile": _mobile(i),
        "session": session(i, 0),
        "oldSessions": backups + ([session(i, 0), backups[0]] if backups else []),
        "createdAt": _date(i, created_at(i)),
        "updatedAt": _date(i + 1, updated_at(i)),
        "lastUpdated": _date(i, last_updated(i)),
        "retries": {"$numberLong": "12345678901"},
        "__v": 0,
    }
    if (cleanup := last_cleanup(i)) is not None:
        doc["lastCleanup"] = _date(i + 1, cleanup)
    if history_count(i):
        doc["sessionHistory"] = [
            {"_id": _oid(i, 1), "action": "updated", "reason": "expired", "date": _iso(created_at(i)),
             "session": session(i, 9), "count": {"$numberLong": "3"}},
            {"description": "moved to backup", "timestamp": _millis(last_updated(i)), "oldSession": session(i, 1),
             "note": session(i, 8)},
        ]  # fmt: skip
    return doc


def user(i: int) -> dict[str, Any]:
    return {"_id": _oid(i, 2), "mobile": phone(i), "session": keeper(i), "password": password(i),
            "createdAt": _millis(created_at(i))}  # fmt: skip


@dataclass(frozen=True)
class BadRecords:
    """Where the bad records are (line numbers, or array indexes in the --jsonArray variant)."""

    bad_phone: int
    no_session: int
    duplicate: int
    malformed: int


def _archived_lines(count: int) -> Iterator[str | None]:
    """Documents as JSON text; ``None`` marks where the malformed line goes (lines layout)."""
    for i in range(count):
        yield json.dumps(archived_client(i))
        if i == 10:
            yield json.dumps({"mobile": "12ab34", "session": session(-1, 0)})
        if i == 20:
            yield json.dumps({"_id": _oid(2, 7), "mobile": phone(10**8 + 1), "oldSessions": []})
        if i == 30:
            yield None
        if i == 40:
            yield json.dumps({"mobile": phone(5), "session": session(-4, 0)})


MALFORMED = '{"mobile": "79999999999", "session": "1abc'


def write_archived_clients(path: Path, count: int, *, array: bool) -> BadRecords:
    """Write ``count`` good records plus four bad ones. In an array the malformed item must be the last one
    (a parser cannot resume inside an array), so it goes at the end there."""
    assert count > 41
    with path.open("w", encoding="utf-8") as out:
        if not array:
            for text in _archived_lines(count):
                out.write((MALFORMED if text is None else text) + "\n")
            return BadRecords(bad_phone=12, no_session=23, duplicate=45, malformed=34)
        out.write("[\n")
        for text in _archived_lines(count):
            if text is not None:
                out.write(text + ",\n")
        out.write(MALFORMED + "\n]\n")
        return BadRecords(bad_phone=11, no_session=22, duplicate=43, malformed=count + 3)


def write_users(path: Path, count: int) -> int:
    """Users of every third phone, ``USERS_ONLY`` phones that only exist here, and one without a mobile (its line
    number is returned)."""
    with path.open("w", encoding="utf-8") as out:
        line = 0
        for i in range(count):
            if has_user(i):
                out.write(json.dumps(user(i)) + "\n")
                line += 1
        for j in range(USERS_ONLY):
            out.write(json.dumps(user(count + j)) + "\n")
            line += 1
        out.write(json.dumps({"session": session(-9, 0)}) + "\n")
        return line + 1


def users_count(count: int) -> int:
    return sum(1 for i in range(count) if has_user(i))
