"""What the service keeps on disk is its owner's only: the data directory 0700; the SQLite database, its -wal/-shm
files and the key file 0600, whether start-up creates them or finds them (a data directory made 0755 by hand with
an empty database file 0644 in it). A mode that cannot be fixed is one warning naming the path and its mode."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from tests.support.cli_env import clean_cli_environment
from tgsessions.adapters import files
from tgsessions.bootstrap import open_runtime
from tgsessions.config import Settings


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return clean_cli_environment(tmp_path, monkeypatch)


@pytest.fixture
def wide_data_dir(data_dir: Path) -> Path:
    """The data directory made by hand, 0755, with an empty database file 0644 in it."""
    data_dir.mkdir()
    os.chmod(data_dir, 0o755)  # noqa: S103 - the fault under test
    database = data_dir / "tgsessions.db"
    database.touch()
    os.chmod(database, 0o644)
    return data_dir


def database_files(data_dir: Path) -> list[Path]:
    main = data_dir / "tgsessions.db"
    return [p for p in (main, main.with_name("tgsessions.db-wal"), main.with_name("tgsessions.db-shm")) if p.exists()]


async def test_a_fresh_start_creates_owner_only_files(data_dir: Path) -> None:
    async with open_runtime(Settings()) as runtime:
        await runtime.factory.list_accounts(limit=1)  # the database is open: -wal/-shm exist now
        assert mode_of(data_dir) == 0o700
        assert mode_of(data_dir / "tgsessions.key") == 0o600
        opened = database_files(data_dir)
        assert data_dir / "tgsessions.db" in opened
        assert {p.name: mode_of(p) for p in opened} == {p.name: 0o600 for p in opened}


async def test_existing_wide_modes_are_narrowed_at_start(wide_data_dir: Path) -> None:
    data_dir, database = wide_data_dir, wide_data_dir / "tgsessions.db"
    async with open_runtime(Settings()) as runtime:
        await runtime.factory.list_accounts(limit=1)
        assert mode_of(data_dir) == 0o700
        assert mode_of(data_dir / "tgsessions.key") == 0o600
        opened = database_files(data_dir)
        assert {p.name: mode_of(p) for p in opened} == {p.name: 0o600 for p in opened}
        assert database in opened
    async with open_runtime(Settings()):  # a second start finds them right and keeps them so
        assert mode_of(data_dir) == 0o700 and mode_of(database) == 0o600


async def test_a_mode_that_cannot_be_fixed_is_one_warning_naming_path_and_mode(
    wide_data_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir, database = wide_data_dir, wide_data_dir / "tgsessions.db"

    def refuse(path: object, mode: int, **_kw: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chmod", refuse)
    with caplog.at_level(logging.WARNING, logger="tgsessions.files"):
        async with open_runtime(Settings()):
            pass
    warnings = [r.getMessage() for r in caplog.records if r.name == "tgsessions.files"]
    about_database = [w for w in warnings if w.startswith(f"{database.resolve()} ")]
    assert len(about_database) == 1, warnings
    assert "0644" in about_database[0] and "\n" not in about_database[0]
    assert "Operation not permitted" in about_database[0]
    assert mode_of(database) == 0o644  # unchanged, and said so
    assert [w for w in warnings if w.startswith(f"{data_dir} has mode 0755")], warnings
    key_text = (data_dir / "tgsessions.key").read_text()
    assert not any(part in w for w in warnings for part in key_text.split('"') if len(part) > 20)


def test_restrict_leaves_narrow_modes_and_missing_paths_alone(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.touch()
    os.chmod(private, 0o400)
    assert files.restrict(private, files.OWNER_ONLY_FILE)
    assert mode_of(private) == 0o400
    assert files.restrict(tmp_path / "missing", files.OWNER_ONLY_FILE)
    assert files.sqlite_files("postgresql+asyncpg://u@h/db") == []
