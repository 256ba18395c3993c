"""``tgsessions login``: an interactive login through the Telethon gateway code, answered by the TL-level server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.cli.conftest import Invoke
from tests.telegram.tl_server import API_HASH, API_ID, TLServer
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.bootstrap import open_runtime
from tgsessions.cli import commands_onboarding
from tgsessions.config import Settings
from tgsessions.domain.clock import SystemClock
from tgsessions.service.results import FetchResult

PHONE = "79160000055"
PASSWORD = "correct horse battery"


@pytest.fixture
def server(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> TLServer:
    monkeypatch.setenv("TGS_TELEGRAM_BACKEND", "telethon")
    monkeypatch.setenv("TGS_API_ID", str(API_ID))
    monkeypatch.setenv("TGS_API_HASH", API_HASH)
    world = SimulatedTelegram(SystemClock(), seed=3)
    world.add_account(PHONE, two_fa=PASSWORD)
    tl = TLServer(world)
    monkeypatch.setattr(commands_onboarding, "CLIENT_CLASS", tl.client_class())
    return tl


def answers(server: TLServer, *, first_code_wrong: bool = False, password: str = PASSWORD) -> list[str]:
    asked: list[str] = []

    async def ask(prompt: str) -> str:
        asked.append(prompt)
        if "code" in prompt:
            if first_code_wrong and len([p for p in asked if "code" in p]) == 1:
                return "00000"
            return server.sent_codes[-1]
        return password

    commands_onboarding.ASK = ask
    return asked


def test_login_stores_the_keeper_and_the_2fa_password(invoke: Invoke, server: TLServer) -> None:
    asked = answers(server, first_code_wrong=True)
    try:
        result = invoke("login", PHONE, "--json")
    finally:
        commands_onboarding.ASK = None
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["role"] == "keeper"
    assert [p.split(";")[0] for p in asked] == [
        "login code (sent to the account's Telegram apps or by SMS)",
        "that code was wrong (each try counts against the login budget)",
        "2FA password",
    ]
    assert PASSWORD not in result.stdout + result.stderr
    assert server.world.alive_authorizations(PHONE) == 1
    # the stored keeper and password are enough to mint: fetch hands out a brand-new session
    fetched = asyncio.run(fetch_in_process(server))
    assert fetched.how == "minted" and server.world.is_alive(fetched.session)
    assert server.world.alive_authorizations(PHONE) == 2


async def fetch_in_process(server: TLServer) -> FetchResult:
    """The CLI's own commands would use Telethon's real transport; this runs the same runtime over the TL server."""
    async with open_runtime(Settings(), telegram_client_class=server.client_class()) as runtime:
        return await runtime.factory.fetch_one(PHONE)


def test_login_with_a_wrong_password_three_times_fails_in_one_line(invoke: Invoke, server: TLServer) -> None:
    answers(server, password="wrong")
    try:
        result = invoke("login", PHONE)
    finally:
        commands_onboarding.ASK = None
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: the 2FA password was wrong three times; ")
    assert "end it from another session" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    account = server.world.lookup_account(PHONE)
    assert account is not None  # as Telegram: the password-pending login stays, its own logOut refused
    assert [a.password_pending for a in account.authorizations if a.alive] == [True]


def test_login_needs_the_telethon_backend(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TGS_TELEGRAM_BACKEND", "simulated")
    result = invoke("login", PHONE)
    assert result.exit_code == 1 and "TGS_TELEGRAM_BACKEND=telethon" in result.stderr
