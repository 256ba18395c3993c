"""The performance page: runs the benchmarks (or reads their JSON) and writes docs/performance.md and its plot.

Runs `bench/http.py --sweep --json` and `bench/factory.py --json` (their own defaults, plus what --http-args and
--factory-args add), or reads JSON files they wrote before (--http FILE, --factory FILE). A benchmark that fails or
writes nothing is left out, and the page says so. Writes:
  docs/performance.md   every figure in a table with its target and whether it is met, the machine (nproc, Python,
                        load average), the date, and how to reproduce it
  docs/performance.png  two panels: requests/s against connections (service and bare reference, SQLite and
                        PostgreSQL, from the sweep), and warm fetch latency against the account count (log x axis)

Prints `name: value` lines: figures (how many figures the page holds), targets_met, targets_not_met.

Usage: .venv/bin/python bench/report.py [--http FILE] [--factory FILE] [--http-args "--seconds 5"]
       [--factory-args "--max-accounts 100000"] [--keep DIR] [--out docs/performance.md]
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py must not shadow the standard library's http package: this folder goes last on the path.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # no display: a PNG file only
import matplotlib.pyplot as plt  # noqa: E402

ROOT = HERE.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
BACKENDS = ("sqlite", "postgresql")
COLOURS = ("tab:blue", "tab:orange")  # one per backend; the reference dashed
#: figure -> (comparison, bound); a figure not listed is printed for the record only
TARGETS: dict[str, tuple[str, float]] = {
    "fetch_rps_ratio": (">=", 0.8),
    "fetch_p99_over_p50": ("<=", 3.0),
    "maintenance_p99_ratio": ("<=", 2.0),
    "generator_over_service": (">", 1.0),
    "fetch_errors": ("==", 0),
    "reference_errors": ("==", 0),
    "maintenance_fetch_errors": ("==", 0),
    "warm_fetch_ratio": (">=", 0.7),
    "batch50_latency_multiple": ("<=", 2.0),
    "warm_latency_1m_over_1k": ("<=", 1.5),
    "validations_for_200_concurrent_fetches": ("==", 1),
    "batch50_cold_latency_multiple": ("<=", 5.0),
    "cache_hit_rate_10k": (">=", 0.99),
}
CHECKS = {">=": float.__ge__, "<=": float.__le__, ">": float.__gt__, "==": float.__eq__}


def run_bench(script: str, extra: list[str], out: Path) -> dict[str, Any] | None:
    """``bench/<script> --json out`` with ``extra``; its JSON, or None when it failed or wrote nothing."""
    command = [str(PYTHON), str(HERE / script), *extra, "--json", str(out)]
    print(f"running {' '.join(command[1:])}", file=sys.stderr, flush=True)
    done = subprocess.run(command, cwd=ROOT, check=False, stdout=sys.stderr)  # noqa: S603 - our own scripts
    return load(out) if done.returncode == 0 else None


def load(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def shown(value: float) -> str:
    """A figure as the table prints it: whole numbers from 100 up, three significant digits below."""
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def split_backend(name: str) -> tuple[str, str]:
    """``fetch_rps_ratio_sqlite`` -> (``fetch_rps_ratio``, ``sqlite``); a figure of no backend -> (name, "")."""
    for backend in BACKENDS:
        if name.endswith(f"_{backend}"):
            return name[: -len(backend) - 1], backend
    return name, ""


def verdict(figure: str, value: float) -> str:
    """`met` / `not met` against the figure's target, or "" when it has none."""
    if figure not in TARGETS:
        return ""
    comparison, bound = TARGETS[figure]
    return "met" if CHECKS[comparison](float(value), float(bound)) else "not met"


def table(figures: dict[str, float]) -> tuple[list[str], int, int]:
    """A Markdown table, one row per figure, one column per backend; and how many targets are met and not met."""
    rows: dict[str, dict[str, float]] = {}
    for name, value in figures.items():
        figure, backend = split_backend(name)
        rows.setdefault(figure, {})[backend] = value
    columns = [b for b in ("", *BACKENDS) if any(b in row for row in rows.values())]
    titles = {"": "value", "sqlite": "SQLite", "postgresql": "PostgreSQL"}
    lines = ["| figure | target | " + " | ".join(titles[c] for c in columns) + " |",
             "|---|---|" + "---|" * len(columns)]  # fmt: skip
    met = missed = 0
    for figure, by_backend in rows.items():
        target = " ".join(str(part) for part in TARGETS.get(figure, ("", "")) if part != "") or "—"
        cells = []
        for column in columns:
            if column not in by_backend:
                cells.append("")
                continue
            mark = verdict(figure, by_backend[column])
            met, missed = met + (mark == "met"), missed + (mark == "not met")
            cells.append(shown(by_backend[column]) + (f" ({mark})" if mark else ""))
        lines.append(f"| `{figure}` | {target} | " + " | ".join(cells) + " |")
    return lines, met, missed


def plot(http: dict[str, Any] | None, factory: dict[str, Any] | None, out: Path) -> None:
    """The two panels (see the module); an empty panel names the benchmark whose data is missing."""
    figure, (rates, latency) = plt.subplots(1, 2, figsize=(12, 4.5))
    sweep = (http or {}).get("sweep") or []
    for backend, colour in zip(BACKENDS, COLOURS, strict=True):
        for server, style in (("service", "-o"), ("reference", "--s")):
            points = sorted((p["connections"], p["rps"]) for p in sweep
                            if p["backend"] == backend and p["server"] == server)  # fmt: skip
            if points:
                rates.plot(*zip(*points, strict=True), style, color=colour, label=f"{server}, {backend}")
    rates.set(xscale="log", xlabel="connections (wrk, 2 threads)", ylabel="requests/s",
              title="Warm GET /archived-clients/fetch/{mobile}")  # fmt: skip
    rates.set_xticks([1, 8, 32, 64, 128], labels=["1", "8", "32", "64", "128"])
    curve = (factory or {}).get("latency_by_accounts") or []
    for backend, colour in zip(BACKENDS, COLOURS, strict=True):
        points = sorted((p["accounts"], p["warm_fetch_ms"]) for p in curve if p["backend"] == backend)
        if points:
            latency.plot(*zip(*points, strict=True), "-o", color=colour, label=backend)
    latency.set(xscale="log", xlabel="accounts in the database", ylabel="ms", title="Warm fetch_one latency (median)")
    for axes, data, name in ((rates, sweep, "bench/http.py --sweep"), (latency, curve, "bench/factory.py")):
        axes.set_ylim(bottom=0)
        if data:
            axes.legend()
            axes.grid(True, which="both", alpha=0.3)
        else:
            axes.text(0.5, 0.5, f"no data: {name} did not run", ha="center", va="center", transform=axes.transAxes)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def machine(http: dict[str, Any] | None) -> list[str]:
    settings = (http or {}).get("settings") or {}
    load_average = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return [f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}",
            f"- machine: {settings.get('nproc', os.cpu_count())} CPUs ({platform.machine()}, {platform.system()}), "
            f"Python {settings.get('python', platform.python_version())}, load average {load_average} when the page "
            "was written (a shared machine: absolute figures move with the neighbours, ratios taken in one run "
            "much less)"]  # fmt: skip


def page(http: dict[str, Any] | None, factory: dict[str, Any] | None, png: str) -> tuple[str, int, int, int]:
    lines = ["# Performance", "",
             "Written by `bench/report.py`; do not edit by hand. Every ratio is taken in one run against a baseline "
             "with the raw driver or the bare stack, never the project's own stack; absolute numbers are for the "
             "record.", "", *machine(http), "", f"![requests/s and warm latency]({png})", ""]  # fmt: skip
    count = met = missed = 0
    sections = (("HTTP (`bench/http.py`)", http, HTTP_NOTE), ("Python API (`bench/factory.py`)", factory, FACTORY_NOTE))
    for title, data, note in sections:
        lines += [f"## {title}", "", note, ""]
        figures = (data or {}).get("figures")
        if not figures:
            lines += ["**Not measured**: the benchmark failed or wrote no JSON (see its output).", ""]
            continue
        rows, ok, not_ok = table(figures)
        count, met, missed = count + len(figures), met + ok, missed + not_ok
        lines += [*rows, ""]
    settings = (http or {}).get("settings") or {}
    lines += ["## Reproduce", "", "```sh", ".venv/bin/python bench/report.py  # runs both, then writes this",
              ".venv/bin/python bench/http.py --sweep --json http.json",
              ".venv/bin/python bench/factory.py --json factory.json",
              ".venv/bin/python bench/report.py --http http.json --factory factory.json", "```", "",
              f"HTTP settings of this page: {json.dumps(settings)}" if settings else "", ""]  # fmt: skip
    return "\n".join(lines).rstrip() + "\n", count, met, missed


HTTP_NOTE = (
    "The real `tgsessions serve` (simulated Telegram, 1,000 phones, verdicts cached by one warm-up pass) against a "
    "bare FastAPI reference (in-memory key check, one indexed SELECT with the raw driver, AES-GCM decrypt, one audit "
    "INSERT and its COMMIT per request) and a do-nothing ASGI endpoint, each in its own process under `serve`'s "
    "uvicorn settings, loaded by `wrk` (2 threads, 64 connections) with a random phone per request. "
    "`*_cpu_ms_per_request` is each server's CPU time per request, steadier than rates on a shared machine."
)
FACTORY_NOTE = (
    "The Python API (`SessionFactory`) against the raw drivers (aiosqlite, asyncpg: one indexed SELECT, one audit "
    "INSERT and its COMMIT), in one process."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--http", type=Path, help="bench/http.py --sweep --json output to use instead of running it")
    parser.add_argument("--factory", type=Path, help="bench/factory.py --json output to use instead of running it")
    parser.add_argument("--http-args", default="", help="more arguments for bench/http.py")
    parser.add_argument("--factory-args", default="", help="more arguments for bench/factory.py")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--keep", type=Path, help="keep the benchmarks' JSON in this folder (for --http/--factory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kept = args.keep or Path(tmp)
        kept.mkdir(parents=True, exist_ok=True)
        http = load(args.http) if args.http else run_bench("http.py", ["--sweep", *shlex.split(args.http_args)],
                                                           kept / "http.json")  # fmt: skip
        factory = load(args.factory) if args.factory else run_bench("factory.py", shlex.split(args.factory_args),
                                                                    kept / "factory.json")  # fmt: skip
    png = args.out.with_suffix(".png")
    plot(http, factory, png)
    text, count, met, missed = page(http, factory, png.name)
    args.out.write_text(text)
    print(f"figures: {count}")
    print(f"targets_met: {met}")
    print(f"targets_not_met: {missed}")


if __name__ == "__main__":
    main()
