"""``tgsessions import mongo-export`` and ``tgsessions export`` run in-process: reports, progress on stderr, and no
session string or password in any output or log line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from tests.migration import generator as g
from tests.migration.conftest import ExportFiles
from tests.support.cli_env import clean_cli_environment
from tgsessions.cli.main import app


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    clean_cli_environment(tmp_path, monkeypatch)
    return CliRunner()


def run(cli: CliRunner, *args: str) -> Result:
    result = cli.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result


def secrets_of(files: ExportFiles) -> list[str]:
    found = [g.session(i, k) for i in range(files.count) for k in (0, 1, 2, 3, 8, 9, 20)]
    return found + [g.password(i) for i in range(files.count + g.USERS_ONLY)] + [g.session(-1, 0)]


def test_import_report_export_and_no_secret_anywhere(
    cli: CliRunner, small_export: ExportFiles, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    args = ("import", "mongo-export", str(small_export.lines), "--users", str(small_export.users), "--batch-size", "50")
    dry = run(cli, *args, "--dry-run")
    assert "dry run" in dry.stdout and "would be created" in dry.stdout
    first = run(cli, *args)
    assert "rejected records" in first.stdout and "duplicate phone in the file" in first.stdout
    assert "archivedClients" in first.stderr  # the progress bar
    again = run(cli, *args, "--json")
    report = json.loads(again.stdout)
    assert report["changed"] is False and report["summary"].startswith("nothing changed")
    assert report["accounts_unchanged"] == small_export.count + g.users_count(small_export.count) + g.USERS_ONLY
    assert [(r["position"], r["unit"]) for r in report["rejected"]][:2] == [(12, "line"), (23, "line")]

    redacted = tmp_path / "ids.json"
    shown = run(cli, "export", str(redacted), "--users", str(tmp_path / "ids-users.json"))
    assert "session ids only" in shown.stdout
    full = tmp_path / "full.json"
    with_secrets = run(cli, "export", str(full), "--include-secrets", "--json-array", "--json")
    assert json.loads(with_secrets.stdout)["accounts"] == small_export.count + g.USERS_ONLY
    assert "keep it safe" in with_secrets.stderr
    assert g.session(0, 0) in full.read_text() and full.stat().st_mode & 0o777 == 0o600

    output = "\n".join([dry.stdout, dry.stderr, first.stdout, first.stderr, again.stdout, again.stderr,
                        shown.stdout, shown.stderr, with_secrets.stdout, with_secrets.stderr, caplog.text,
                        redacted.read_text(), (tmp_path / "ids-users.json").read_text()])  # fmt: skip
    leaked = [s for s in secrets_of(small_export) if s in output or s[:24] in output]
    assert leaked == []


def test_validate_through_the_configured_gateway(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "two.json"
    path.write_text("".join(json.dumps({"mobile": g.phone(i), "session": g.session(i, 0)}) + "\n" for i in range(2)))
    result = run(cli, "import", "mongo-export", str(path), "--validate", "--json")
    validation = json.loads(result.stdout)["validation"]
    assert validation["alive"] + validation["dead"] + validation["unknown"] == 2
    assert g.session(0, 0) not in result.stdout + result.stderr


def test_a_missing_file_is_a_usage_error(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["import", "mongo-export", str(tmp_path / "nope.json")])
    assert result.exit_code == 2
