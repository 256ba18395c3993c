"""keys init/create/list/revoke and migrate."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from tests.cli.conftest import Invoke


def test_keys_create_list_revoke_round_trip(invoke: Invoke) -> None:
    created = invoke("keys", "create", "billing", "--scopes", "sessions:read,status:read")
    assert created.exit_code == 0, created.stderr
    plaintext = created.stdout.strip()
    assert re.fullmatch(r"tgs_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", plaintext)  # stdout: the key alone, for scripts
    assert "not shown again" in created.stderr
    key_id = plaintext.split("_")[1]

    as_json = invoke("keys", "create", "ops", "--scopes", "admin", "--rate-limit", "30", "--json")
    second = json.loads(as_json.stdout)
    assert second["key"].startswith(f"tgs_{second['key_id']}_") and second["scopes"] == ["admin"]
    assert second["rate_limit_per_minute"] == 30

    listed = invoke("keys", "list")
    assert listed.exit_code == 0 and key_id in listed.stdout and "billing" in listed.stdout
    assert plaintext.split("_", 2)[2] not in listed.stdout and second["key"] not in listed.stdout
    rows = {k["key_id"]: k for k in json.loads(invoke("keys", "list", "--json").stdout)}
    assert rows[key_id]["scopes"] == ["sessions:read", "status:read"] and rows[key_id]["revoked_at"] is None
    assert "key" not in rows[key_id] and "key_hash" not in rows[key_id]

    revoked = invoke("keys", "revoke", key_id)
    assert revoked.exit_code == 0 and f"revoked key {key_id} (billing)" in revoked.stdout
    rows = {k["key_id"]: k for k in json.loads(invoke("keys", "list", "--json").stdout)}
    assert rows[key_id]["revoked_at"] is not None and rows[key_id]["active"] is False
    assert rows[second["key_id"]]["active"] is True

    unknown = invoke("keys", "revoke", "000000000000")
    assert unknown.exit_code == 1 and unknown.stderr == "error: no API key with id 000000000000\n"


def test_keys_need_no_telegram_backend(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TGS_TELEGRAM_BACKEND")
    assert invoke("keys", "create", "ci", "--scopes", "admin").exit_code == 0
    assert invoke("keys", "list").exit_code == 0


def test_keys_init_creates_a_private_key_file_and_never_overwrites(invoke: Invoke, data_dir: Path) -> None:
    result = invoke("keys", "init")
    key_file = data_dir / "tgsessions.key"
    assert result.exit_code == 0 and str(key_file) in result.stdout and "back it up" in result.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    before = key_file.read_bytes()
    again = invoke("keys", "init")
    assert again.exit_code == 1 and again.stderr.count("\n") == 1 and "refusing to overwrite" in again.stderr
    assert key_file.read_bytes() == before


def test_migrate_a_fresh_sqlite_database_then_use_it(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TGS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    monkeypatch.setenv("TGS_KEY_FILE", str(tmp_path / "secret" / "fresh.key"))
    assert invoke("keys", "init").exit_code == 0

    behind = invoke("keys", "list")
    assert behind.exit_code == 1 and "run `tgsessions migrate` first" in behind.stderr

    migrated = invoke("migrate")
    assert migrated.exit_code == 0, migrated.stderr
    assert re.search(rf"database {re.escape(str(tmp_path / 'fresh.db'))} is at revision \S+ \(head\)", migrated.stdout)
    assert invoke("migrate").exit_code == 0  # idempotent
    assert invoke("keys", "create", "after-migrate", "--scopes", "admin").exit_code == 0


def test_a_non_embedded_database_needs_an_existing_key_file(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TGS_KEY_FILE", "missing.key")
    result = invoke("keys", "list")
    assert result.exit_code == 1 and "tgsessions keys init" in result.stderr and len(result.stderr.splitlines()) == 1
