"""Importing sessions: Telethon strings, Telethon .session files and Pyrogram strings become canonical Telethon
strings (the codec, through the same calls as ``accounts import``)."""

from __future__ import annotations

import base64
import os
import struct
from pathlib import Path

import pytest
from telethon.crypto import AuthKey
from telethon.sessions import SQLiteSession, StringSession

from tgsessions.adapters.telegram.session_files import read_telethon_file
from tgsessions.domain.errors import InvalidInput
from tgsessions.domain.secret import Secret
from tgsessions.domain.session_codec import PRODUCTION_DCS, PYROGRAM_V1, PYROGRAM_V2, TEST_DCS, SessionFormat
from tgsessions.service.session_strings import from_data, read_session

AUTO = None


def convert(source: str, fmt: SessionFormat | None) -> Secret:
    """What ``accounts import`` does with SOURCE: a .session file by path, else the text."""
    if fmt is SessionFormat.TELETHON_FILE or (fmt is None and source.endswith(".session")):
        return from_data(read_telethon_file(Path(source)), SessionFormat.TELETHON_FILE, field="file").string
    return read_session(source, field="session", fmt=fmt).string


KEY = os.urandom(256)


def pyrogram(layout: str, *fields: object) -> str:
    return base64.urlsafe_b64encode(struct.pack(layout, *fields)).decode().rstrip("=")


def decoded(secret_text: str) -> StringSession:
    return StringSession(secret_text)


def test_a_telethon_string_is_kept_as_it_is() -> None:
    original = StringSession()
    original.set_dc(4, "149.154.167.91", 443)
    original.auth_key = AuthKey(KEY)
    text = original.save()
    for fmt in (AUTO, SessionFormat.TELETHON):
        assert convert(f"  {text}\n", fmt).reveal() == text


def test_a_telethon_session_file_becomes_a_string(tmp_path: Path) -> None:
    file = SQLiteSession(str(tmp_path / "account"))
    file.set_dc(2, "149.154.167.51", 443)
    file.auth_key = AuthKey(KEY)
    file.save()
    file.close()
    path = tmp_path / "account.session"
    for fmt in (AUTO, SessionFormat.TELETHON_FILE):
        session = decoded(convert(str(path), fmt).reveal())
        assert session.auth_key is not None and session.auth_key.key == KEY
        assert (session.dc_id, session.server_address, session.port) == (2, "149.154.167.51", 443)


@pytest.mark.parametrize(
    ("layout", "fields", "dc", "address"),
    [
        (PYROGRAM_V2, (2, 123456, False, KEY, 777000123, False), 2, PRODUCTION_DCS[2]),
        (PYROGRAM_V2, (3, 123456, True, KEY, 777000123, False), 3, TEST_DCS[3]),
        (PYROGRAM_V1, (5, False, KEY, 123456789, False), 5, PRODUCTION_DCS[5]),
    ],
)
def test_a_pyrogram_string_becomes_a_telethon_string(
    layout: str, fields: tuple[object, ...], dc: int, address: str
) -> None:
    text = pyrogram(layout, *fields)
    for fmt in (AUTO, SessionFormat.PYROGRAM):
        session = decoded(convert(text, fmt).reveal())
        assert session.auth_key is not None and session.auth_key.key == KEY
        assert (session.dc_id, session.server_address, session.port) == (dc, address, 443)


def test_bad_input_is_refused_without_echoing_it(tmp_path: Path) -> None:
    secretish = "1" + "A" * 351 + "zz-not-base64!"
    bot = pyrogram(PYROGRAM_V2, 2, 1, False, KEY, 42, True)
    not_sqlite = tmp_path / "x.session"
    not_sqlite.write_bytes(b"this is not a database" * 10)
    empty = SQLiteSession(str(tmp_path / "empty"))
    empty.save()
    empty.close()
    cases_ = [
        (secretish, AUTO, "not a session string"),
        ("1" + "A" * 351, AUTO, r"fits no session layout \(tried: telethon, gramjs, pyrogram\)"),
        ("abc", SessionFormat.PYROGRAM, r"fits no session layout \(tried: pyrogram\)"),
        (bot, SessionFormat.PYROGRAM, "fits no session layout"),  # a bot's session is no account's
        (str(tmp_path / "missing.session"), AUTO, "no such session file"),
        (str(not_sqlite), SessionFormat.TELETHON_FILE, "not a Telethon session file"),
        (str(tmp_path / "empty.session"), SessionFormat.TELETHON_FILE, "no logged-in session"),
    ]
    cases: list[tuple[str, SessionFormat | None, str]] = cases_
    for source, fmt, why in cases:
        with pytest.raises(InvalidInput, match=why) as caught:
            convert(source, fmt)
        assert source not in str(caught.value) or source.endswith(".session")
        assert secretish not in str(caught.value) and bot not in str(caught.value)
