"""``tgsessions fetch|status|cleanup|check``: the session factory's use cases, with audit actor ``cli``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tgsessions.cli.context import CLI_ACTOR, cli_runtime
from tgsessions.cli.errors import reported_errors, run_async
from tgsessions.cli.output import print_json, stderr
from tgsessions.cli.reports import JsonOption, fetch_json, show_cleanup, show_maintenance, show_status
from tgsessions.domain.errors import InvalidInput

if TYPE_CHECKING:
    from tgsessions.domain.runs import MaintenanceRun
    from tgsessions.service.migration import RepairReport
    from tgsessions.service.results import CleanupReport, FetchResult, StatusReport

PhoneArgument = Annotated[str, typer.Argument(help="Phone number in international format.")]


def fetch(
    phone: PhoneArgument,
    as_json: JsonOption = False,
    output_format: Annotated[
        str, typer.Option("--format", help="Layout of the printed string: telethon (default), gramjs or pyrogram.")
    ] = "telethon",
) -> None:
    """Print a session of PHONE that works right now (promoting or minting when needed). Audited as 'cli'."""
    from tgsessions.domain.session_codec import SessionFormat
    from tgsessions.service.session_strings import session_format

    with reported_errors():
        fmt = session_format(output_format, field="--format")
        if fmt is None or fmt is SessionFormat.TELETHON_FILE:
            raise InvalidInput("--format must be telethon, gramjs or pyrogram", field="format")

    async def work() -> FetchResult:
        async with cli_runtime() as runtime:
            result = await runtime.factory.fetch_one(phone, actor=CLI_ACTOR)
            await runtime.factory.drain()  # let a background top-up finish before the process ends
            return result

    result = run_async(work())
    with reported_errors():
        if as_json:
            print_json(fetch_json(result, fmt))
        else:
            print(result.rendered(fmt).reveal(), flush=True)


def status(phone: PhoneArgument, as_json: JsonOption = False) -> None:
    """Health of PHONE's sessions: primary alive, backups, keeper, reliability, breaker, frozen."""

    async def work() -> StatusReport:
        async with cli_runtime() as runtime:
            return await runtime.factory.session_status(phone, actor=CLI_ACTOR)

    show_status(run_async(work()), as_json=as_json)


def cleanup(
    phone: PhoneArgument,
    max_backups: Annotated[
        int | None, typer.Option("--max", min=0, help="Live backups to keep (default: the service's default).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Retire dead backups of PHONE and revoke live ones beyond --max (primary and keeper are never touched)."""

    async def work() -> CleanupReport:
        async with cli_runtime() as runtime:
            return await runtime.factory.cleanup_sessions(phone, max_backups, actor=CLI_ACTOR)

    show_cleanup(run_async(work()), as_json=as_json)


def check(as_json: JsonOption = False) -> None:
    """Maintenance over all accounts (keep-alive, promote, top up, clean up); progress on stderr, then a summary."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    async def work() -> MaintenanceRun:
        async with cli_runtime() as runtime:
            columns = (TextColumn("checking"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       TextColumn("{task.description}"))  # fmt: skip
            bar = Progress(*columns, console=stderr(), transient=False)
            task = bar.add_task("", total=None)

            def progress(done: int, total: int, phone: str) -> None:
                bar.update(task, completed=done, total=total, description=phone)

            run = await runtime.factory.start_maintenance(actor=CLI_ACTOR, watch=progress)  # refused: no bar shown
            with bar:
                await runtime.factory.wait_for_maintenance()
                bar.update(task, description="done")
            await runtime.factory.drain()
            assert run.id is not None
            return await runtime.factory.maintenance_run(run.id)

    show_maintenance(run_async(work()), as_json=as_json)


def repair_sessions(as_json: JsonOption = False) -> None:
    """Rewrite session strings stored by tgsessions 0.1 (verbatim, e.g. GramJS) in the canonical form, and release
    sessions quarantined as malformed that read fine. Idempotent; nothing is ever wiped."""

    async def work() -> RepairReport:
        async with cli_runtime() as runtime:
            return await runtime.factory.repair_sessions(actor=CLI_ACTOR)

    report = run_async(work())
    if as_json:
        print_json(report)
        return
    found = ", ".join(f"{n} {name}" for name, n in sorted(report.converted.items())) or "none"
    print(f"accounts {report.accounts} · sessions checked {report.sessions_seen} · rewritten: {found} · "
          f"released {report.released} · unreadable {report.unreadable} · duplicates {report.duplicates}")  # fmt: skip
