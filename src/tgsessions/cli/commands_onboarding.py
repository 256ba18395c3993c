"""Bringing accounts in: ``tgsessions accounts import`` (an existing Telethon, GramJS or Pyrogram string, or a Telethon
``.session`` file; detected by structure, see domain/session_codec.py) and ``tgsessions login`` (an interactive
login that creates the account's keeper).

Every session is checked at Telegram before it is stored: it must be alive and belong to the phone. Strings are
never taken from the command line itself (shell history, ``ps``): from a file, or from stdin with ``-``.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tgsessions.cli.context import CLI_ACTOR, cli_runtime, load_settings
from tgsessions.cli.errors import reported_errors, run_async
from tgsessions.cli.output import print_json
from tgsessions.cli.reports import JsonOption
from tgsessions.cli.secrets_input import STDIN, read_secret
from tgsessions.domain.errors import ConfigurationError
from tgsessions.domain.phone import normalise_phone

if TYPE_CHECKING:
    from tgsessions.domain.session_codec import SessionFormat
    from tgsessions.service.results import SessionInfo
    from tgsessions.service.session_strings import IncomingSession

ROLES = ("keeper", "backup", "primary")  # the values of Role that --as takes


def _read_source(source: str, fmt: SessionFormat | None) -> IncomingSession:
    from tgsessions.bootstrap import read_telethon_file
    from tgsessions.domain.session_codec import SessionFormat
    from tgsessions.service.session_strings import from_data, read_session

    if source == STDIN:
        return read_session(read_secret("session string", "SOURCE"), field="session", fmt=fmt)
    path = Path(source)
    if fmt is SessionFormat.TELETHON_FILE or (fmt is None and path.suffix == ".session"):
        return from_data(read_telethon_file(path), SessionFormat.TELETHON_FILE, field="file")
    if not path.is_file():
        raise typer.BadParameter(f"no such file: {path.name} (give a file, or - for stdin)", param_hint="SOURCE")
    return read_session(path.read_text(encoding="utf-8"), field="session", fmt=fmt)


def import_session(
    phone: Annotated[str, typer.Argument(help="Phone number in international format.")],
    source: Annotated[
        str,
        typer.Argument(
            help="A Telethon .session file, a file holding a Telethon, GramJS or Pyrogram string, or - (stdin)."
        ),
    ],
    fmt: Annotated[
        str,
        typer.Option("--format", help="What SOURCE holds: auto (detected), telethon, gramjs, pyrogram, telethon-file."),
    ] = "auto",
    role: Annotated[str, typer.Option("--as", help="keeper (default), backup or primary.")] = "keeper",
    two_fa_stdin: Annotated[
        bool, typer.Option("--two-fa-stdin", help="Also read the account's 2FA password from stdin.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import an existing session as the account's keeper, a backup or the primary (checked at Telegram first)."""
    from tgsessions.domain.model import Role
    from tgsessions.service.session_strings import session_format

    if role not in ROLES:
        raise typer.BadParameter("must be keeper, backup or primary", param_hint="--as")
    chosen = Role(role)
    if two_fa_stdin and chosen is Role.PRIMARY:
        raise typer.BadParameter("store the 2FA password with --as keeper or --as backup", param_hint="--two-fa-stdin")
    with reported_errors():
        string = _read_source(source, session_format(fmt, field="--format"))
    two_fa = read_secret("2FA password", "--two-fa-stdin") if two_fa_stdin else None

    async def work() -> SessionInfo:
        async with cli_runtime() as runtime:
            factory = runtime.factory
            if chosen is Role.PRIMARY:
                return await factory.update_session(phone, string, actor=CLI_ACTOR)
            return await factory.add_session(phone, string, role=chosen, two_fa=two_fa, actor=CLI_ACTOR)

    info = run_async(work())
    if as_json:
        print_json(info)
        return
    print(f"imported {info.session_id} as the {info.role} of {phone}", file=sys.stdout)


# Test hooks: the Telethon client class (None: Telethon's own) and the prompt (None: a hidden prompt on the terminal).
CLIENT_CLASS: type | None = None
ASK: Callable[[str], Awaitable[str]] | None = None


async def _hidden_prompt(text: str) -> str:
    return read_secret(text, "login")


def login(
    phone: Annotated[str, typer.Argument(help="Phone number in international format.")],
    save_two_fa: Annotated[
        bool, typer.Option("--save-2fa/--no-save-2fa", help="Store the 2FA password typed (needed to mint).")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Log in interactively (code, then 2FA password; nothing echoed) and store the new session as the keeper.

    Each code or password typed counts against the account's login budget at Telegram (about 5 a day).
    """
    from tgsessions.bootstrap import open_runtime, telethon_login
    from tgsessions.domain.model import Role

    settings = load_settings()

    async def work() -> SessionInfo:
        if settings.telegram_backend != "telethon":
            raise ConfigurationError("login talks to real Telegram: set TGS_TELEGRAM_BACKEND=telethon")
        number = normalise_phone(phone)
        done = await telethon_login(settings, number, ASK or _hidden_prompt, client_class=CLIENT_CLASS)
        two_fa = done.two_fa if save_two_fa else None
        async with open_runtime(settings, telegram_client_class=CLIENT_CLASS) as runtime:
            return await runtime.factory.add_session(number, done.string, role=Role.KEEPER, two_fa=two_fa,
                                                     actor=CLI_ACTOR)  # fmt: skip

    info = run_async(work())
    if as_json:
        print_json(info)
        return
    print(f"logged in: {info.session_id} is now the keeper of {phone}", file=sys.stdout)
