"""Exit codes (0, 1 with one line, 2 for usage), serve's refusal, config show's masking, the demo."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Invoke


def test_a_domain_error_is_one_line_on_stderr_and_exit_1(invoke: Invoke) -> None:
    for args in (("fetch", "79000000000"), ("status", "79000000000"), ("cleanup", "79000000000")):
        result = invoke(*args)
        assert result.exit_code == 1
        assert result.stderr == "error: no account with phone 79000000000\n"
        assert result.stdout == "" and "Traceback" not in result.output


def test_input_checked_by_the_services_is_a_domain_error(invoke: Invoke) -> None:
    result = invoke("fetch", "not-a-phone")
    assert result.exit_code == 1 and result.stderr.startswith("error: phone number") and result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ("fetch",),
        ("fetch", "79990000001", "--no-such-option"),
        ("keys", "create", "ci", "--scopes", "bogus"),
        ("keys", "create", "ci"),
        ("cleanup", "79990000001", "--max", "-1"),
        ("serve", "--telegram", "real"),
        ("accounts", "add", "79990000001", "--session", "x", "--proxy", "ftp://h:1"),
        ("no-such-command",),
    ],
)
def test_usage_errors_exit_2(invoke: Invoke, args: tuple[str, ...]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_serve_refuses_without_a_backend_naming_the_settings(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TGS_TELEGRAM_BACKEND")
    result = invoke("serve")
    assert result.exit_code == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: no Telegram backend chosen") and "TGS_API_ID and TGS_API_HASH" in line


def test_an_invalid_setting_is_named_without_its_value(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TGS_PORT", "not-a-port-secret")
    result = invoke("config", "show")
    assert result.exit_code == 1 and result.stderr.startswith("error: invalid setting TGS_PORT")
    assert "not-a-port-secret" not in result.stderr and result.stderr.count("\n") == 1


def test_config_show_masks_every_secret(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TGS_API_ID", "12345")
    monkeypatch.setenv("TGS_API_HASH", "supersecret")
    monkeypatch.setenv("TGS_DATABASE_URL", "postgresql+asyncpg://tgs:pgsecret@db.example:5432/tgs")
    monkeypatch.setenv("TGS_REDIS_URL", "redis://:redissecret@cache.example:6379/0")
    human = invoke("config", "show")
    assert human.exit_code == 0
    for secret in ("supersecret", "pgsecret", "redissecret"):
        assert secret not in human.output
    assert "TGS_API_HASH" in human.stdout and "***" in human.stdout and "TGS_LOGIN_BUDGET" in human.stdout
    values = json.loads(invoke("config", "show", "--json").stdout)
    assert values["api_hash"] == "***" and values["api_id"] == 12345
    assert values["database_url"] == "postgresql+asyncpg://tgs:***@db.example:5432/tgs"
    assert values["redis_url"] == "redis://:***@cache.example:6379/0"
    assert values["telegram_backend"] == "simulated" and values["port"] == 8080


def test_config_show_gives_the_effective_defaults(invoke: Invoke) -> None:
    values = json.loads(invoke("config", "show", "--json").stdout)
    assert values["database_url"].startswith("sqlite+aiosqlite:///") and values["database_url"].endswith(
        "tgsessions.db"
    )
    assert values["key_file"].endswith("tgsessions.key") and values["api_hash"] is None


def test_demo_narrates_each_step(invoke: Invoke) -> None:
    result = invoke("demo")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "simulated" in lines[0]
    assert "(promoted, origin manual)" in result.stdout and "(minted, origin minted)" in result.stdout
    assert any(line.startswith("8. history") for line in lines)
