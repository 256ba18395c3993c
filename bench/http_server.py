"""The servers of bench/http.py, each in its own process, and their data.

- the service: the real ``tgsessions serve --telegram simulated`` over a fleet seeded through the Python API (each
  phone a keeper and a primary), rate limit off, scheduled maintenance off (the bench starts a run itself), JSON logs
  to a file;
- the bare reference (bench/reference_app.py) and the do-nothing ASGI endpoint, served by this module as a script
  (``python bench/http_server.py reference|no-op PORT [DATABASE_URL FLEET_FILE]``) under exactly the uvicorn settings
  ``serve`` uses (``tgsessions.api.serving.uvicorn_options``: uvloop, httptools, no uvicorn access log).

PostgreSQL runs get a throw-away database on the given server, dropped afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py must not shadow the standard library's http package: this folder goes last on the path.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]

import asyncio  # noqa: E402
import contextlib  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import AsyncIterator, Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import timedelta  # noqa: E402
from typing import IO, Any  # noqa: E402

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from sqlalchemy import make_url  # noqa: E402

ROOT = HERE.parent
TGS = ROOT / ".venv" / "bin" / "tgsessions"
PYTHON = ROOT / ".venv" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Backend:
    """Where one backend's run keeps its data: the service's settings as environment variables, the reference's
    database URL."""

    name: str  # sqlite | postgresql
    data_dir: Path
    service_url: str | None  # None: the embedded SQLite in data_dir
    reference_url: str

    def service_env(self, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TGS_")}
        env |= {"TGS_DATA_DIR": str(self.data_dir), "TGS_TELEGRAM_BACKEND": "simulated", "TGS_HOST": "127.0.0.1",
                "TGS_PORT": str(port), "TGS_RATE_LIMIT_PER_MINUTE": "0", "TGS_MAINTENANCE_INTERVAL_SECONDS": "0",
                "TGS_KEEPALIVE_HOURS": "0", "TGS_LOG_FORMAT": "json", "TGS_LOG_LEVEL": "INFO",
                "TGS_CACHE_BACKEND": "memory"}  # fmt: skip
        if self.service_url is not None:
            env |= {"TGS_DATABASE_URL": self.service_url, "TGS_KEY_FILE": str(self.data_dir / "tgsessions.key")}
        return env


@contextlib.asynccontextmanager
async def throwaway_postgres(server_url: str) -> AsyncIterator[str]:
    """A new, empty database on ``server_url``'s server (SQLAlchemy URL with asyncpg); dropped on exit."""
    url = make_url(server_url)
    name = f"tgs_http_bench_{secrets.token_hex(4)}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def seed_service(backend: Backend, phones: list[str]) -> str:
    """The fleet in the service's database (a keeper and a primary per phone, alive at the simulated Telegram saved
    in the data dir); returns an API key with every scope."""
    from tgsessions.bootstrap import migrate_database, new_key_file, open_runtime, save_simulated_world
    from tgsessions.config import Settings
    from tgsessions.domain.access import ALL_SCOPES

    settings = Settings(data_dir=backend.data_dir, database_url=backend.service_url, telegram_backend="simulated",
                        key_file=backend.data_dir / "tgsessions.key" if backend.service_url else None,
                        cache_backend="memory", _env_file=None)  # fmt: skip
    backend.data_dir.mkdir(parents=True, exist_ok=True)
    if backend.service_url is not None:
        new_key_file(settings)
        await migrate_database(settings)
    async with open_runtime(settings) as runtime:
        world = runtime.simulated
        assert world is not None
        for phone in phones:
            world.add_account(phone)
            keeper = world.create_session(phone, age=timedelta(days=120))
            primary = world.create_session(phone, age=timedelta(days=60))
            await runtime.factory.add_account(phone, primary=primary, keeper=keeper, actor="bench-seed")
        save_simulated_world(runtime)
        _record, key = await runtime.keys.create("bench", ALL_SCOPES)
    return key


def start_service(backend: Backend, port: int, log: IO[str]) -> subprocess.Popen[str]:
    """``tgsessions serve`` (its stdout, with the facts it prints, is dropped; its log lines go to ``log``)."""
    return subprocess.Popen(  # noqa: S603 - our own entry point
        [str(TGS), "serve", "--telegram", "simulated"], env=backend.service_env(port), cwd=backend.data_dir,
        stdout=subprocess.DEVNULL, stderr=log, text=True,
    )  # fmt: skip


def start_bare(kind: str, port: int, log: IO[str], *args: str) -> subprocess.Popen[str]:
    """The reference or the do-nothing endpoint, served by this module as a script."""
    command = [str(PYTHON), str(Path(__file__).resolve()), kind, str(port), *args]
    return subprocess.Popen(command, stdout=log, stderr=log, text=True)  # noqa: S603 - our own script


def wait_until_up(process: subprocess.Popen[str], url: str, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server for {url} exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running(process: subprocess.Popen[str], url: str) -> Iterator[subprocess.Popen[str]]:
    try:
        wait_until_up(process, url)
        yield process
    finally:
        stop(process)


async def serve_bare(kind: str, port: int, database_url: str | None, fleet_file: Path | None) -> None:
    import uvicorn

    from reference_app import Fleet, no_op_app, reference_app, seed
    from tgsessions.api.serving import uvicorn_options

    app: Any = no_op_app
    if kind == "reference":
        if database_url is None or fleet_file is None:
            raise SystemExit("the reference needs DATABASE_URL and FLEET_FILE")
        fleet = Fleet.load(fleet_file)
        await seed(database_url, fleet)
        app = reference_app(database_url, fleet)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, **uvicorn_options(max_connections=1000))
    await uvicorn.Server(config).serve()


def main() -> None:
    from tgsessions.api.serving import event_loop_factory

    kind, port = sys.argv[1], int(sys.argv[2])
    database_url = sys.argv[3] if len(sys.argv) > 3 else None
    fleet_file = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    if kind not in ("reference", "no-op"):
        raise SystemExit("usage: http_server.py reference|no-op PORT [DATABASE_URL FLEET_FILE]")
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(serve_bare(kind, port, database_url, fleet_file))


if __name__ == "__main__":
    main()
