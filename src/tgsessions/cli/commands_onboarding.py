"""Bringing accounts in: ``tgsessions accounts import`` (an existing Telethon string, Telethon ``.session`` file or
Pyrogram string) and ``tgsessions login`` (an interactive login that creates the account's keeper).

Every session is checked at Telegram before it is stored: it must be alive and belong to the phone. Strings are
never taken from the command line itself (shell history, ``ps``): from a file, or from stdin with ``-``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tgsessions.adapters.telegram.session_formats import SessionFormat, convert
from tgsessions.bootstrap import open_runtime
from tgsessions.cli.context import CLI_ACTOR, load_settings
from tgsessions.cli.errors import reported_errors, run_async
from tgsessions.cli.output import print_json
from tgsessions.cli.reports import JsonOption
from tgsessions.cli.secrets_input import STDIN, read_secret
from tgsessions.domain.model import Role
from tgsessions.domain.secret import Secret
from tgsessions.service.results import SessionInfo

ROLES = {"keeper": Role.KEEPER, "backup": Role.BACKUP, "primary": Role.PRIMARY}


def _read_source(source: str, fmt: SessionFormat) -> Secret:
    if source == STDIN:
        return convert(read_secret("session string", "SOURCE"), fmt)
    path = Path(source)
    if fmt is SessionFormat.TELETHON_FILE or path.suffix == ".session":
        return convert(str(path), SessionFormat.TELETHON_FILE)
    if not path.is_file():
        raise typer.BadParameter(f"no such file: {path.name} (give a file, or - for stdin)", param_hint="SOURCE")
    return convert(path.read_text(encoding="utf-8").strip(), fmt)


def import_session(
    phone: Annotated[str, typer.Argument(help="Phone number in international format.")],
    source: Annotated[
        str,
        typer.Argument(help="A Telethon .session file, a file holding a Telethon or Pyrogram string, or - (stdin)."),
    ],
    fmt: Annotated[SessionFormat, typer.Option("--format", help="What SOURCE holds; auto detects it.")] = (
        SessionFormat.AUTO
    ),
    role: Annotated[str, typer.Option("--as", help="keeper (default), backup or primary.")] = "keeper",
    two_fa_stdin: Annotated[
        bool, typer.Option("--two-fa-stdin", help="Also read the account's 2FA password from stdin.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import an existing session as the account's keeper, a backup or the primary (checked at Telegram first)."""
    if role not in ROLES:
        raise typer.BadParameter("must be keeper, backup or primary", param_hint="--as")
    if two_fa_stdin and ROLES[role] is Role.PRIMARY:
        raise typer.BadParameter("store the 2FA password with --as keeper or --as backup", param_hint="--two-fa-stdin")
    with reported_errors():
        string = _read_source(source, fmt)
    two_fa = read_secret("2FA password", "--two-fa-stdin") if two_fa_stdin else None

    async def work() -> SessionInfo:
        async with open_runtime(load_settings()) as runtime:
            factory = runtime.factory
            if ROLES[role] is Role.PRIMARY:
                return await factory.update_session(phone, string, actor=CLI_ACTOR)
            return await factory.add_session(phone, string, role=ROLES[role], two_fa=two_fa, actor=CLI_ACTOR)

    info = run_async(work())
    if as_json:
        print_json(info)
        return
    print(f"imported {info.session_id} as the {info.role} of {phone}", file=sys.stdout)
