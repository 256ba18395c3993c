"""What the CLI imports, in real processes: ``--help`` (of the app and of every command) loads no database, web,
Telegram, metrics, crypto library nor the composition root; ``status`` and the other commands that do not serve
load no web stack. This is what keeps ``tgsessions --help`` fast (bench/cli_start.py times it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TypedDict

import typer
from typer.core import TyperGroup

from tgsessions.cli.main import app

HEAVY = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "telethon", "prometheus_client", "redis",
         "cryptography", "tgsessions.bootstrap")  # fmt: skip
WEB = ("fastapi", "starlette", "uvicorn")

# Runs the console-script entry (tgsessions.cli.main:run) once per argv given as JSON in argv[1], and writes, per
# run, its exit code and the modules loaded during it (the first run includes the CLI's own imports) to argv[2].
RUNNER = """
import json, sys
runs, report = json.loads(sys.argv[1]), sys.argv[2]
results = []
for argv in runs:
    before = set(sys.modules)
    sys.argv = ["tgsessions", *argv]
    from tgsessions.cli.main import run
    try:
        run()
        code = 0
    except SystemExit as exc:
        code = exc.code
    results.append({"argv": argv, "code": code, "loaded": sorted(set(sys.modules) - before)})
with open(report, "w", encoding="utf-8") as out:
    json.dump(results, out)
"""


class Run(TypedDict):
    argv: list[str]
    code: int | None
    loaded: list[str]


def run_entry(tmp_path: Path, *runs: list[str]) -> tuple[list[Run], str]:
    """Each argv run by the CLI entry in one fresh interpreter (environment and working directory: this test's);
    what each run did, and the process's stdout."""
    report = tmp_path / "imports.json"
    done = subprocess.run(  # noqa: S603 - our own entry point
        [sys.executable, "-c", RUNNER, json.dumps(runs), str(report)],
        cwd=tmp_path, env=dict(os.environ), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results: list[Run] = json.loads(report.read_text(encoding="utf-8"))
    return results, done.stdout


def among(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    """The modules that are one of ``packages`` or inside one."""
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)]


def command_paths(command: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group under ``command``, as the words that name it on the command line."""
    if not isinstance(command, TyperGroup):
        return [prefix]
    paths = [prefix] if prefix else []
    for name, sub in sorted(command.commands.items()):
        paths += command_paths(sub, (*prefix, name))
    return paths


def test_help_loads_only_the_cli(data_dir: Path) -> None:
    (result,), stdout = run_entry(data_dir.parent, ["--help"])
    assert result["code"] == 0 and "status" in stdout
    assert {"typer", "tgsessions.cli.main", "tgsessions.cli.commands_serve"} <= set(result["loaded"])
    assert among(result["loaded"], HEAVY) == []


def test_every_command_help_loads_only_the_cli(data_dir: Path) -> None:
    paths = command_paths(typer.main.get_command(app))
    assert {("serve",), ("status",), ("keys", "rotate-encryption"), ("import", "mongo-export")} <= set(paths)
    results, _ = run_entry(data_dir.parent, *([*path, "--help"] for path in paths))
    assert [r["code"] for r in results] == [0] * len(paths)
    loaded = {" ".join(r["argv"]): among(r["loaded"], HEAVY) for r in results}
    assert loaded == {" ".join((*path, "--help")): [] for path in paths}


def test_status_and_the_read_commands_load_no_web_stack(data_dir: Path, demo_phones: list[str]) -> None:
    phone = demo_phones[0]
    reads = [
        ["status", phone],
        ["status", phone, "--json"],
        ["accounts", "list"],
        ["accounts", "show", phone],
        ["keys", "list"],
        ["config", "show"],
    ]  # no fetch: its stdout holds a session string, which a failed assertion would show
    results, stdout = run_entry(data_dir.parent, *reads)
    assert [r["code"] for r in results] == [0] * len(reads)
    assert phone in stdout
    assert among(results[0]["loaded"], ("sqlalchemy",)) != []  # status did open the database
    assert {" ".join(r["argv"]): among(r["loaded"], WEB) for r in results} == {" ".join(argv): [] for argv in reads}
