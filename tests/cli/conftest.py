"""CLI tests run the real commands in-process (typer's CliRunner) on a data directory in tmp_path, with the
simulated Telegram. The simulated world is saved in the data directory, so one command can see what another did."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from tgsessions.adapters.telegram.simulated.persistence import PersistentSimulatedGateway
from tgsessions.bootstrap import SIMULATED_STATE, open_runtime, seed_demo_accounts
from tgsessions.cli.main import app
from tgsessions.config import Settings
from tgsessions.domain.clock import SystemClock

Invoke = Callable[..., Result]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment: no TGS_* variable from outside, no .env, the simulated backend chosen."""
    for name in list(os.environ):
        if name.startswith("TGS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TGS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TGS_TELEGRAM_BACKEND", "simulated")
    return tmp_path / "data"


@pytest.fixture
def invoke(data_dir: Path) -> Invoke:
    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)

    return run


@pytest.fixture
def demo_phones(data_dir: Path) -> list[str]:
    """The three demo accounts `serve` seeds, stored in data_dir."""

    async def seed() -> list[str]:
        async with open_runtime(Settings()) as runtime:
            return await seed_demo_accounts(runtime)

    return asyncio.run(seed())


@pytest.fixture
def telegram_sessions(data_dir: Path) -> Callable[[str, int], list[str]]:
    """Create ``count`` live authorizations of a new phone in the saved simulated world; returns their strings."""

    def create(phone: str, count: int) -> list[str]:
        gateway = PersistentSimulatedGateway.open(SystemClock(), data_dir / SIMULATED_STATE)
        gateway.world.add_account(phone, two_fa="the-2fa-password")
        strings = [gateway.world.create_session(phone).reveal() for _ in range(count)]
        gateway.save()
        return strings

    return create


def error_lines(result: Result) -> list[str]:
    return result.stderr.splitlines()
