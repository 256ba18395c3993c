"""Two real `tgsessions serve` processes on one PostgreSQL database, each with the maintenance scheduler ticking every
second: both run maintenance, and no two runs ever overlap in time (the database lease ``maintenance``).

The simulated Telegram lives in each process; the second one starts from a copy of the first one's world (its data
directory), so both find the demo accounts' sessions alive. Every step is bounded by a timeout and both processes
are stopped in a ``finally``.
"""

from __future__ import annotations

import itertools
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.cli.test_serve_process import free_port, read_lines
from tests.support.db_fixtures import create_pg_database, database_url_with_name, drop_pg_database, run_blocking
from tgsessions.adapters.sql.migrate import upgrade
from tgsessions.adapters.sql.tables import maintenance_runs

ROOT = Path(__file__).resolve().parents[2]
TGSESSIONS = ROOT / ".venv" / "bin" / "tgsessions"
STARTUP_SECONDS = 60
RUNS_SECONDS = 90  # how long to wait for both instances to have run maintenance


@dataclass(frozen=True)
class RunRow:
    id: int
    holder: str | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    report: str
    error: str | None


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    name = create_pg_database(postgres_url)
    url = database_url_with_name(postgres_url, name)
    try:
        run_blocking(lambda: upgrade(url))
        yield url
    finally:
        drop_pg_database(postgres_url, name)


def read_runs(url: str) -> list[RunRow]:
    async def query() -> list[RunRow]:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(select(maintenance_runs).order_by(maintenance_runs.c.id))).mappings()
                return [
                    RunRow(r["id"], r["holder"], r["status"], r["started_at"], r["finished_at"], r["report"],
                           r["error"])
                    for r in rows
                ]  # fmt: skip
        finally:
            await engine.dispose()

    return run_blocking(query)


class Serve:
    """One `tgsessions serve --telegram simulated` process, its stdout read by a thread."""

    def __init__(self, env: dict[str, str], port: int, data_dir: Path, log: Path) -> None:
        self.log = log
        self._errors = log.open("w")
        env = env | {"TGS_PORT": str(port), "TGS_DATA_DIR": str(data_dir)}
        self.process = subprocess.Popen(  # noqa: S603 - our own command
            [str(TGSESSIONS), "serve", "--telegram", "simulated"],
            cwd=data_dir.parent, env=env, stdout=subprocess.PIPE, stderr=self._errors, text=True, bufsize=1,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=read_lines, args=(self.process.stdout, self.lines), daemon=True).start()

    def wait_announced(self) -> dict[str, str]:
        facts: dict[str, str] = {}
        deadline = time.monotonic() + STARTUP_SECONDS
        while "docs" not in facts:
            assert self.process.poll() is None, f"serve exited with {self.process.returncode}: {self.log.read_text()}"
            assert time.monotonic() < deadline, f"serve did not announce itself in time: {facts}"
            try:
                line = self.lines.get(timeout=0.5).strip()
            except queue.Empty:
                continue
            name, _, value = line.partition(": ")
            facts[name] = value
        return facts

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise
        finally:
            self._errors.close()


def test_two_servers_share_the_database_and_run_maintenance_one_at_a_time(tmp_path: Path, pg_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGS_")}
    env |= {
        "TGS_DATABASE_URL": pg_url,
        "TGS_KEY_FILE": str(tmp_path / "shared.key"),
        "TGS_MAINTENANCE_INTERVAL_SECONDS": "1",
        "TGS_MAINTENANCE_START_DELAY_SECONDS": "0.5",
        "TGS_KEEPALIVE_HOURS": "0",  # every run reconnects every session: runs take a while under the pacing
        "TGS_MAINTENANCE_CALLS_PER_SECOND": "5",
        "TGS_MAINTENANCE_ACCOUNT_CALLS_PER_MINUTE": "600",
    }
    created = subprocess.run(  # noqa: S603
        [str(TGSESSIONS), "keys", "init"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert created.returncode == 0, created.stderr

    servers: list[Serve] = []
    codes: list[int] = []
    try:
        first = Serve(env, free_port(), tmp_path / "a", tmp_path / "a.stderr")
        servers.append(first)
        facts = first.wait_announced()
        assert facts["demo accounts"] == "79990000001, 79990000002, 79990000003"
        # the second world starts as a copy of the first (written atomically after the demo was seeded)
        (tmp_path / "b").mkdir()
        shutil.copyfile(tmp_path / "a" / "simulated-telegram.json", tmp_path / "b" / "simulated-telegram.json")
        second = Serve(env, free_port(), tmp_path / "b", tmp_path / "b.stderr")
        servers.append(second)
        assert "demo accounts" not in second.wait_announced()  # the accounts are in the shared database already

        deadline = time.monotonic() + RUNS_SECONDS
        while True:
            runs = read_runs(pg_url)
            finished = [r for r in runs if r.status == "finished"]
            if len({r.holder for r in finished}) >= 2 and len(finished) >= 4:
                break
            assert time.monotonic() < deadline, f"both instances did not run maintenance in time: {runs}"
            for server in servers:
                assert server.process.poll() is None, server.log.read_text()
            time.sleep(0.5)
    finally:
        for server in servers:
            codes.append(server.stop())

    runs = read_runs(pg_url)
    assert codes == [0, 0], [s.log.read_text() for s in servers]
    for server in servers:
        assert "Traceback" not in server.log.read_text()
    assert all(r.finished_at is not None and r.status != "running" for r in runs), runs
    holders = {r.holder for r in runs}
    assert len(holders) == 2 and None not in holders  # each process ran maintenance itself
    ordered = sorted(runs, key=lambda r: r.started_at)
    for before, after in itertools.pairwise(ordered):
        assert before.finished_at is not None
        assert before.finished_at <= after.started_at, f"runs overlap: {before} and {after}"
    assert all(r.status == "finished" or r.error == "interrupted" for r in runs), runs
    assert any('"accounts": 3' in r.report and '"healthy": 3' in r.report for r in runs)
