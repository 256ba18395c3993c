"""Telethon ``.session`` files (SQLite, table ``sessions``) read into the codec's :class:`SessionData`.

The file is opened read-only; errors are InvalidInput naming the file, never its content.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tgsessions.domain.errors import InvalidInput
from tgsessions.domain.session_codec import SessionData, from_file_row


def read_telethon_file(path: Path) -> SessionData:
    if not path.is_file():
        raise InvalidInput(f"no such session file: {path.name}", field="file")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            row = db.execute("SELECT dc_id, server_address, port, auth_key FROM sessions LIMIT 1").fetchone()
    except sqlite3.DatabaseError:
        raise InvalidInput(f"{path.name} is not a Telethon session file", field="file") from None
    if row is None:
        raise InvalidInput(f"{path.name} holds no logged-in session", field="file")
    try:
        return from_file_row(*row)
    except InvalidInput as exc:
        raise InvalidInput(f"{path.name}: {exc.message}", field="file") from None
