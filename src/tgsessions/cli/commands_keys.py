"""``tgsessions keys init|create|list|revoke|rotate-encryption``: the encryption key file and API keys.

``rotate-encryption`` is the keys wing's use case (service/keys/rotation.py: the resume rule, one rotation at a
time); here is its progress bar, its reports are in key_reports.py.
"""

from __future__ import annotations

import os
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tgsessions.cli.context import load_settings
from tgsessions.cli.errors import USAGE_ERROR, fail, reported_errors, run_async
from tgsessions.cli.output import info, print_json, stderr, stdout, table, when
from tgsessions.cli.reports import JsonOption
from tgsessions.domain.access import ApiKey, Scope, parse_scopes

if TYPE_CHECKING:
    from rich.progress import Progress

    from tgsessions.config import Settings
    from tgsessions.domain.key_rotation import BatchDone, KeyIds, KeyUsage
    from tgsessions.service.access import KeyManager
    from tgsessions.service.keys import KeyRotation, RotationOutcome

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


def key_manager() -> AbstractAsyncContextManager[KeyManager]:
    """Storage alone over the configured database (the composition root imported only now)."""
    from tgsessions.bootstrap import open_key_manager

    return open_key_manager(load_settings())


def key_rotation(settings: Settings) -> AbstractAsyncContextManager[KeyRotation]:
    """The data-key rotation over ``settings``, this process named as the lease holder."""
    from tgsessions.bootstrap import open_key_rotation

    return open_key_rotation(settings, holder=holder())


@keys_app.command("init")
def init_key_file() -> None:
    """Create the encryption key file (mode 0600) at TGS_KEY_FILE or DATA_DIR/tgsessions.key; never overwrites."""
    from tgsessions.bootstrap import new_key_file

    with reported_errors():
        path = new_key_file(load_settings())
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
        async with key_manager() as manager:
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
        async with key_manager() as manager:
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
        async with key_manager() as manager:
            return await manager.revoke(key_id)

    key = run_async(work())
    print(f"revoked key {key.key_id} ({key.name}) at {when(key.revoked_at)}")


def holder() -> str:
    """This process, in the rotation lease."""
    import socket

    return f"keys-rotate@{socket.gethostname()}:{os.getpid()}"


async def rotate(settings: Settings, *, batch_size: int, progress: Progress | None) -> RotationOutcome:
    """One run of the rotation (see service/keys/rotation.py for when it adds a key). ``progress`` is started when
    the re-encryption starts and stopped when it ends."""
    import asyncio

    from rich.progress import TaskID

    reencrypting, task = False, TaskID(0)

    def started(total: int) -> None:
        nonlocal reencrypting, task
        reencrypting = True
        if progress is not None:
            progress.start()
            task = progress.add_task("", total=total)

    def batch_done(done: BatchDone) -> None:
        if progress is not None:
            progress.update(task, completed=done.reencrypted, description=done.kind)

    async with key_rotation(settings) as rotation:
        try:
            outcome = await rotation.rotate(batch_size=batch_size, on_start=started, on_batch=batch_done)
            if progress is not None:
                progress.update(task, description="done")
        except (KeyboardInterrupt, asyncio.CancelledError):
            if progress is not None:
                progress.stop()
            if reencrypting:
                info("interrupted: every row is either on its old key or on the new one, and both keys are in the "
                     "key file; run `tgsessions keys rotate-encryption` again to continue")  # fmt: skip
            raise
        finally:
            if progress is not None:
                progress.stop()
    return outcome


async def key_status(settings: Settings, *, batch_size: int) -> tuple[KeyUsage, KeyIds]:
    async with key_rotation(settings) as rotation:
        return await rotation.status(batch_size=batch_size)


async def drop_old_keys(settings: Settings, *, batch_size: int) -> tuple[list[str], Path]:
    """Remove the inactive keys from the key file; refused while any stored secret still uses one."""
    async with key_rotation(settings) as rotation:
        return await rotation.drop_old_keys(batch_size=batch_size), settings.effective_key_file()


@keys_app.command("rotate-encryption")
def rotate_encryption(
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=100_000, help="Rows per transaction.")] = 500,
    status: Annotated[
        bool, typer.Option("--status", help="Only show how many rows (per kind) are on each key id.")
    ] = False,
    drop: Annotated[
        bool,
        typer.Option("--drop-old-keys", help="Remove the inactive keys from the key file (refused while in use)."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a new data key and re-encrypt every stored secret to it, in batches (progress on stderr).

    Safe to interrupt: run it again and it continues (no second key is added while rows remain on older keys).
    Both keys decrypt until it finishes; older keys stay in the key file."""
    from tgsessions.cli.key_reports import show_rotation, show_usage

    if status and drop:
        fail("--status and --drop-old-keys cannot be combined", USAGE_ERROR)
    if status:
        usage, keys = run_async(key_status(load_settings(), batch_size=batch_size))
        show_usage(usage, keys, as_json=as_json)
        return
    if drop:
        dropped, path = run_async(drop_old_keys(load_settings(), batch_size=batch_size))
        if as_json:
            print_json({"key_file": path, "dropped_keys": dropped})
        elif dropped:
            print(f"removed keys {', '.join(dropped)} from {path}")
            info("database backups made before the rotation need the old key file: keep a copy of it with them")
        else:
            print(f"no older keys in {path}")
        return

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("re-encrypting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.description}"))  # fmt: skip
    bar = Progress(*columns, console=stderr(), transient=False)  # started once the re-encryption starts
    settings = load_settings()
    show_rotation(run_async(rotate(settings, batch_size=batch_size, progress=bar)), settings.effective_key_file(),
                  as_json=as_json)  # fmt: skip
