"""What a start refuses, with one line: a key file that is missing or wrong over a database holding encrypted rows,
and a database written by the other Telegram backend (unless TGS_ALLOW_BACKEND_SWITCH). A new database gets a key
file and records its backend; a database without a record takes the current backend (with a warning when it
already holds sessions)."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from tests.support.db_fixtures import create_pg_database, database_url_with_name, drop_pg_database
from tgsessions.adapters.crypto import KeyRing, load_key_file, save_key_file
from tgsessions.adapters.crypto.keyring import create_key_file
from tgsessions.adapters.sql import meta as meta_rows
from tgsessions.adapters.sql.engine import create_engine
from tgsessions.adapters.sql.migrate import upgrade
from tgsessions.adapters.sql.tables import accounts, meta, sessions
from tgsessions.adapters.telegram.simulated.persistence import PersistentSimulatedGateway
from tgsessions.bootstrap import open_key_manager, open_runtime
from tgsessions.config import Settings
from tgsessions.domain.errors import ConfigurationError

PHONE = "79160000401"
TWO_FA = "the-2fa-password-401"


def embedded(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=data_dir, telegram_backend="simulated", _env_file=None, **overrides)


def telethon(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=data_dir, telegram_backend="telethon", api_id=12345, api_hash="0" * 32,
                    _env_file=None, **overrides)  # fmt: skip


async def populate(settings: Settings, *, backups: int = 2) -> list[str]:
    """One account (primary, keeper, backups, 2FA password) through the simulated backend; its strings."""
    async with open_runtime(settings) as runtime:
        world = runtime.simulated
        assert world is not None
        world.add_account(PHONE, two_fa=TWO_FA)
        primary = world.create_session(PHONE, age=timedelta(days=40))
        keeper = world.create_session(PHONE, age=timedelta(days=90))
        pool = [world.create_session(PHONE, age=timedelta(days=30)) for _ in range(backups)]
        await runtime.factory.add_account(PHONE, primary=primary, keeper=keeper, backups=pool, two_fa=TWO_FA)
        assert isinstance(runtime.gateway, PersistentSimulatedGateway)
        runtime.gateway.save()  # the simulated Telegram remembers these sessions at the next start
        return [s.reveal() for s in (primary, keeper, *pool)]


async def refused(settings: Settings) -> str:
    with pytest.raises(ConfigurationError) as caught:
        async with open_runtime(settings):
            pass
    message = caught.value.message
    assert "\n" not in message
    return message


def key_material(ring: KeyRing) -> list[str]:
    return [base64.b64encode(k).decode() for k in (*ring.keys.values(), ring.fingerprint_key)]


# --- keys --------------------------------------------------------------------------------------------------------


async def test_a_missing_key_file_over_stored_secrets_refuses_and_creates_nothing(tmp_path: Path) -> None:
    settings = embedded(tmp_path / "data")
    strings = await populate(settings)
    key_file = settings.effective_key_file()
    ring = load_key_file(key_file)
    key_file.rename(tmp_path / "moved-away.key")

    message = await refused(settings)
    assert str(key_file) in message and "does not exist" in message
    assert "5 encrypted secrets (4 session strings, 1 2FA passwords)" in message
    assert "TGS_KEY_FILE" in message and "restore" in message
    assert not key_file.exists()  # no new key over the old secrets
    for secret in [*strings, TWO_FA, *key_material(ring)]:
        assert secret not in message

    with pytest.raises(ConfigurationError, match="does not exist, but the database holds 5 encrypted secrets"):
        async with open_key_manager(settings):  # `keys create/list/revoke` open the database the same way
            pass
    assert not key_file.exists()

    (tmp_path / "moved-away.key").rename(key_file)  # restored: it starts, and everything reads
    async with open_runtime(settings) as runtime:
        assert (await runtime.factory.fetch_one(PHONE)).session.reveal() == strings[0]


async def test_a_regenerated_key_file_refuses_to_start(tmp_path: Path) -> None:
    """The same key id k1, another key: only trying to decrypt tells."""
    settings = embedded(tmp_path / "data")
    await populate(settings)
    key_file = settings.effective_key_file()
    key_file.unlink()
    create_key_file(key_file)  # `tgsessions keys init` over a lost file
    message = await refused(settings)
    assert str(key_file) in message and "holds no key that decrypts the 5 encrypted secrets" in message
    assert "k1" in message and "TGS_KEY_FILE" in message


async def test_an_older_key_file_without_the_rotated_key_refuses(tmp_path: Path) -> None:
    settings = embedded(tmp_path / "data")
    await populate(settings)
    key_file = settings.effective_key_file()
    old = load_key_file(key_file)
    rotated = load_key_file(key_file)
    rotated.add_key()
    save_key_file(key_file, rotated)
    await populate_more(settings)  # written under k2
    save_key_file(key_file, old)  # an older copy put back
    message = await refused(settings)
    assert "under key ids k2 that the key file" in message and str(key_file) in message
    assert "of the 7 encrypted secrets" in message


async def populate_more(settings: Settings) -> None:
    async with open_runtime(settings) as runtime:
        world = runtime.simulated
        assert world is not None
        phone = "79160000402"
        world.add_account(phone)
        await runtime.factory.add_account(phone, primary=world.create_session(phone, age=timedelta(days=40)),
                                          keeper=world.create_session(phone, age=timedelta(days=90)))  # fmt: skip


async def test_one_corrupted_row_does_not_stop_a_start(tmp_path: Path) -> None:
    settings = embedded(tmp_path / "data")
    await populate(settings, backups=0)
    engine = create_engine(settings.effective_database_url())
    try:
        async with engine.begin() as conn:
            first = (await conn.execute(select(sessions.c.id, sessions.c.string_ct).order_by(sessions.c.id))).first()
            assert first is not None
            blob = bytes(first.string_ct)
            await conn.execute(update(sessions).where(sessions.c.id == first.id).values(
                string_ct=blob[:-1] + bytes([blob[-1] ^ 1])))  # fmt: skip
    finally:
        await engine.dispose()
    async with open_runtime(settings):
        pass


async def test_a_new_database_gets_a_key_file(tmp_path: Path) -> None:
    settings = embedded(tmp_path / "data")
    async with open_runtime(settings):
        pass
    assert load_key_file(settings.effective_key_file()).active == "k1"
    settings.effective_key_file().unlink()  # migrated, but nothing encrypted in it: a new key is harmless
    async with open_runtime(settings):
        pass
    assert settings.effective_key_file().exists()


async def execute(url: str, *statements: Any) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(statement)
    finally:
        await engine.dispose()


async def test_a_missing_key_file_outside_the_embedded_default_names_the_guarded_rows(
    tmp_path: Path, postgres_url: str
) -> None:
    name = create_pg_database(postgres_url)
    url = database_url_with_name(postgres_url, name)
    try:
        await upgrade(url)
        key_file = tmp_path / "keys" / "tgsessions.key"
        create_key_file(key_file)
        settings = embedded(tmp_path / "data", database_url=url, key_file=key_file)
        await populate(settings)
        key_file.unlink()
        message = await refused(settings)
        assert str(key_file) in message and "5 encrypted secrets" in message and "TGS_KEY_FILE" in message

        await execute(url, delete(sessions), update(accounts).values(two_fa_ct=None, proxy_ct=None))
        message = await refused(settings)
        assert "tgsessions keys init" in message  # nothing encrypted is stored: the usual advice
    finally:
        drop_pg_database(postgres_url, name)


# --- backends ----------------------------------------------------------------------------------------------------


async def recorded(settings: Settings) -> str | None:
    engine = create_engine(settings.effective_database_url())
    try:
        return await meta_rows.read(engine, meta_rows.TELEGRAM_BACKEND)
    finally:
        await engine.dispose()


async def forget_record(settings: Settings) -> None:
    engine = create_engine(settings.effective_database_url())
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(meta))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["simulated", "telethon"])
async def test_a_new_database_records_its_backend(tmp_path: Path, backend: str) -> None:
    settings = embedded(tmp_path) if backend == "simulated" else telethon(tmp_path)
    async with open_runtime(settings):
        pass
    assert await recorded(settings) == backend
    async with open_runtime(settings):  # the same backend again: fine
        pass
    assert await recorded(settings) == backend


async def test_simulated_refuses_a_database_telethon_wrote(tmp_path: Path) -> None:
    async with open_runtime(telethon(tmp_path)):
        pass
    message = await refused(embedded(tmp_path))
    assert "written by the telethon Telegram backend, not simulated" in message
    assert "retire" in message and "TGS_ALLOW_BACKEND_SWITCH=1" in message
    assert await recorded(embedded(tmp_path)) == "telethon"


async def test_telethon_refuses_a_database_simulated_wrote(tmp_path: Path) -> None:
    await populate(embedded(tmp_path))
    message = await refused(telethon(tmp_path))
    assert "written by the simulated Telegram backend, not telethon" in message
    assert "TGS_ALLOW_BACKEND_SWITCH=1" in message
    assert await recorded(telethon(tmp_path)) == "simulated"


@pytest.mark.parametrize(("first", "then"), [("simulated", "telethon"), ("telethon", "simulated")])
async def test_a_forced_switch_starts_and_records_the_new_backend(
    tmp_path: Path, first: str, then: str, caplog: pytest.LogCaptureFixture
) -> None:
    def settings(backend: str, **overrides: Any) -> Settings:
        return embedded(tmp_path, **overrides) if backend == "simulated" else telethon(tmp_path, **overrides)

    async with open_runtime(settings(first)):
        pass
    with caplog.at_level(logging.WARNING, logger="tgsessions.bootstrap"):
        async with open_runtime(settings(then, allow_backend_switch=True)):
            pass
    assert f"switched to {then}" in caplog.text
    assert await recorded(settings(then)) == then
    async with open_runtime(settings(then)):  # recorded now: no flag needed any more
        pass
    await refused(settings(first))  # and the first one is refused in turn


def test_the_switch_is_an_environment_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TGS_ALLOW_BACKEND_SWITCH", "1")
    assert Settings(_env_file=None).allow_backend_switch is True
    monkeypatch.delenv("TGS_ALLOW_BACKEND_SWITCH")
    assert Settings(_env_file=None).allow_backend_switch is False


@pytest.mark.parametrize("backend", ["simulated", "telethon"])
async def test_a_database_with_sessions_and_no_record_takes_the_current_backend_with_a_warning(
    tmp_path: Path, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    await populate(embedded(tmp_path))
    await forget_record(embedded(tmp_path))  # as a database written before migration 0006
    settings = embedded(tmp_path) if backend == "simulated" else telethon(tmp_path)
    with caplog.at_level(logging.WARNING, logger="tgsessions.bootstrap"):
        async with open_runtime(settings):
            pass
    assert "holds 4 sessions but no record of the Telegram backend" in caplog.text
    assert await recorded(settings) == backend


async def test_a_database_without_sessions_and_no_record_takes_the_current_backend_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_runtime(embedded(tmp_path)):
        pass
    await forget_record(embedded(tmp_path))
    with caplog.at_level(logging.WARNING, logger="tgsessions.bootstrap"):
        async with open_runtime(telethon(tmp_path)):
            pass
    assert "no record" not in caplog.text
    assert await recorded(embedded(tmp_path)) == "telethon"
