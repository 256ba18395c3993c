"""``tgsessions accounts import``: existing sessions in three formats, checked at Telegram before they are stored."""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from pathlib import Path

from telethon.sessions import SQLiteSession, StringSession

from tests.cli.conftest import Invoke, error_lines
from tgsessions.domain.session_codec import PYROGRAM_V2

PHONE = "79160000042"


def test_import_a_string_from_stdin_as_keeper_then_fetch_mints(
    invoke: Invoke, telegram_sessions: Callable[[str, int], list[str]]
) -> None:
    (keeper,) = telegram_sessions(PHONE, 1)
    result = invoke("accounts", "import", PHONE, "-", "--two-fa-stdin", input=f"{keeper}\nthe-2fa-password\n")
    assert result.exit_code == 0, result.stderr
    assert "as the keeper of" in result.stdout and keeper not in result.stdout + result.stderr
    fetched = invoke("fetch", PHONE)
    assert fetched.exit_code == 0, fetched.stderr
    assert fetched.stdout.strip() not in ("", keeper)  # minted from the keeper, with the stored 2FA password


def test_import_a_session_file_and_a_pyrogram_string_as_backups(
    invoke: Invoke, telegram_sessions: Callable[[str, int], list[str]], tmp_path: Path
) -> None:
    primary, second, third = telegram_sessions(PHONE, 3)
    assert invoke("accounts", "add", PHONE, "--session", "-", input=f"{primary}\n").exit_code == 0
    decoded = StringSession(second)
    file = SQLiteSession(str(tmp_path / "second"))
    file.set_dc(decoded.dc_id, decoded.server_address, decoded.port)
    file.auth_key = decoded.auth_key
    file.save()
    file.close()
    result = invoke("accounts", "import", PHONE, str(tmp_path / "second.session"), "--as", "backup", "--json")
    assert result.exit_code == 0, result.stderr
    assert '"role": "backup"' in result.stdout
    third_session = StringSession(third)
    assert third_session.auth_key is not None
    pyro = struct.pack(PYROGRAM_V2, third_session.dc_id, 1, False, third_session.auth_key.key, 42, False)
    (tmp_path / "pyro.txt").write_text(base64.urlsafe_b64encode(pyro).decode().rstrip("="))
    result = invoke("accounts", "import", PHONE, str(tmp_path / "pyro.txt"), "--as", "backup")
    # the simulated Telegram knows the auth key; the address comes from the DC table, the key is what counts
    assert result.exit_code == 0, result.stderr
    shown = invoke("accounts", "show", PHONE, "--json")
    assert shown.stdout.count('"role": "backup"') == 2


def test_import_refuses_bad_input_in_one_line(
    invoke: Invoke, telegram_sessions: Callable[[str, int], list[str]], tmp_path: Path
) -> None:
    (string,) = telegram_sessions(PHONE, 1)
    (tmp_path / "junk.txt").write_text("definitely not a session")
    result = invoke("accounts", "import", PHONE, str(tmp_path / "junk.txt"))
    assert result.exit_code == 1 and len(error_lines(result)) == 1
    assert "not a session string" in result.stderr
    junk = "1" + "QUJD" * 88
    (tmp_path / "junk.txt").write_text(junk)
    result = invoke("accounts", "import", PHONE, str(tmp_path / "junk.txt"))
    assert result.exit_code == 1 and len(error_lines(result)) == 1 and junk not in result.stderr
    assert "fits no session layout (tried: telethon, gramjs, pyrogram)" in result.stderr
    result = invoke("accounts", "import", PHONE, str(tmp_path / "junk.txt"), "--format", "nonsense")
    assert result.exit_code == 1 and "--format must be one of" in result.stderr
    result = invoke("accounts", "import", "447700900123", "-", input=f"{string}\n")
    assert result.exit_code == 1 and "another phone" in result.stderr and string not in result.stderr
    result = invoke("accounts", "import", PHONE, "-", "--as", "owner", input=f"{string}\n")
    assert result.exit_code == 2
