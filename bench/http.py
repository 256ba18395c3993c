"""HTTP benchmark: warm GET /archived-clients/fetch/{mobile} against a bare FastAPI endpoint that reads one row
through the same driver, both served by the same uvicorn process (SQLite, simulated Telegram, memory cache).

Prints one `name: value` per line: fetch_rps, fetch_p50_ms, fetch_p99_ms, bare_rps, bare_p50_ms, bare_p99_ms and
fetch_rps_ratio (target >= 0.6).

Usage: .venv/bin/python bench/http.py [--seconds 5] [--concurrency 16]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named http.py (as asked for), so its folder must not shadow the standard library's http package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import httpx  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure(client: httpx.AsyncClient, url: str, headers: dict[str, str], seconds: float, workers: int
                  ) -> tuple[float, float, float]:  # fmt: skip
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await client.get(url, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100)
    return len(latencies) / elapsed, cuts[49] * 1000, cuts[98] * 1000


async def run(port: int, key: str, phone: str, seconds: float, workers: int) -> None:
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        fetch_url, bare_url = f"/archived-clients/fetch/{phone}", f"/bench/bare/{phone}"
        await measure(client, fetch_url, auth, 1.0, workers)  # warm-up: the verdict gets cached
        await measure(client, bare_url, {}, 1.0, workers)
        fetch = await measure(client, fetch_url, auth, seconds, workers)
        bare = await measure(client, bare_url, {}, seconds, workers)
    for name, (rps, p50, p99) in (("fetch", fetch), ("bare", bare)):
        print(f"{name}_rps: {rps:.0f}")
        print(f"{name}_p50_ms: {p50:.2f}")
        print(f"{name}_p99_ms: {p99:.2f}")
    print(f"fetch_rps_ratio: {fetch[0] / bare[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent connections of the client")
    args = parser.parse_args()
    port = free_port()
    server_script = Path(__file__).with_name("http_server.py")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        server = subprocess.Popen(  # noqa: S603 - our own script with our own interpreter
            [sys.executable, "-P", str(server_script), tmp, str(port)], stdout=subprocess.PIPE, text=True, env=env
        )
        try:
            assert server.stdout is not None
            line = server.stdout.readline().split()
            if not line or line[0] != "ready":
                raise SystemExit("the benchmark server did not start")
            _ready, _port, key, phone = line
            asyncio.run(run(port, key, phone, args.seconds, args.concurrency))
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
