"""HTTP benchmark: the real `tgsessions serve` against a bare reference, loaded by `wrk` (installed when missing).

For each backend (SQLite; PostgreSQL in a throw-away database on TGS_TEST_POSTGRES_URL's server) a fleet of phones
(1,000) is seeded into the service and into the reference's own minimal schema; three servers run, each in its own
process under `serve`'s uvicorn settings (uvloop, httptools, no uvicorn access log): the service (simulated
Telegram, rate limit off, JSON logs to a file), the bare reference (bench/reference_app.py: FastAPI, an in-memory key
check, one indexed SELECT with the raw driver, AES-GCM decrypt, one audit INSERT and its COMMIT per request) and a
do-nothing ASGI endpoint. The service is warmed with one fetch of every phone (verdicts cached), then each server is
loaded in turn with the same wrk settings (2 threads, --connections, --seconds in all, split into --rounds whose
order alternates, so a change in the machine's load falls on every server alike) and the same Lua script
(bench/wrk/fetch.lua: the key header, a random phone of the fleet per request; bench/wrk/load.py runs it).

Figures, one `name: value` per line, each suffixed with its backend (`_sqlite`, `_postgresql`); ratios are taken in
the same run, absolute numbers are printed but not judged:
  fetch_rps, fetch_p50_ms, fetch_p99_ms              warm GET /archived-clients/fetch/{mobile} on the service
  reference_rps, reference_p50_ms, reference_p99_ms  the same request on the bare reference
  fetch_rps_ratio                                    fetch_rps / reference_rps (target >= 0.8)
  fetch_p99_over_p50                                 fetch_p99_ms / fetch_p50_ms (target <= 3)
  fetch_cpu_ms_per_request, reference_cpu_ms_per_request
                                                     each server process's CPU time (all threads, from /proc) per
                                                     request: steadier than rates on a shared machine
  fetch_cpu_ratio                                    reference_cpu_ms_per_request / fetch_cpu_ms_per_request
  generator_rps                                      the do-nothing endpoint's rate: generator and uvicorn together
  generator_over_service                             generator_rps / fetch_rps (above 1: the generator is not
                                                     what limits the service)
  fetch_p99_before_maintenance_ms                    the fetch load again, just before a maintenance run starts
  fetch_rps_during_maintenance, fetch_p99_during_maintenance_ms
                                                     the same fetch load while the run (started through
                                                     POST /archived-clients/maintenance/runs; keep-alive of every
                                                     session due: TGS_KEEPALIVE_HOURS=0) goes over the accounts
  maintenance_p99_ratio                              fetch_p99_during_maintenance_ms / fetch_p99_before_maintenance_ms
                                                     (target <= 2)
  maintenance_accounts_done                          accounts the run had finished when the load stopped
  fetch_errors, reference_errors, maintenance_fetch_errors   non-2xx answers and socket errors (expected 0)

A latency percentile over rounds is the median of the rounds'. --sweep adds requests/s at 1, 8, 32, 64 and 128
connections for the service and the reference, in 2 rounds (printed as `sweep_rps_<server>_<connections>_<backend>`;
in the JSON as a list, for bench/report.py's plot).

Usage: .venv/bin/python bench/http.py [--seconds 12] [--connections 64] [--rounds 4] [--phones 1000]
       [--backend sqlite|postgresql|both] [--postgres-url URL] [--sweep [--sweep-seconds 6]] [--json FILE]
       [--profile DIR]
--profile records the service under the fetch load with py-spy (`.venv/bin/py-spy`, raw collapsed stacks per
backend in DIR).
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named http.py (as asked for): its folder goes last on the path, behind the standard library's http.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
from contextlib import AsyncExitStack, ExitStack  # noqa: E402
from dataclasses import asdict  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402

from http_server import (  # noqa: E402
    Backend,
    free_port,
    running,
    seed_service,
    start_bare,
    start_service,
    throwaway_postgres,
)
from reference_app import Fleet  # noqa: E402
from wrk.load import FETCH_PREFIX, THREADS, Load, Target, compare, ensure_wrk, profiled, run_wrk  # noqa: E402

SWEEP = (1, 8, 32, 64, 128)
SWEEP_ROUNDS = 2
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


async def warm_pass(base: str, key: str, phones: list[str], concurrency: int = 16) -> None:
    """One fetch of every phone (each primary validated once, its verdict cached); every answer must be 200."""
    queue = list(phones)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:

        async def worker() -> None:
            while queue:
                phone = queue.pop()
                response = await client.get(f"{FETCH_PREFIX}{phone}")
                if response.status_code != 200:
                    raise SystemExit(f"warm-up fetch of {phone} answered {response.status_code}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def start_maintenance(base: str, key: str) -> int:
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        response = await client.post("/archived-clients/maintenance/runs")
        if response.status_code != 202:
            raise SystemExit(f"starting a maintenance run answered {response.status_code}: {response.text[:200]}")
        return int(response.json()["id"])


async def maintenance_done(base: str, key: str, run_id: int) -> int:
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        response = await client.get(f"/archived-clients/maintenance/runs/{run_id}")
        return int(response.json()["done"])


async def start_servers(backend: Backend, fleet: Fleet, stack: ExitStack, work: Path) -> dict[str, Target]:
    """The service, the reference and the do-nothing endpoint, seeded and answering (stopped when ``stack`` closes)."""
    fleet_file = work / f"fleet-{backend.name}.json"
    fleet.save(fleet_file)
    key = await seed_service(backend, fleet.phones)
    ports = free_port(), free_port(), free_port()
    log = stack.enter_context((work / f"servers-{backend.name}.log").open("w"))
    processes = [start_service(backend, ports[0], log),
                 start_bare("reference", ports[1], log, backend.reference_url, str(fleet_file)),
                 start_bare("no-op", ports[2], log)]  # fmt: skip
    for process, port in zip(processes, ports, strict=True):
        stack.enter_context(running(process, f"http://127.0.0.1:{port}/healthz"))
    names, keys = ("service", "reference", "no-op"), (key, fleet.api_key, "")
    return {name: Target(name, f"http://127.0.0.1:{port}", key, process.pid)
            for name, port, key, process in zip(names, ports, keys, processes, strict=True)}  # fmt: skip


async def measure_backend(backend: Backend, args: argparse.Namespace, work: Path) -> tuple[dict[str, float], list[Any]]:
    fleet = Fleet.generate(args.phones)
    phones_file = work / "phones.txt"
    phones_file.write_text("\n".join(fleet.phones) + "\n")
    with ExitStack() as stack:
        targets = await start_servers(backend, fleet, stack, work)
        service = targets["service"]
        await warm_pass(service.base, service.key, fleet.phones)
        for target in targets.values():
            await run_wrk(target, phones_file, 2, args.connections)  # warm: processes, pools, page caches
        loads = await compare(list(targets.values()), phones_file, rounds=args.rounds, connections=args.connections,
                              seconds=args.seconds)  # fmt: skip
        sweep = []
        for connections in SWEEP if args.sweep else ():
            points = await compare([service, targets["reference"]], phones_file, rounds=SWEEP_ROUNDS,
                                   connections=connections, seconds=args.sweep_seconds)  # fmt: skip
            sweep += [{"backend": backend.name, "server": name, "connections": connections, **asdict(load)}
                      for name, load in points.items()]  # fmt: skip
        if args.profile:  # an extra run: the sampler costs the server some of its rate
            spy = await profiled(service.pid, args.seconds, args.profile / f"fetch-{backend.name}.txt")
            await run_wrk(service, phones_file, args.seconds, args.connections)
            await spy.wait()
        quiet, during, done = await with_maintenance(service, phones_file, args)
    found = figures_of(loads["service"], loads["reference"], loads["no-op"])
    return found | maintenance_figures(quiet, during, done), sweep


async def with_maintenance(service: Target, phones_file: Path, args: argparse.Namespace) -> tuple[Load, Load, int]:
    """The fetch load just before a maintenance run starts, then while it goes over the accounts (the same rounds
    each, back to back, so the machine's load changes little between them); and the accounts the run finished."""
    quiet = await compare([service], phones_file, rounds=args.rounds, connections=args.connections,
                          seconds=args.seconds)  # fmt: skip
    run_id = await start_maintenance(service.base, service.key)
    during = await compare([service], phones_file, rounds=args.rounds, connections=args.connections,
                           seconds=args.seconds)  # fmt: skip
    return quiet["service"], during["service"], await maintenance_done(service.base, service.key, run_id)


def figures_of(fetch: Load, reference: Load, no_op: Load) -> dict[str, float]:
    return {
        "fetch_rps": round(fetch.rps),
        "fetch_p50_ms": round(fetch.p50_ms, 2),
        "fetch_p99_ms": round(fetch.p99_ms, 2),
        "reference_rps": round(reference.rps),
        "reference_p50_ms": round(reference.p50_ms, 2),
        "reference_p99_ms": round(reference.p99_ms, 2),
        "fetch_rps_ratio": round(fetch.rps / reference.rps, 2),
        "fetch_p99_over_p50": round(fetch.p99_ms / fetch.p50_ms, 2),
        "fetch_cpu_ms_per_request": round(fetch.cpu_ms_per_request, 3),
        "reference_cpu_ms_per_request": round(reference.cpu_ms_per_request, 3),
        "fetch_cpu_ratio": round(reference.cpu_ms_per_request / fetch.cpu_ms_per_request, 2),
        "generator_rps": round(no_op.rps),
        "generator_over_service": round(no_op.rps / fetch.rps, 2),
        "fetch_errors": fetch.errors,
        "reference_errors": reference.errors,
    }


def maintenance_figures(quiet: Load, during: Load, done: int) -> dict[str, float]:
    return {
        "fetch_p99_before_maintenance_ms": round(quiet.p99_ms, 2),
        "fetch_rps_during_maintenance": round(during.rps),
        "fetch_p99_during_maintenance_ms": round(during.p99_ms, 2),
        "maintenance_p99_ratio": round(during.p99_ms / quiet.p99_ms, 2),
        "maintenance_accounts_done": done,
        "maintenance_fetch_errors": quiet.errors + during.errors,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    figures: dict[str, float] = {}
    sweep: list[Any] = []
    for name in backends:
        with tempfile.TemporaryDirectory(prefix=f"tgs-http-{name}-") as tmp:
            work = Path(tmp)
            async with AsyncExitStack() as stack:
                if name == "sqlite":
                    backend = Backend(name, work / "data", None, f"sqlite+aiosqlite:///{work / 'reference.db'}")
                else:
                    url = await stack.enter_async_context(throwaway_postgres(args.postgres_url))
                    backend = Backend(name, work / "data", url, url)
                found, points = await measure_backend(backend, args, work)
            for figure, value in found.items():
                figures[f"{figure}_{name}"] = value
                print(f"{figure}_{name}: {value}", flush=True)
            for point in points:
                print(f"sweep_rps_{point['server']}_{point['connections']}_{name}: {point['rps']:.0f}", flush=True)
            sweep += points
    return {"figures": figures, "sweep": sweep, "settings": settings_of(args)}


def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    return {"seconds": args.seconds, "connections": args.connections, "threads": THREADS, "phones": args.phones,
            "rounds": args.rounds,
            "sweep_seconds": args.sweep_seconds, "nproc": os.cpu_count(), "python": platform.python_version(),
            "date": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=12.0, help="measured seconds per server and scenario")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--phones", type=int, default=1000, help="the fleet seeded in both databases")
    parser.add_argument("--sweep", action="store_true", help="also requests/s at 1, 8, 32, 64, 128 connections")
    parser.add_argument("--sweep-seconds", type=float, default=6.0, help="per server and connection count")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds the seconds are split into")
    parser.add_argument("--json", type=Path, help="write the figures (and the sweep) to this file")
    parser.add_argument("--profile", type=Path, help="py-spy the service under the fetch load into this folder")
    parser.add_argument("--postgres-url", default=os.environ.get("TGS_TEST_POSTGRES_URL", DEFAULT_POSTGRES))
    args = parser.parse_args()
    ensure_wrk()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
