"""The environment the CLI tests run commands in: a clean one, in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def clean_cli_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No TGS_* variable from outside, no .env (the working directory is ``tmp_path``), the simulated backend
    chosen; returns the data directory (``tmp_path/data``)."""
    for name in list(os.environ):
        if name.startswith("TGS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TGS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TGS_TELEGRAM_BACKEND", "simulated")
    return tmp_path / "data"
