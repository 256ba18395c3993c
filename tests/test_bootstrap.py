"""The composition root: settings → adapters, the embedded default, refusals with clear messages, the demo."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tgsessions import demo
from tgsessions.adapters.crypto.keyring import create_key_file
from tgsessions.bootstrap import open_runtime
from tgsessions.config import Settings, options_from
from tgsessions.domain.errors import ConfigurationError


async def test_embedded_default_creates_a_private_key_file_and_migrates(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", telegram_backend="simulated", _env_file=None)
    async with open_runtime(settings) as runtime:
        assert runtime.database.backend == "sqlite" and runtime.gateway.backend == "simulated"
        assert runtime.simulated is not None
        runtime.simulated.add_account("79160000001")
        primary = runtime.simulated.create_session("79160000001")
        await runtime.factory.add_account("79160000001", primary=primary)
        assert (await runtime.factory.fetch_one("79160000001")).session == primary
    key = tmp_path / "data" / "tgsessions.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (tmp_path / "data" / "tgsessions.db").exists()
    first_key = key.read_bytes()
    async with open_runtime(settings) as runtime:  # the second start reuses the key and the data
        assert (await runtime.factory.list_backups("79160000001")) == []
        assert (await runtime.factory.session_status("79160000001")).primary is not None
    assert key.read_bytes() == first_key


async def test_refuses_without_a_telegram_backend_naming_the_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="TGS_API_ID and TGS_API_HASH"):
        async with open_runtime(Settings(data_dir=tmp_path, _env_file=None)):
            pass
    with pytest.raises(ConfigurationError, match="TGS_API_HASH"):
        async with open_runtime(Settings(data_dir=tmp_path, api_id=1, _env_file=None)):
            pass
    assert not (tmp_path / "tgsessions.key").exists()  # nothing was created by a refused start


async def test_refuses_without_a_key_file_outside_the_embedded_default(tmp_path: Path, postgres_url: str) -> None:
    settings = Settings(data_dir=tmp_path, database_url=postgres_url, telegram_backend="simulated", _env_file=None)
    with pytest.raises(ConfigurationError, match="TGS_KEY_FILE"):
        async with open_runtime(settings):
            pass


async def test_refuses_a_database_whose_schema_is_not_current(tmp_path: Path) -> None:
    create_key_file(tmp_path / "k.key")
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}",
        key_file=tmp_path / "k.key",
        telegram_backend="simulated",
        _env_file=None,
    )
    with pytest.raises(ConfigurationError, match="migrate"):
        async with open_runtime(settings):
            pass


def test_settings_map_onto_factory_options() -> None:
    options = options_from(
        Settings(login_budget=3, login_window_hours=12, breaker_cooldown_seconds=30, max_backups=4, _env_file=None)
    )
    assert options.login_budget.limit == 3 and options.login_budget.window.total_seconds() == 12 * 3600
    assert options.breaker.cooldown.total_seconds() == 30 and options.max_backups == 4


async def test_demo_narrates_promotion_and_mint(tmp_path: Path) -> None:
    lines: list[str] = []
    await demo.run(tmp_path, lines.append)
    text = "\n".join(lines)
    assert "simulated" in lines[0]
    assert "(promoted, origin manual)" in text and "(minted, origin minted)" in text
    assert "state=active" in text and "login_attempt" in text
