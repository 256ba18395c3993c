"""Bringing existing sessions in: a Telethon string, a Telethon ``.session`` SQLite file, or a Pyrogram session
string, each turned into a Telethon ``StringSession`` string.

A session is the data-centre id, its address and port, and the 256-byte auth key. Pyrogram strings carry no
address, so the data centre's well-known address is used (production or test servers, as the string says).
Errors are InvalidInput with a message that never contains the input.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import sqlite3
import struct
from enum import StrEnum
from pathlib import Path

from telethon.crypto import AuthKey
from telethon.sessions import StringSession

from tgsessions.domain.errors import InvalidInput
from tgsessions.domain.secret import Secret

PORT = 443
PRODUCTION_DCS = {
    1: "149.154.175.53",
    2: "149.154.167.51",
    3: "149.154.175.100",
    4: "149.154.167.91",
    5: "91.108.56.130",
}
TEST_DCS = {1: "149.154.175.10", 2: "149.154.167.40", 3: "149.154.175.117"}

# Pyrogram's layouts (storage/storage.py): 2.x, then the two 1.x ones (32- and 64-bit user ids).
PYROGRAM_V2 = ">BI?256sQ?"
PYROGRAM_V1 = ">B?256sI?"
PYROGRAM_V1_64 = ">B?256sQ?"


class SessionFormat(StrEnum):
    AUTO = "auto"
    TELETHON = "telethon"  # a StringSession string
    TELETHON_FILE = "telethon-file"  # a .session SQLite file
    PYROGRAM = "pyrogram"  # a Pyrogram session string


def _encode(dc_id: int, address: str, port: int, key: bytes) -> Secret:
    session = StringSession()
    session.set_dc(dc_id, address, port)
    session.auth_key = AuthKey(key)
    return Secret(session.save())


def from_telethon_string(text: str) -> Secret:
    text = text.strip()
    try:
        session = StringSession(text)
    except (ValueError, struct.error, binascii.Error):
        raise InvalidInput("not a Telethon session string", field="session") from None
    if session.auth_key is None:
        raise InvalidInput("the Telethon session string holds no auth key (it is not logged in)", field="session")
    return Secret(session.save())


def from_telethon_file(path: Path) -> Secret:
    """The auth key of a Telethon ``.session`` file (SQLite, table ``sessions``)."""
    if not path.is_file():
        raise InvalidInput(f"no such session file: {path.name}", field="file")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            row = db.execute("SELECT dc_id, server_address, port, auth_key FROM sessions LIMIT 1").fetchone()
    except sqlite3.DatabaseError:
        raise InvalidInput(f"{path.name} is not a Telethon session file", field="file") from None
    if row is None or not row[3]:
        raise InvalidInput(f"{path.name} holds no logged-in session", field="file")
    dc_id, address, port, key = row
    if len(key) != 256:
        raise InvalidInput(f"{path.name} holds a malformed auth key", field="file")
    return _encode(int(dc_id), str(address), int(port), bytes(key))


def from_pyrogram_string(text: str) -> Secret:
    """A Pyrogram (1.x or 2.x) session string as a Telethon string."""
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInput("not a Pyrogram session string", field="session") from None
    for layout in (PYROGRAM_V2, PYROGRAM_V1_64, PYROGRAM_V1):
        if len(raw) == struct.calcsize(layout):
            fields = struct.unpack(layout, raw)
            break
    else:
        raise InvalidInput("not a Pyrogram session string (unknown length)", field="session")
    if layout == PYROGRAM_V2:
        dc_id, _api_id, test_mode, key, _user_id, is_bot = fields
    else:
        dc_id, test_mode, key, _user_id, is_bot = fields
    if is_bot:
        raise InvalidInput("a bot session cannot be a user account's session", field="session")
    table = TEST_DCS if test_mode else PRODUCTION_DCS
    if dc_id not in table:
        raise InvalidInput(f"the Pyrogram session names an unknown data centre {dc_id}", field="session")
    return _encode(dc_id, table[dc_id], PORT, key)


def convert(source: str, fmt: SessionFormat = SessionFormat.AUTO) -> Secret:
    """A Telethon string from ``source`` (the text, or a file path for TELETHON_FILE / AUTO with a .session path)."""
    if fmt is SessionFormat.TELETHON_FILE or (fmt is SessionFormat.AUTO and source.endswith(".session")):
        return from_telethon_file(Path(source))
    if fmt is SessionFormat.TELETHON:
        return from_telethon_string(source)
    if fmt is SessionFormat.PYROGRAM:
        return from_pyrogram_string(source)
    text = source.strip()
    if text.startswith("1"):
        with contextlib.suppress(InvalidInput):  # a Pyrogram string may start with "1" too: tried next
            return from_telethon_string(text)
    try:
        return from_pyrogram_string(text)
    except InvalidInput:
        raise InvalidInput("not a Telethon or Pyrogram session string", field="session") from None
