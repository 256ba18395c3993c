"""``tgsessions accounts add|list|show``."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tgsessions.cli.commands_onboarding import import_session
from tgsessions.cli.context import CLI_ACTOR, cli_runtime
from tgsessions.cli.errors import run_async
from tgsessions.cli.output import print_json, stdout, table, when
from tgsessions.cli.reports import JsonOption, show_status
from tgsessions.cli.secrets_input import STDIN, parse_proxy, read_secret, secret_option

if TYPE_CHECKING:
    from tgsessions.domain.model import ClientIdentity, Proxy
    from tgsessions.service.results import AccountSummary, SessionInfo, StatusReport
    from tgsessions.service.sessions import AddedAccount

accounts_app = typer.Typer(help="Add, list and show accounts.", no_args_is_help=True)

SecretOption = "Give '-' to read it from stdin."


@accounts_app.command("add")
def add_account(
    phone: Annotated[str, typer.Argument(help="Phone number in international format.")],
    session: Annotated[str | None, typer.Option("--session", help=f"The primary session. {SecretOption}")] = None,
    keeper: Annotated[
        str | None, typer.Option("--keeper", help=f"The keeper session (held back to mint). {SecretOption}")
    ] = None,
    backup: Annotated[
        list[str] | None, typer.Option("--backup", help=f"A backup session, newest first; repeat. {SecretOption}")
    ] = None,
    proxy: Annotated[
        str | None, typer.Option("--proxy", help=f"scheme://[user[:password]@]host:port. {SecretOption}")
    ] = None,
    two_fa_stdin: Annotated[
        bool, typer.Option("--two-fa-stdin", help="Read the account's 2FA password from stdin (after the rest).")
    ] = False,
    api_id: Annotated[int | None, typer.Option("--api-id", help="Pinned client identity: api_id.")] = None,
    device_model: Annotated[str | None, typer.Option("--device-model")] = None,
    system_version: Annotated[str | None, typer.Option("--system-version")] = None,
    app_version: Annotated[str | None, typer.Option("--app-version")] = None,
    lang_code: Annotated[str | None, typer.Option("--lang-code")] = None,
    system_lang_code: Annotated[str | None, typer.Option("--system-lang-code")] = None,
    as_json: JsonOption = False,
) -> None:
    """Store a new account with its sessions (not validated now: fetch and check do that)."""
    primary = secret_option(session, "primary session", "--session")
    keep = secret_option(keeper, "keeper session", "--keeper")
    backups = [read_secret("backup session", "--backup") if b == STDIN else b for b in backup or []]
    proxy_url = secret_option(proxy, "proxy URL", "--proxy")
    parsed_proxy: Proxy | None = parse_proxy(proxy_url) if proxy_url is not None else None
    two_fa = read_secret("2FA password", "--two-fa-stdin") if two_fa_stdin else None
    pinned = {
        "api_id": api_id, "device_model": device_model, "system_version": system_version,
        "app_version": app_version, "lang_code": lang_code, "system_lang_code": system_lang_code,
    }  # fmt: skip
    given: dict[str, Any] = {name: value for name, value in pinned.items() if value is not None}

    async def work() -> AddedAccount:
        async with cli_runtime() as runtime:
            identity: ClientIdentity | None = None
            if given:
                identity = dataclasses.replace(runtime.factory.options.default_identity, **given)
            return await runtime.factory.add_account(
                phone, primary=primary, keeper=keep, backups=backups, two_fa=two_fa, identity=identity,
                proxy=parsed_proxy, actor=CLI_ACTOR,
            )  # fmt: skip

    added = run_async(work())
    if as_json:
        print_json(added)
        return
    print(f"added account {added.phone}: " + ", ".join(f"{s.role} {s.session_id}" for s in added.sessions))


@accounts_app.command("list")
def list_accounts(
    after: Annotated[str | None, typer.Option("--after", help="Start after this phone (the last one shown).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many accounts (1-1000).")] = 100,
    as_json: JsonOption = False,
) -> None:
    """List accounts in the order they were added, a page at a time."""

    async def work() -> list[AccountSummary]:
        async with cli_runtime() as runtime:
            return await runtime.factory.list_accounts(after=after, limit=limit)

    page = run_async(work())
    next_after = page[-1].phone if len(page) == limit and page else None
    if as_json:
        print_json({"accounts": page, "next_after": next_after})
        return
    rows = [(a.phone, a.state, "yes" if a.frozen else "no", when(a.created_at), when(a.last_updated),
             when(a.last_cleanup)) for a in page]  # fmt: skip
    stdout().print(table(None, ("phone", "state", "frozen", "created", "primary changed", "cleaned up"), rows))
    if next_after is not None:
        print(f"more: tgsessions accounts list --after {next_after} --limit {limit}")


@accounts_app.command("show")
def show_account(
    phone: Annotated[str, typer.Argument(help="Phone number.")],
    as_json: JsonOption = False,
) -> None:
    """The account's status (as `tgsessions status`) and its backup sessions (metadata only)."""

    async def work() -> tuple[StatusReport, list[SessionInfo]]:
        async with cli_runtime() as runtime:
            status = await runtime.factory.session_status(phone, actor=CLI_ACTOR)
            return status, await runtime.factory.list_backups(phone)

    status, backups = run_async(work())
    show_status(status, as_json=as_json, backups=backups)


accounts_app.command("import")(import_session)
