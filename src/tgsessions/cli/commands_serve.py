"""``tgsessions serve``: open the runtime, seed the demo (simulated), make the first admin key, serve HTTP."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tgsessions.cli.context import describe_database, load_settings
from tgsessions.cli.errors import reported_errors

if TYPE_CHECKING:
    from tgsessions.config import Settings
    from tgsessions.service.runtime import Runtime


class CompatChoice(StrEnum):
    NATIVE = "native"
    ORIGINAL = "original"


class TelegramChoice(StrEnum):
    simulated = "simulated"
    telethon = "telethon"


def announce(settings: Settings, host: str, port: int, seeded: list[str], admin_key: str | None) -> None:
    """What a person needs to start: one fact per line on stdout."""
    backend = settings.telegram_backend
    lines = [
        f"listening on http://{host}:{port}",
        "telegram: simulated (no real account is used)" if backend == "simulated" else f"telegram: {backend}",
        f"database: {describe_database(settings.effective_database_url())}",
    ]
    if settings.api_compat == "original":
        lines.append("api: original (the replaced service's /archived-clients API)")
    if seeded:
        lines.append(f"demo accounts: {', '.join(seeded)}")
    if admin_key is not None:
        lines.append(f"admin key (shown once, all scopes): {admin_key}")
    lines.append(f"docs: http://{host}:{port}/docs")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


async def serve_until_stopped(settings: Settings, host: str, port: int) -> None:
    from tgsessions.config import check_backend

    check_backend(settings)  # refuse before anything is imported or created
    import asyncio

    import uvicorn  # lazily, as the API below: only serve loads the web stack

    from tgsessions.bootstrap import build_scheduler, configure_logging, ensure_admin_key, open_runtime
    from tgsessions.cli.uvicorn_server import Server
    from tgsessions.demo import seed_demo_accounts

    configure_logging(fmt=settings.log_format, level=settings.log_level)
    from tgsessions.api.app import create_app  # lazily: the API (and FastAPI) only for serve
    from tgsessions.api.limits import RequestLimits
    from tgsessions.api.profiles import ApiProfile
    from tgsessions.api.serving import freeze_startup_heap, uvicorn_options

    async with open_runtime(settings) as runtime:
        seeded = await seed_demo_accounts(runtime) if runtime.simulated is not None else []
        admin_key = await ensure_admin_key(runtime)
        announce(settings, host, port, seeded, admin_key)

        @asynccontextmanager
        async def opened() -> AsyncIterator[Runtime]:
            yield runtime  # already open; closed when serving stops

        limits = RequestLimits(settings.max_body_bytes, settings.body_read_timeout_seconds)
        app = create_app(opened, profile=ApiProfile(settings.api_compat), limits=limits)
        # uvloop, httptools with a head deadline and size bound, no uvicorn access line (ours is the one).
        config = uvicorn.Config(app, host=host, port=port, **uvicorn_options(
            log_level=settings.log_level, header_timeout=settings.header_read_timeout_seconds,
            max_header_bytes=settings.max_header_bytes, keep_alive=settings.keep_alive_seconds,
            max_connections=settings.max_connections,
        ))  # fmt: skip
        scheduler = build_scheduler(runtime, settings)  # its first tick waits TGS_MAINTENANCE_START_DELAY_SECONDS
        scheduler.start()
        # Mints a crash left half-done (intents still open) are reconciled in the background while serving starts.
        healing = asyncio.create_task(runtime.factory.reconcile_open_intents(actor="startup"), name="reconcile")
        try:
            freeze_startup_heap()  # the garbage collector no longer walks what start-up built, on every request
            await Server(config).serve()
        finally:
            healing.cancel()
            await asyncio.gather(healing, return_exceptions=True)
            await scheduler.aclose()  # then the runtime stops a run under way (it resumes on the next start)


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on (default: TGS_HOST).")] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Port to listen on (default: TGS_PORT).")
    ] = None,
    telegram: Annotated[
        TelegramChoice | None,
        typer.Option("--telegram", help="Telegram backend (default: TGS_TELEGRAM_BACKEND; one must be chosen)."),
    ] = None,
    compat: Annotated[
        CompatChoice | None,
        typer.Option("--compat", help="API profile: native, or original (the replaced service's; TGS_API_COMPAT)."),
    ] = None,
) -> None:
    """Run the HTTP API (migrates the embedded SQLite default; seeds demo accounts when simulated).

    Maintenance runs in the background every TGS_MAINTENANCE_INTERVAL_SECONDS (one instance at a time).

    The first admin key is created and printed once when no active key exists. Ctrl-C or SIGTERM stop it cleanly.
    """

    async def work() -> None:
        settings = load_settings(host=host, port=port, telegram_backend=telegram.value if telegram else None,
                                 api_compat=compat.value if compat else None)  # fmt: skip
        await serve_until_stopped(settings, settings.host, settings.port)

    run_serving(work())


def run_serving(main: Coroutine[Any, Any, None]) -> None:
    """Like ``run_async``, in uvloop's event loop when it is installed (uvicorn's ``loop`` option only applies to
    loops uvicorn creates itself)."""
    import asyncio

    from tgsessions.api.serving import event_loop_factory

    with reported_errors(), asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(main)
