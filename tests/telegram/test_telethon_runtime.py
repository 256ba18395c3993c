"""The whole service on the Telethon backend, chosen by settings and pointed at a custom MTProto endpoint (DC id,
host, port, RSA key): the same code as production, with Telethon's transport answered by the TL-level server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from telethon.crypto import rsa as telethon_rsa

from tests.telegram.tl_server import API_HASH, API_ID, TLServer
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.bootstrap import open_runtime
from tgsessions.config import Settings
from tgsessions.domain.errors import ConfigurationError
from tgsessions.domain.model import Role
from tgsessions.testing.clock import FakeClock

PHONE = "79160000077"


def settings(tmp_path: Path, **extra: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "telegram_backend": "telethon",
        "api_id": API_ID,
        "api_hash": API_HASH,
        "telegram_endpoint": "custom",
        "telegram_dc_id": 2,
        "telegram_host": "10.20.30.40",
        "telegram_port": 8443,
        "telegram_rsa_key_file": tmp_path / "server.pem",
        "mint_timeout": 5,
        "retry_base_delay": 0,
        "target_backups": 0,
        "_env_file": None,
    }
    return Settings(**(values | extra))  # type: ignore[arg-type]


async def test_every_flow_goes_through_the_telethon_gateway(tmp_path: Path) -> None:
    clock = FakeClock()
    world = SimulatedTelegram(clock, seed=11)
    server = TLServer(world)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    (tmp_path / "server.pem").write_bytes(
        key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    )
    before = set(telethon_rsa._server_keys)
    world.add_account(PHONE, two_fa="correct horse")
    primary = world.create_session(PHONE, age=timedelta(days=40))
    keeper = world.create_session(PHONE, age=timedelta(days=90))
    backup = world.create_session(PHONE, age=timedelta(days=30))
    async with open_runtime(settings(tmp_path), clock=clock, telegram_client_class=server.client_class()) as runtime:
        assert set(telethon_rsa._server_keys) - before  # the custom server's RSA key was registered
        factory = runtime.factory
        assert factory.telegram_backend == "telethon" and runtime.simulated is None
        await factory.add_account(PHONE, primary=primary, keeper=keeper, backups=[backup], two_fa="correct horse")
        first = await factory.fetch_one(PHONE)
        assert first.session == primary and first.how == "validated"
        world.revoke(primary)
        clock.advance(301)
        promoted = await factory.fetch_one(PHONE)
        assert promoted.session == backup and promoted.how == "promoted"
        world.revoke(backup)
        clock.advance(301)
        minted = await factory.fetch_one(PHONE)
        assert minted.how == "minted" and world.is_alive(minted.session)  # QR login + SRP 2FA at the TL level
        extra = world.create_session(PHONE, age=timedelta(days=5))
        await factory.add_session(PHONE, extra, role=Role.BACKUP)
        report = await factory.cleanup_sessions(PHONE, 0)
        assert len(report.revoked) == 1 and not world.is_alive(extra)  # auth.LogOutRequest went through
        status = await factory.session_status(PHONE)
        assert status.primary_alive is True and status.keeper is not None
    assert world.login_attempts(PHONE) == 1 and world.calls["log_out"] == 1  # one login: the QR mint
    assert world.calls["validate"] >= 4


def test_the_telethon_backend_needs_its_credentials_and_endpoint(tmp_path: Path) -> None:
    from tgsessions.bootstrap import build_gateway

    with pytest.raises(ConfigurationError, match="TGS_API_HASH"):
        build_gateway(settings(tmp_path, api_hash=None), FakeClock())
    with pytest.raises(ConfigurationError, match="TGS_TELEGRAM_HOST"):
        build_gateway(settings(tmp_path, telegram_host=None, telegram_rsa_key_file=None), FakeClock())
    with pytest.raises(ConfigurationError, match="PEM"):
        build_gateway(settings(tmp_path, telegram_rsa_key_file=tmp_path / "missing.pem"), FakeClock())
