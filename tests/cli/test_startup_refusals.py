"""Every command that opens the database refuses, with one line and exit code 1, a missing key file over stored
secrets and a database the other Telegram backend wrote."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from click.testing import Result

from tests.cli.conftest import Invoke


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    """serve configures logging (onto the runner's stderr) before it opens the runtime: undo that afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    structlog.reset_defaults()


def error_lines(result: Result) -> list[str]:
    """The lines on stderr that are not log records (serve logs the migration check before it refuses)."""
    return [line for line in result.stderr.splitlines() if not line.startswith("{")]


@pytest.mark.parametrize(
    "args",
    [
        ("accounts", "list"),
        ("keys", "list"),
        ("keys", "create", "late", "--scopes", "admin"),
        ("export", "out.json"),
        ("serve",),
    ],
)
def test_a_missing_key_file_over_stored_secrets_is_refused(
    invoke: Invoke, demo_phones: list[str], data_dir: Path, args: tuple[str, ...]
) -> None:
    key_file = data_dir / "tgsessions.key"
    key_file.rename(data_dir.parent / "elsewhere.key")
    result = invoke(*args)
    assert result.exit_code == 1, result.output
    (line,) = error_lines(result)
    assert line.startswith(f"error: key file {key_file} does not exist, but the database holds ")
    assert "encrypted secrets (12 session strings)" in line and "TGS_KEY_FILE" in line
    assert not key_file.exists()


def test_rotation_refuses_a_missing_key_file_too(invoke: Invoke, demo_phones: list[str], data_dir: Path) -> None:
    (data_dir / "tgsessions.key").unlink()
    result = invoke("keys", "rotate-encryption")
    assert result.exit_code == 1 and "tgsessions.key does not exist" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_the_telethon_backend_refuses_the_demo_database(
    invoke: Invoke, demo_phones: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TGS_TELEGRAM_BACKEND", "telethon")
    monkeypatch.setenv("TGS_API_ID", "12345")
    monkeypatch.setenv("TGS_API_HASH", "0" * 32)
    for args in (("accounts", "list"), ("serve",)):
        result = invoke(*args)
        assert result.exit_code == 1, result.output
        (line,) = error_lines(result)
        assert "written by the simulated Telegram backend, not telethon" in line
        assert "TGS_ALLOW_BACKEND_SWITCH=1" in line
    monkeypatch.setenv("TGS_ALLOW_BACKEND_SWITCH", "1")
    switched = invoke("accounts", "list")
    assert switched.exit_code == 0, switched.stderr
    monkeypatch.delenv("TGS_ALLOW_BACKEND_SWITCH")
    monkeypatch.setenv("TGS_TELEGRAM_BACKEND", "simulated")
    back = invoke("accounts", "list")
    assert back.exit_code == 1 and "written by the telethon Telegram backend, not simulated" in back.stderr
