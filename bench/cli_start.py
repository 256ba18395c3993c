"""Benchmark of the CLI's start: ``tgsessions --help`` and ``tgsessions status PHONE`` as real processes.

A fresh data directory is filled by ``tgsessions demo --data-dir`` (the embedded SQLite database, the key file and
the saved simulated Telegram, with the demo's phone), then each of three commands runs N times as a subprocess,
taken in turns so that the machine's load weighs on each alike: the bare interpreter (``python -c pass``), the
installed ``tgsessions`` console script with ``--help``, and the same with ``status PHONE`` (settings, migration
check, database, one validation at the simulated Telegram, the table). Every run must exit 0.

Prints one `name: value` per line:
  runs                   N, runs of each command
  python_baseline_s      median seconds of `python -c pass` (the venv's interpreter)
  cli_help_s             median seconds of `tgsessions --help` (target <= 0.3)
  cli_help_cpu_s         median CPU seconds (user + system) of the same runs: what a shared machine's load
                         does not inflate (printed, not judged)
  cli_status_s           median seconds of `tgsessions status PHONE` (printed, not judged)
  cli_help_over_python   cli_help_s / python_baseline_s, same run (printed, not judged)
  cli_help_target        the target and whether cli_help_s meets it

Usage: .venv/bin/python bench/cli_start.py [--runs 20]
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py must not shadow the standard library's http package (prometheus_client imports it).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from tgsessions.demo import PHONE  # noqa: E402

HELP_TARGET_S = 0.3


def console_script() -> Path:
    """The ``tgsessions`` script installed beside the venv's interpreter."""
    script = Path(sys.executable).parent / "tgsessions"
    if not script.exists():
        raise SystemExit(f"no console script at {script}: install the project into this venv first")
    return script


def environment(data_dir: Path) -> dict[str, str]:
    """No TGS_* variable from outside; the data directory and the simulated Telegram chosen."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("TGS_")}
    return clean | {"TGS_DATA_DIR": str(data_dir), "TGS_TELEGRAM_BACKEND": "simulated"}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Seconds one run of ``command`` takes, start to exit, and the CPU seconds it used; a failed run stops the
    benchmark."""
    cpu, started = children_cpu(), time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:])} exited {done.returncode}: {done.stderr.strip()}")
    return elapsed, children_cpu() - cpu


def measure(
    commands: dict[str, list[str]], runs: int, *, cwd: Path, env: dict[str, str]
) -> dict[str, tuple[float, float]]:
    """The median seconds and median CPU seconds of each command over ``runs`` runs, the commands taken in turns."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            samples[name].append(timed(command, cwd=cwd, env=env))
    return {
        name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
        for name, values in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="runs of each command (default 20)")
    args = parser.parse_args()
    script = str(console_script())
    with tempfile.TemporaryDirectory(prefix="tgsessions-cli-start-") as tmp:
        cwd, data_dir = Path(tmp), Path(tmp) / "data"
        env = environment(data_dir)
        timed([script, "demo", "--data-dir", str(data_dir)], cwd=cwd, env=env)
        commands = {
            "python_baseline_s": [sys.executable, "-c", "pass"],
            "cli_help_s": [script, "--help"],
            "cli_status_s": [script, "status", PHONE],
        }
        medians = measure(commands, args.runs, cwd=cwd, env=env)
    print(f"runs: {args.runs}")
    wall = {name: seconds for name, (seconds, _cpu) in medians.items()}
    print(f"python_baseline_s: {wall['python_baseline_s']:.3f}")
    print(f"cli_help_s: {wall['cli_help_s']:.3f}")
    print(f"cli_help_cpu_s: {medians['cli_help_s'][1]:.3f}")
    print(f"cli_status_s: {wall['cli_status_s']:.3f}")
    print(f"cli_help_over_python: {wall['cli_help_s'] / wall['python_baseline_s']:.2f}")
    met = "met" if wall["cli_help_s"] <= HELP_TARGET_S else "NOT met"
    print(f"cli_help_target: <= {HELP_TARGET_S} ({met})")


if __name__ == "__main__":
    main()
