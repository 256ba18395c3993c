"""Shared fixtures. Database fixtures live in tests/support/db_fixtures.py (a plugin registered here)."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator

import pytest
import structlog

from tgsessions.testing.clock import FakeClock

pytest_plugins = ["tests.support.db_fixtures"]


@pytest.fixture(autouse=True)
def no_real_telegram(monkeypatch: pytest.MonkeyPatch) -> None:
    """Telegram is unreachable from tests, and no test may try: Telethon's own connect fails at once. Tests drive
    Telethon through tests/telegram/tl_server.py's ScriptedClient, which replaces connect."""
    from telethon.client.telegrambaseclient import TelegramBaseClient

    async def refuse(self: object) -> None:
        raise ConnectionRefusedError("tests never connect to real Telegram")

    monkeypatch.setattr(TelegramBaseClient, "connect", refuse)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return os.environ.get("TGS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ.get("TGS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Every log record of the test, through the production pipeline (JSON, redacted), into a string."""
    from tgsessions.adapters.logs import configure_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging(fmt="json", level="DEBUG", stream=stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    structlog.reset_defaults()
