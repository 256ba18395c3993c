"""The installed entry point as a real process: exit codes and one-line errors without tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TGS_")}
    clean |= {"TGS_DATA_DIR": str(tmp_path / "data"), "TGS_TELEGRAM_BACKEND": "simulated", **env}
    return subprocess.run(  # noqa: S603 - our own entry point
        [sys.executable, "-m", "tgsessions.cli", *args],
        cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_unknown_phone_exits_1_with_one_line(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "fetch", "79000000000")
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "error: no account with phone 79000000000\n")


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"  # nothing listens on port 1
    result = run_cli(tmp_path, "migrate", TGS_DATABASE_URL=url)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")


@pytest.mark.parametrize("args", [("fetch",), ("keys", "create", "x", "--scopes", "nope")])
def test_usage_error_exits_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run_cli(tmp_path, *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
