"""``keys rotate-encryption`` end to end on an embedded data directory: status, an interrupted run (Ctrl-C after
a few batches), the resumed run, a second rotation, dropping old keys; no secret or key material in any output."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest

from tests.cli.conftest import Invoke
from tests.storage.builders import account, session, session_string
from tgsessions.adapters.crypto import AesGcmCipher, KeyRing, load_key_file, save_key_file
from tgsessions.adapters.sql import SqlDatabase
from tgsessions.bootstrap import open_keys_and_database
from tgsessions.config import Settings
from tgsessions.domain.clock import SystemClock
from tgsessions.domain.key_rotation import BatchDone
from tgsessions.service.keys import rotation as key_rotation
from tgsessions.service.keys.reencryption import Reencryption

ACCOUNTS = 60
BATCH = 20


def phone_of(n: int) -> str:
    return f"7998{n:07d}"


async def seed() -> None:
    clock = SystemClock()
    cipher, db = await open_keys_and_database(Settings(), clock)  # creates the embedded key file
    try:
        async with db.unit_of_work() as uow:
            for n in range(ACCOUNTS):
                owner = await uow.accounts.add_account(account(phone_of(n), clock.now(), with_secrets=True))
                await uow.sessions.add_session(session(cipher, owner.id, f"c{n}", clock.now()))
            await uow.commit()
    finally:
        await db.aclose()


async def read_everything(ring: KeyRing) -> None:
    """Every row, through the repository, with the key file's ring."""
    db = await SqlDatabase.open(Settings().effective_database_url(), cipher=AesGcmCipher(ring), clock=SystemClock())
    try:
        async with db.unit_of_work() as uow:
            for n in range(ACCOUNTS):
                stored = await uow.accounts.get_account(phone_of(n))
                assert stored is not None and stored.two_fa is not None and stored.proxy is not None
                assert stored.two_fa.reveal() == f"2fa-password-{phone_of(n)}"
                assert stored.proxy.password is not None
                strings = [s.string.reveal() for s in await uow.sessions.sessions(stored.id) if s.string]
                assert strings == [session_string(f"c{n}")]
    finally:
        await db.aclose()


def status(invoke: Invoke) -> dict:
    result = invoke("keys", "rotate-encryption", "--status", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def assert_no_secrets(output: str, key_file: Path) -> None:
    assert "2fa-password" not in output and "proxy-pw" not in output and "Qx" * 10 not in output
    ring = json.loads(key_file.read_text())
    for encoded in (*ring["keys"].values(), ring["fingerprint_key"]):
        assert encoded not in output


def test_rotate_encryption_end_to_end(invoke: Invoke, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(seed())
    key_file = data_dir / "tgsessions.key"
    outputs: list[str] = []

    before = status(invoke)
    assert before["active_key"] == "k1" and before["keys"] == ["k1"]
    assert before["rows"] == {"session": {"k1": 60}, "two_fa": {"k1": 60}, "proxy": {"k1": 60}}
    assert before["remaining"] == 0 and before["rotation_in_progress"] is False
    human = invoke("keys", "rotate-encryption", "--status")
    assert "every stored secret is on the active key k1" in human.stdout and "k1 (active)" in human.stdout
    outputs.append(human.output)

    # Ctrl-C after 4 committed batches: sessions 20+20+20 (+ an empty last page), then nothing more
    class CtrlC(Reencryption):
        async def reencrypt(self, *, batch_size=500, on_batch=None):  # type: ignore[no-untyped-def]
            calls = 0

            async def hook(done: BatchDone) -> None:
                nonlocal calls
                await on_batch(done)
                calls += 1
                if calls == 5:
                    raise KeyboardInterrupt

            return await super().reencrypt(batch_size=batch_size, on_batch=hook)

    with monkeypatch.context() as patch:
        patch.setattr(key_rotation, "Reencryption", CtrlC)
        interrupted = invoke("keys", "rotate-encryption", "--batch-size", str(BATCH))
    outputs.append(interrupted.output)
    assert interrupted.exit_code == 130, interrupted.output
    assert "run `tgsessions keys rotate-encryption` again to continue" in interrupted.stderr
    assert interrupted.stderr.endswith("error: interrupted\n")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    during = status(invoke)
    assert during["active_key"] == "k2" and during["keys"] == ["k1", "k2"]
    assert during["rows"] == {"session": {"k2": 60}, "two_fa": {"k1": 40, "k2": 20}, "proxy": {"k1": 60}}
    assert during["remaining"] == 100 and during["rotation_in_progress"] is True
    human = invoke("keys", "rotate-encryption", "--status")
    assert "100 rows remain on older keys" in human.stdout
    outputs.append(human.output)
    asyncio.run(read_everything(load_key_file(key_file)))

    resumed = invoke("keys", "rotate-encryption", "--batch-size", str(BATCH), "--json")
    assert resumed.exit_code == 0, resumed.stderr
    outputs.append(resumed.output)
    report = json.loads(resumed.stdout)
    assert report["added_key"] is None and report["resumed"] is True and report["active_key"] == "k2"
    assert report["reencrypted"] == {"session": 0, "two_fa": 40, "proxy": 60} and report["remaining"] == 0
    assert sorted(load_key_file(key_file).keys) == ["k1", "k2"]
    asyncio.run(read_everything(load_key_file(key_file)))
    assert status(invoke)["rows"] == {"session": {"k2": 60}, "two_fa": {"k2": 60}, "proxy": {"k2": 60}}

    second = invoke("keys", "rotate-encryption")
    assert second.exit_code == 0, second.stderr
    outputs.append(second.output)
    assert "added key k3" in second.stdout and "re-encrypted 180 secrets" in second.stdout
    assert "back up the key file" in second.stderr
    ring = load_key_file(key_file)
    assert ring.active == "k3" and sorted(ring.keys) == ["k1", "k2", "k3"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    asyncio.run(read_everything(ring))

    dropped = invoke("keys", "rotate-encryption", "--drop-old-keys")
    assert dropped.exit_code == 0, dropped.stderr
    outputs.append(dropped.output)
    assert "removed keys k1, k2" in dropped.stdout
    assert sorted(load_key_file(key_file).keys) == ["k3"] and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    asyncio.run(read_everything(load_key_file(key_file)))

    for output in outputs:
        assert_no_secrets(output, key_file)


def test_drop_old_keys_is_refused_during_a_rotation(invoke: Invoke, data_dir: Path) -> None:
    asyncio.run(seed())
    key_file = data_dir / "tgsessions.key"
    ring = load_key_file(key_file)
    ring.add_key()
    save_key_file(key_file, ring)  # as if a rotation had been interrupted before its first batch
    refused = invoke("keys", "rotate-encryption", "--drop-old-keys")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "error: 180 stored secrets still use older keys; finish `tgsessions keys rotate-encryption` first\n"
    )
    assert sorted(load_key_file(key_file).keys) == ["k1", "k2"]

    both = invoke("keys", "rotate-encryption", "--status", "--drop-old-keys")
    assert both.exit_code == 2

    resumed = json.loads(invoke("keys", "rotate-encryption", "--json").stdout)
    assert resumed["added_key"] is None and resumed["total"] == 180


def test_rotation_needs_an_existing_key_file(invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TGS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    monkeypatch.setenv("TGS_KEY_FILE", str(tmp_path / "missing.key"))
    result = invoke("keys", "rotate-encryption")
    assert result.exit_code == 1 and "missing.key does not exist" in result.stderr
    assert not (tmp_path / "missing.key").exists()
