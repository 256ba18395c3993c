"""``tgsessions keys init|create|list|revoke``: the encryption key file and API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from tgsessions.adapters.crypto.keyring import create_key_file
from tgsessions.cli.context import load_settings, open_key_manager
from tgsessions.cli.errors import reported_errors, run_async
from tgsessions.cli.output import info, print_json, stdout, table, when
from tgsessions.cli.reports import JsonOption
from tgsessions.domain.access import ApiKey, Scope, parse_scopes

keys_app = typer.Typer(help="The encryption key file and API keys.", no_args_is_help=True)


def key_json(key: ApiKey) -> dict[str, object]:
    """What may be shown about a key: never its hash or secret."""
    return {
        "key_id": key.key_id,
        "name": key.name,
        "scopes": sorted(key.scopes),
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
        "rate_limit_per_minute": key.rate_limit_per_minute,
        "active": key.active,
    }


def scopes_option(raw: str) -> frozenset[Scope]:
    try:
        return parse_scopes(raw)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scopes") from None


@keys_app.command("init")
def init_key_file() -> None:
    """Create the encryption key file (mode 0600) at TGS_KEY_FILE or DATA_DIR/tgsessions.key; never overwrites."""
    with reported_errors():
        path = load_settings().effective_key_file()
        create_key_file(path)
    print(f"created key file {path} (mode 0600)")
    info("back it up now: without it the stored sessions cannot be decrypted")


@keys_app.command("create")
def create_key(
    name: Annotated[str, typer.Argument(help="A name for the caller, e.g. 'billing-worker'.")],
    scopes: Annotated[
        str,
        typer.Option(
            "--scopes",
            help=f"Comma-separated scopes: {', '.join(s.value for s in Scope)}.",
            show_default=False,
        ),
    ],
    rate_limit: Annotated[
        int | None,
        typer.Option("--rate-limit", min=1, help="Requests per minute (default: TGS_RATE_LIMIT_PER_MINUTE)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key. The key is printed once (on stdout) and stored only as a keyed hash."""
    chosen = scopes_option(scopes)

    async def work() -> tuple[ApiKey, str]:
        async with open_key_manager(load_settings()) as manager:
            return await manager.create(name, chosen, rate_limit_per_minute=rate_limit)

    key, plaintext = run_async(work())
    if as_json:
        print_json({**key_json(key), "key": plaintext})
        return
    info(f"created key {key.key_id} ({key.name}; scopes {', '.join(sorted(key.scopes))}); store it now, "
         "it is not shown again:")  # fmt: skip
    print(plaintext, flush=True)


@keys_app.command("list")
def list_keys(as_json: JsonOption = False) -> None:
    """List API keys (ids, names, scopes, dates; never secrets)."""

    async def work() -> list[ApiKey]:
        async with open_key_manager(load_settings()) as manager:
            return await manager.list()

    keys = run_async(work())
    if as_json:
        print_json([key_json(k) for k in keys])
        return
    rows = [
        (k.key_id, k.name, ", ".join(sorted(k.scopes)), when(k.created_at), when(k.revoked_at),
         k.rate_limit_per_minute or "default")
        for k in keys
    ]  # fmt: skip
    stdout().print(table(None, ("id", "name", "scopes", "created", "revoked", "rate/min"), rows))


@keys_app.command("revoke")
def revoke_key(key_id: Annotated[str, typer.Argument(help="The key id (the 12 hex digits after 'tgs_').")]) -> None:
    """Revoke an API key: it stops working at once here and within 10 s in running servers."""

    async def work() -> ApiKey:
        async with open_key_manager(load_settings()) as manager:
            return await manager.revoke(key_id)

    key = run_async(work())
    print(f"revoked key {key.key_id} ({key.name}) at {when(key.revoked_at)}")
