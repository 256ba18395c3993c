"""``tgsessions keys init|create|list|revoke|rotate-encryption``: the encryption key file and API keys.

``rotate-encryption`` and its resume rule: a run first counts the stored ciphertexts per key id. When every one of
them is already under the key file's active key (or nothing is stored), the previous rotation is finished, so this
run adds a new data key, makes it active and saves the key file (atomically, 0600) *before* rewriting anything.
When some are still under older keys, a rotation is in progress (interrupted, or rows written meanwhile by a server
that still had the old key file loaded): no key is added and the run continues re-encrypting those rows to the
active key. Rows under a key id the file does not hold stop the command before anything changes (wrong key file).
Only one rotation runs at a time (a database lease).
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tgsessions.adapters.crypto.aesgcm import AesGcmCipher
from tgsessions.adapters.crypto.keyring import KeyRing, create_key_file, load_key_file, save_key_file
from tgsessions.adapters.sql.database import SqlDatabase
from tgsessions.adapters.sql.rotation import KINDS, BatchDone, KeyUsage, RotationReport, SqlKeyRotation
from tgsessions.bootstrap import check_key_file
from tgsessions.cli.context import load_settings, open_key_manager, prepare_database
from tgsessions.cli.errors import USAGE_ERROR, fail, reported_errors, run_async
from tgsessions.cli.output import info, print_json, stderr, stdout, table, when
from tgsessions.cli.reports import JsonOption
from tgsessions.config import Settings
from tgsessions.domain.access import ApiKey, Scope, parse_scopes
from tgsessions.domain.clock import SystemClock
from tgsessions.domain.errors import ConcurrentModification, ConfigurationError

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


ROTATION_LEASE = "key-rotation"
ROTATION_LEASE_TTL = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class RotationOutcome:
    key_file: Path
    active_key: str
    added_key: str | None  # None when this run continued an unfinished rotation
    report: RotationReport
    after: KeyUsage


def usage_json(usage: KeyUsage, ring: KeyRing) -> dict[str, object]:
    remaining = usage.not_on(ring.active)
    return {
        "active_key": ring.active,
        "keys": sorted(ring.keys),
        "rows": {kind: dict(usage.counts.get(kind, {})) for kind in KINDS},
        "by_key": usage.by_key(),
        "total": usage.total(),
        "remaining": remaining,
        "rotation_in_progress": remaining > 0,
    }


def show_usage(usage: KeyUsage, ring: KeyRing, *, as_json: bool) -> None:
    if as_json:
        print_json(usage_json(usage, ring))
        return
    key_ids = sorted(usage.key_ids() | {ring.active})
    rows = [(kind, *(usage.counts.get(kind, {}).get(k, 0) for k in key_ids)) for kind in KINDS]
    rows.append(("total", *(usage.by_key().get(k, 0) for k in key_ids)))
    headers = [f"{k} (active)" if k == ring.active else k for k in key_ids]
    stdout().print(table(None, ("rows", *headers), rows))
    remaining = usage.not_on(ring.active)
    if remaining:
        print(f"{remaining} rows remain on older keys: run `tgsessions keys rotate-encryption` to finish the rotation")
    else:
        print(f"every stored secret is on the active key {ring.active}")


def check_keys_known(usage: KeyUsage, ring: KeyRing, path: Path) -> None:
    unknown = sorted(usage.key_ids() - set(ring.keys))
    if unknown:
        count = sum(usage.by_key()[k] for k in unknown)
        raise ConfigurationError(
            f"{count} stored secrets are under key ids {', '.join(unknown)} that the key file {path} does not hold "
            "(wrong key file?); nothing was changed"
        )


async def open_storage(settings: Settings, ring: KeyRing) -> SqlDatabase:
    """The database, once the key file is known to decrypt what it stores (else ConfigurationError, one line)."""
    database = await SqlDatabase.open(await prepare_database(settings), cipher=AesGcmCipher(ring), clock=SystemClock())
    try:
        await check_key_file(database, ring, settings.effective_key_file())
    except BaseException:
        await database.aclose()
        raise
    return database


async def rotate(settings: Settings, *, batch_size: int, progress: Progress | None) -> RotationOutcome:
    """One run of the rotation (see the module docstring for when it adds a key). ``progress`` is started when the
    re-encryption starts and stopped when it ends."""
    path = settings.effective_key_file()
    ring = load_key_file(path)
    database = await open_storage(settings, ring)
    holder = f"keys-rotate@{socket.gethostname()}:{os.getpid()}"
    try:
        lease = await database.leases.try_acquire(ROTATION_LEASE, holder, ROTATION_LEASE_TTL)
        if lease is None:
            raise ConcurrentModification("another key rotation is running on this database; try again later")
        try:
            before = await SqlKeyRotation(database.engine, AesGcmCipher(ring)).usage(batch_size=batch_size)
            check_keys_known(before, ring, path)
            added = None
            if before.not_on(ring.active) == 0:
                added = ring.add_key(activate=True)
                save_key_file(path, ring)  # before any row is written under the new key
            rotation = SqlKeyRotation(database.engine, AesGcmCipher(ring))
            task = None
            if progress is not None:
                progress.start()
                task = progress.add_task("", total=before.not_on(ring.active))

            async def on_batch(done: BatchDone) -> None:
                if progress is not None and task is not None:
                    progress.update(task, completed=done.reencrypted, description=done.kind)
                if await database.leases.try_acquire(ROTATION_LEASE, holder, ROTATION_LEASE_TTL) is None:
                    raise ConcurrentModification("the key rotation lease was lost; run the command again")

            try:
                report = await rotation.reencrypt(batch_size=batch_size, on_batch=on_batch)
                if progress is not None and task is not None:
                    progress.update(task, description="done")
            except (KeyboardInterrupt, asyncio.CancelledError):
                if progress is not None:
                    progress.stop()
                info("interrupted: every row is either on its old key or on the new one, and both keys are in the "
                     "key file; run `tgsessions keys rotate-encryption` again to continue")  # fmt: skip
                raise
            finally:
                if progress is not None:
                    progress.stop()
            after = await rotation.usage(batch_size=batch_size)
        finally:
            await database.leases.release(lease)
    finally:
        await database.aclose()
    return RotationOutcome(path, ring.active, added, report, after)


async def key_status(settings: Settings, *, batch_size: int) -> tuple[KeyUsage, KeyRing]:
    ring = load_key_file(settings.effective_key_file())
    database = await open_storage(settings, ring)
    try:
        return await SqlKeyRotation(database.engine, AesGcmCipher(ring)).usage(batch_size=batch_size), ring
    finally:
        await database.aclose()


async def drop_old_keys(settings: Settings, *, batch_size: int) -> tuple[list[str], Path]:
    """Remove the inactive keys from the key file; refused while any stored secret still uses one."""
    path = settings.effective_key_file()
    usage, ring = await key_status(settings, batch_size=batch_size)
    check_keys_known(usage, ring, path)
    remaining = usage.not_on(ring.active)
    if remaining:
        raise ConfigurationError(
            f"{remaining} stored secrets still use older keys; finish `tgsessions keys rotate-encryption` first"
        )
    dropped = ring.drop_inactive_keys()
    if dropped:
        save_key_file(path, ring)
    return dropped, path


def show_rotation(outcome: RotationOutcome, *, as_json: bool) -> None:
    remaining = outcome.after.not_on(outcome.active_key)
    if as_json:
        print_json({
            "key_file": outcome.key_file,
            "active_key": outcome.active_key,
            "added_key": outcome.added_key,
            "resumed": outcome.added_key is None,
            "reencrypted": outcome.report.reencrypted,
            "total": outcome.report.total,
            "rows": {kind: dict(outcome.after.counts.get(kind, {})) for kind in KINDS},
            "remaining": remaining,
        })  # fmt: skip
        return
    if outcome.added_key is not None:
        print(f"added key {outcome.added_key} to {outcome.key_file} and made it active")
    else:
        print(f"continued the unfinished rotation to key {outcome.active_key}")
    parts = ", ".join(f"{kind} {count}" for kind, count in outcome.report.reencrypted.items())
    print(f"re-encrypted {outcome.report.total} secrets ({parts})")
    if remaining:
        print(f"{remaining} rows were written under older keys meanwhile: run the command again to finish")
    else:
        print(f"every stored secret is on key {outcome.active_key}; older keys stay in the key file")
    if outcome.added_key is not None:
        info("back up the key file again now; running servers load the new key by themselves")


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
    if status and drop:
        fail("--status and --drop-old-keys cannot be combined", USAGE_ERROR)
    if status:
        usage, ring = run_async(key_status(load_settings(), batch_size=batch_size))
        show_usage(usage, ring, as_json=as_json)
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

    columns = (TextColumn("re-encrypting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.description}"))  # fmt: skip
    bar = Progress(*columns, console=stderr(), transient=False)  # started once the re-encryption starts
    show_rotation(run_async(rotate(load_settings(), batch_size=batch_size, progress=bar)), as_json=as_json)
