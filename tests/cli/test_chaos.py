"""The chaos benchmark, short: kill -9 of a real server while its fetches mint, five times, then count. Nothing may be
left at the simulated Telegram that the service does not hold, no account lost, and a killed process's leases free
within 10 s."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_five_kills_leave_no_orphan_and_no_stuck_lease() -> None:
    command = [sys.executable, str(ROOT / "bench" / "chaos.py"), "--kills", "5", "--accounts", "20", "--per-round", "5"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr[-3000:]
    figures = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    assert int(figures["kills"]) == 5
    assert int(figures["orphan_authorizations"]) == 0
    assert int(figures["accounts_lost"]) == 0
    assert int(figures["invariants_broken"]) == 0
    assert float(figures["lease_takeover_s"]) <= 10.0
    assert int(figures["minted_sessions_held"]) > 0  # the fetches did mint
