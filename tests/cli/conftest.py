"""CLI tests run the real commands in-process (typer's CliRunner) on a data directory in tmp_path, with the
simulated Telegram. The simulated world is saved in the data directory, so one command can see what another did."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from tests.support.cli_env import clean_cli_environment
from tgsessions.adapters.telegram.simulated.persistence import PersistentSimulatedGateway
from tgsessions.bootstrap import SIMULATED_STATE, open_runtime
from tgsessions.cli.main import app
from tgsessions.config import Settings
from tgsessions.demo import seed_demo_accounts
from tgsessions.domain.clock import SystemClock

Invoke = Callable[..., Result]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment: no TGS_* variable from outside, no .env, the simulated backend chosen."""
    return clean_cli_environment(tmp_path, monkeypatch)


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
