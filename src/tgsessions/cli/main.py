"""The ``tgsessions`` command: wiring of the sub-commands (see the package docstring for exit codes)."""

from __future__ import annotations

import typer

from tgsessions.cli import commands_admin, commands_onboarding, commands_serve, commands_sessions
from tgsessions.cli.commands_accounts import accounts_app
from tgsessions.cli.commands_keys import keys_app
from tgsessions.cli.commands_migration import export, import_app

app = typer.Typer(
    name="tgsessions",
    help="Keeps Telegram sessions alive and hands out one that works right now. Settings: TGS_* variables or .env.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(commands_serve.serve)
app.command()(commands_admin.migrate)
app.add_typer(keys_app, name="keys")
app.add_typer(accounts_app, name="accounts")
app.command()(commands_sessions.fetch)
app.command()(commands_sessions.status)
app.command()(commands_sessions.cleanup)
app.command()(commands_sessions.check)
app.command(name="repair-sessions")(commands_sessions.repair_sessions)
app.add_typer(commands_admin.config_app, name="config")
app.add_typer(import_app, name="import")
app.command()(export)
app.command()(commands_admin.demo)
app.command()(commands_onboarding.login)


def run() -> None:
    """The console-script entry point."""
    app(prog_name="tgsessions")
