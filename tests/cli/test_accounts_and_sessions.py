"""accounts add/list/show, fetch, status, cleanup, check, against the saved simulated Telegram."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta

from tests.cli.conftest import Invoke
from tgsessions.bootstrap import open_runtime
from tgsessions.config import Settings


def test_accounts_add_reads_secrets_from_stdin_and_never_echoes_them(
    invoke: Invoke, telegram_sessions: Callable[[str, int], list[str]]
) -> None:
    primary, keeper, backup_1, backup_2 = telegram_sessions("79161234567", 4)
    stdin = f"{primary}\n{keeper}\n{backup_1}\nthe-2fa-password\n"
    added = invoke("accounts", "add", "+7 916 123-45-67", "--session", "-", "--keeper", "-", "--backup", "-",
                   "--backup", backup_2, "--two-fa-stdin", "--device-model", "cli-test", input=stdin)  # fmt: skip
    assert added.exit_code == 0, added.stderr
    assert added.stdout.startswith("added account 79161234567: primary s_")
    for secret in (primary, keeper, backup_1, backup_2, "the-2fa-password"):
        assert secret not in added.output

    listed = json.loads(invoke("accounts", "list", "--json").stdout)
    assert [a["phone"] for a in listed["accounts"]] == ["79161234567"] and listed["next_after"] is None
    assert "79161234567" in invoke("accounts", "list").stdout

    shown = json.loads(invoke("accounts", "show", "79161234567", "--json").stdout)
    assert shown["phone"] == "79161234567" and shown["state"] == "active"
    assert shown["keeper"]["role"] == "keeper" and shown["total_backups"] == 2
    assert [b["role"] for b in shown["backups"]] == ["backup", "backup"]
    human = invoke("accounts", "show", "79161234567")
    assert human.exit_code == 0 and "reliability" in human.stdout and "backups" in human.stdout
    for secret in (primary, keeper, backup_1, backup_2):
        assert secret not in human.output

    assert invoke("fetch", "79161234567").stdout.strip() == primary
    again = invoke("accounts", "add", "79161234567", "--session", primary)
    assert again.exit_code == 1 and again.stderr == "error: an account with phone 79161234567 already exists\n"


def test_accounts_add_refuses_an_empty_secret_on_stdin_as_a_usage_error(invoke: Invoke) -> None:
    result = invoke("accounts", "add", "79161234567", "--session", "-", input="")
    assert result.exit_code == 2 and "stdin" in result.stderr


def test_accounts_list_pages(invoke: Invoke, demo_phones: list[str]) -> None:
    first = json.loads(invoke("accounts", "list", "--limit", "2", "--json").stdout)
    assert [a["phone"] for a in first["accounts"]] == demo_phones[:2] and first["next_after"] == demo_phones[1]
    rest = json.loads(invoke("accounts", "list", "--after", demo_phones[1], "--json").stdout)
    assert [a["phone"] for a in rest["accounts"]] == demo_phones[2:]


def test_fetch_prints_the_session_string_alone_and_as_json(invoke: Invoke, demo_phones: list[str]) -> None:
    plain = invoke("fetch", demo_phones[0])
    assert plain.exit_code == 0 and plain.stderr == ""
    string = plain.stdout.strip()
    assert plain.stdout == string + "\n" and len(string) > 100
    data = json.loads(invoke("fetch", demo_phones[0], "--json").stdout)
    assert data["session"] == string and data["phone"] == demo_phones[0] and data["role"] == "primary"
    assert data["session_id"].startswith("s_")


def test_fetch_is_audited_as_cli(invoke: Invoke, demo_phones: list[str]) -> None:
    import asyncio

    from tgsessions.bootstrap import open_runtime
    from tgsessions.config import Settings

    invoke("fetch", demo_phones[0])

    async def actors() -> set[str]:
        async with open_runtime(Settings()) as runtime:
            page = await runtime.factory.history(demo_phones[0])
            return {event.actor for event in page.events}

    assert "cli" in asyncio.run(actors())


def test_status_and_cleanup(invoke: Invoke, demo_phones: list[str]) -> None:
    phone = demo_phones[1]
    status = json.loads(invoke("status", phone, "--json").stdout)
    assert status["phone"] == phone and status["primary_alive"] is True and status["total_backups"] == 2
    human = invoke("status", phone)
    assert human.exit_code == 0 and "primary alive" in human.stdout and "yes" in human.stdout

    report = json.loads(invoke("cleanup", phone, "--max", "1", "--json").stdout)
    assert report["max_backups"] == 1 and len(report["revoked"]) == 1 and len(report["kept"]) == 1
    human_cleanup = invoke("cleanup", phone, "--max", "0")
    assert human_cleanup.exit_code == 0 and f"cleanup of {phone}" in human_cleanup.stdout
    assert json.loads(invoke("status", phone, "--json").stdout)["total_backups"] == 0


def test_check_shows_progress_on_stderr_and_a_summary_on_stdout(invoke: Invoke, demo_phones: list[str]) -> None:
    result = invoke("check")
    assert result.exit_code == 0, result.stderr
    assert "maintenance summary" in result.stdout and "3/3" in result.stderr
    assert "maintenance" not in result.stderr
    run = json.loads(invoke("check", "--json").stdout)
    assert run["status"] == "finished" and run["actor"] == "cli" and run["done"] == 3
    report = run["report"]
    assert report["accounts"] == 3 and report["errors"] == {}
    assert report["healthy"] + report["promoted"] + report["minted"] >= 3


def test_accounts_add_with_a_keeper_and_a_proxy_from_stdin(
    invoke: Invoke, telegram_sessions: Callable[[str, int], list[str]]
) -> None:
    (keeper,) = telegram_sessions("79161234568", 1)
    proxy = "socks5://user:proxysecret@127.0.0.1:1080"
    added = invoke(
        "accounts", "add", "79161234568", "--keeper", "-", "--proxy", "-", "--json", input=f"{keeper}\n{proxy}\n"
    )
    assert added.exit_code == 0, added.stderr
    data = json.loads(added.stdout)
    assert data["phone"] == "79161234568" and [s["role"] for s in data["sessions"]] == ["keeper"]
    assert keeper not in added.output and "proxysecret" not in added.output
    assert json.loads(invoke("status", "79161234568", "--json").stdout)["primary"] is None


def test_check_refuses_while_another_instance_runs_maintenance(invoke: Invoke, demo_phones: list[str]) -> None:
    async def hold_the_lease() -> None:
        async with open_runtime(Settings()) as runtime:
            lease = await runtime.database.leases.try_acquire("maintenance", "another-instance", timedelta(minutes=5))
            assert lease is not None

    asyncio.run(hold_the_lease())
    result = invoke("check")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: a maintenance run is under way in another instance"
