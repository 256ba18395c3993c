"""``tgsessions import mongo-export`` and ``tgsessions export``: moving accounts from and to the replaced service's
MongoDB shape (Extended JSON as ``mongoexport`` writes it; see adapters/mongo and service/importing.py).

Neither needs a Telegram backend, except ``import --validate``. Reports never show a session string or password.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tgsessions.cli.context import CLI_ACTOR, load_settings
from tgsessions.cli.errors import reported_errors, run_async
from tgsessions.cli.output import info, jsonable, pairs, print_json, stderr, stdout, table
from tgsessions.cli.reports import JsonOption
from tgsessions.domain.clock import SystemClock
from tgsessions.domain.errors import InvalidInput

if TYPE_CHECKING:
    from tgsessions.config import Settings
    from tgsessions.domain.ports import Cipher, Database, TelegramGateway
    from tgsessions.service.migration import ExportReport, ImportReport

import_app = typer.Typer(help="Bring accounts in from the replaced service.", no_args_is_help=True)

ExistingFile = typer.Argument(exists=True, dir_okay=False, readable=True)


@asynccontextmanager
async def _storage(
    settings: Settings, *, validate: bool
) -> AsyncIterator[tuple[Database, Cipher, TelegramGateway | None]]:
    """The database and cipher (and, to validate, the configured Telegram gateway through the full runtime)."""
    from tgsessions.bootstrap import open_keys_and_database, open_runtime

    async with AsyncExitStack() as stack:
        if validate:
            runtime = await stack.enter_async_context(open_runtime(settings))
            yield runtime.database, runtime.cipher, runtime.gateway
            return
        cipher, database = await open_keys_and_database(settings, SystemClock())  # refuses a missing/wrong key file
        stack.push_async_callback(database.aclose)
        yield database, cipher, None


def _counts(report: ImportReport) -> str:
    return (f"created {report.accounts_created} · updated {report.accounts_updated} · unchanged "
            f"{report.accounts_unchanged} · rejected {len(report.rejected)}")  # fmt: skip


def show_import(report: ImportReport, *, as_json: bool) -> None:
    if as_json:
        print_json({"summary": report.summary(), "changed": report.changed, **_as_dict(report)})
        return
    facts: list[tuple[str, object]] = [
        ("records read", report.records_read),
        ("accounts created", report.accounts_created),
        ("accounts updated", report.accounts_updated),
        ("accounts unchanged", report.accounts_unchanged),
        ("sessions added", report.sessions_added),
        ("events imported", report.events_imported),
        ("backups over the limit (not stored)", report.backups_over_limit),
        ("records rejected", len(report.rejected)),
    ]
    if report.validation is not None:
        v = report.validation
        facts.append(("sessions alive / dead / unknown", f"{v.alive} / {v.dead} / {v.unknown}"))
    console = stdout()
    console.print(pairs("import (dry run: nothing written)" if report.dry_run else "import", facts))
    if report.rejected:
        rows = [(r.source, f"{r.unit} {r.position}", r.phone, r.reason) for r in report.rejected]
        console.print(table("rejected records", ("file", "where", "phone", "reason"), rows))
    if report.validation is not None and report.validation.dead_sessions:
        dead = [(d.source, d.position, d.phone, d.session_id, d.reason) for d in report.validation.dead_sessions]
        console.print(table("dead sessions (imported)", ("file", "position", "phone", "session_id", "reason"), dead))
    console.print(report.summary())


def _as_dict(report: ImportReport) -> dict[str, object]:
    data = jsonable(report)
    assert isinstance(data, dict)
    return data


@import_app.command("mongo-export")
def mongo_export(
    archived_clients_file: Annotated[Path, ExistingFile],
    users: Annotated[
        Path | None,
        typer.Option("--users", exists=True, dir_okay=False, readable=True, help="The users collection's export."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would change; write nothing.")] = False,
    validate: Annotated[
        bool, typer.Option("--validate", help="Also check every imported session at Telegram (paced).")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=10_000, help="Records per transaction.")] = 500,
    as_json: JsonOption = False,
) -> None:
    """Import the replaced service's archivedClients export (mongoexport: one document per line, or --jsonArray).

    Idempotent: a second run over the same file changes nothing and says so. Progress on stderr, report on stdout.
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    from tgsessions.bootstrap import read_mongo_export
    from tgsessions.config import options_from
    from tgsessions.service.migration import Importer, ImportOptions

    with reported_errors():
        settings = load_settings()
    factory_options = options_from(settings)
    options = ImportOptions(
        batch_size=batch_size,
        dry_run=dry_run,
        max_backups=factory_options.max_backups,
        identity=factory_options.default_identity,
        actor=CLI_ACTOR,
        validate=validate,
        validation_timeout=factory_options.validation_timeout,
    )

    async def work() -> ImportReport:
        async with _storage(settings, validate=validate) as (database, cipher, gateway):
            columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                       TextColumn("{task.fields[counts]}"))  # fmt: skip
            with Progress(*columns, console=stderr(), transient=False) as bar:
                reader = read_mongo_export(archived_clients_file)
                task = bar.add_task("archivedClients", total=reader.size, counts="")
                current = [reader]

                def progress(report: ImportReport) -> None:
                    bar.update(task, completed=current[0].bytes_read, counts=_counts(report))

                importer = Importer(database, cipher, SystemClock(), options, gateway=gateway, progress=progress)
                await importer.import_archived_clients(reader.records())
                if users is not None:
                    current[0] = read_mongo_export(users)
                    task = bar.add_task("users", total=current[0].size, counts="")
                    await importer.import_users(current[0].records())
            return importer.finish()

    show_import(run_async(work()), as_json=as_json)


def export(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="Where to write the archivedClients documents.")],
    users: Annotated[
        Path | None, typer.Option("--users", dir_okay=False, help="Also write users documents (keeper, 2FA) here.")
    ] = None,
    include_secrets: Annotated[
        bool, typer.Option("--include-secrets", help="Write session strings and 2FA passwords (audited).")
    ] = False,
    session_format: Annotated[
        str,
        typer.Option(
            "--session-format",
            help="Layout of the written strings: original (each as it arrived; minted ones as GramJS), telethon, "
            "gramjs or pyrogram.",
        ),
    ] = "original",
    json_array: Annotated[bool, typer.Option("--json-array", help="One JSON array, like mongoexport --jsonArray.")] = (
        False
    ),
    as_json: JsonOption = False,
) -> None:
    """Export every account in the replaced service's archivedClients shape (Extended JSON, one per line).

    Without --include-secrets the session fields hold session_ids. Each account gets an 'exported' audit event.
    """
    from rich.progress import Progress, TextColumn, TimeElapsedColumn

    from tgsessions.bootstrap import write_mongo_export
    from tgsessions.domain.session_codec import SessionFormat
    from tgsessions.service.migration import export_accounts
    from tgsessions.service.session_strings import session_format as session_format_named

    with reported_errors():
        settings = load_settings()
        fmt = None if session_format == "original" else session_format_named(session_format, field="--session-format")
        if fmt is SessionFormat.TELETHON_FILE:
            raise InvalidInput("--session-format must be original, telethon, gramjs or pyrogram", field="format")

    async def work() -> ExportReport:
        async with _storage(settings, validate=False) as (database, _cipher, _gateway), AsyncExitStack() as files:
            out = files.enter_context(write_mongo_export(file, array=json_array))
            user_out = files.enter_context(write_mongo_export(users, array=json_array)) if users else None
            with Progress(TextColumn("exporting"), TextColumn("{task.completed} accounts"), TimeElapsedColumn(),
                          console=stderr(), transient=False) as bar:  # fmt: skip
                task = bar.add_task("", total=None)
                return await export_accounts(
                    database,
                    SystemClock(),
                    write=out.write,
                    write_user=user_out.write if user_out else None,
                    include_secrets=include_secrets,
                    session_format=fmt,
                    actor=CLI_ACTOR,
                    progress=lambda report: bar.update(task, completed=report.accounts),
                )

    report = run_async(work())
    if include_secrets:
        info(f"{file.name} holds session strings{' and passwords' if users else ''}: keep it safe (created 0600)")
    if as_json:
        print_json(report)
        return
    written = f"{report.accounts} accounts ({report.sessions} sessions) to {file}"
    extra = f", {report.users} users documents to {users}" if users else ""
    print(f"exported {written}{extra}{' with secrets' if include_secrets else ' (session ids only)'}", file=sys.stdout)
