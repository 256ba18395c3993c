"""Loading a server with wrk (bench/wrk/fetch.lua) for bench/http.py: one run, rounds of several servers merged,
the server's CPU time per request from /proc, and py-spy under the load."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
LUA = HERE / "fetch.lua"
FETCH_PREFIX = "/archived-clients/fetch/"
THREADS = 2
PY_SPY = HERE.parents[1] / ".venv" / "bin" / "py-spy"


@dataclass(frozen=True)
class Load:
    """What wrk measured against one server (one run, or the rounds of one server merged)."""

    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    seconds: float
    errors: int  # non-2xx answers and socket errors
    cpu_ms_per_request: float  # the server process's CPU time (all its threads) per request


@dataclass(frozen=True)
class Target:
    """A running server to load: its base URL, the API key the Lua script sends, its process id."""

    name: str
    base: str
    key: str
    pid: int


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is not None:
        return found
    print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)  # noqa: S607
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk could not be installed")
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and its threads so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_wrk(target: Target, phones_file: Path, seconds: float, connections: int) -> Load:
    """One wrk run against ``target`` with the fleet's Lua script; its `done()` figures parsed."""
    command = [ensure_wrk(), f"-t{min(THREADS, connections)}", f"-c{connections}", f"-d{seconds:g}s", "--timeout",
               "30s", "-s", str(LUA), target.base, "--", str(phones_file), target.key, FETCH_PREFIX, "1"]  # fmt: skip
    cpu_before = cpu_seconds(target.pid)
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    cpu = cpu_seconds(target.pid) - cpu_before
    figures = {}
    for line in out.decode().splitlines():
        name, sep, value = line.partition(": ")
        if sep and name.startswith("wrk_"):
            figures[name[4:]] = float(value)
    if process.returncode != 0 or "rps" not in figures:
        raise SystemExit(f"wrk failed against {target.name}: {out.decode()[-500:]}")
    requests = int(figures["requests"])
    return Load(figures["rps"], figures["p50_ms"], figures["p99_ms"], figures["max_ms"], requests, figures["seconds"],
                int(figures["non_2xx"] + figures["socket_errors"]), 1000 * cpu / max(requests, 1))  # fmt: skip


def merged(loads: list[Load]) -> Load:
    """Rounds of one server as one load: rates and CPU over all requests, each latency percentile the median of the
    rounds' (so a neighbour's burst during one round does not decide it), the maximum the largest."""
    requests = sum(load.requests for load in loads)
    seconds = sum(load.seconds for load in loads)
    cpu = sum(load.cpu_ms_per_request * load.requests for load in loads)
    return Load(requests / seconds, statistics.median(load.p50_ms for load in loads),
                statistics.median(load.p99_ms for load in loads), max(load.max_ms for load in loads), requests,
                seconds, sum(load.errors for load in loads), cpu / max(requests, 1))  # fmt: skip


async def compare(targets: list[Target], phones_file: Path, *, rounds: int, connections: int,
                  seconds: float) -> dict[str, Load]:  # fmt: skip
    """Each target loaded in turn, ``rounds`` times (the order reversed every other round, so a change in the
    machine's load falls on all alike); ``seconds`` in all per target."""
    runs: dict[str, list[Load]] = {target.name: [] for target in targets}
    for round_number in range(rounds):
        for target in targets if round_number % 2 == 0 else targets[::-1]:
            runs[target.name].append(await run_wrk(target, phones_file, seconds / rounds, connections))
    return {name: merged(loads) for name, loads in runs.items()}


async def profiled(pid: int, seconds: float, out: Path) -> asyncio.subprocess.Process:
    """py-spy recording ``pid`` for ``seconds`` (raw collapsed stacks)."""
    if not PY_SPY.exists():
        raise SystemExit(f"--profile needs py-spy at {PY_SPY}: .venv/bin/pip install py-spy")
    command = [str(PY_SPY), "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "250", "--nonblocking",
               "-f", "raw", "-o", str(out)]  # fmt: skip
    return await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
