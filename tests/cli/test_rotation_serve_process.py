"""A key rotation reaches a running server without a restart: a real `tgsessions serve --telegram simulated` process
keeps answering fetches with 200 while `tgsessions keys rotate-encryption` (another process) adds a key and
re-encrypts every row under it, and after it, twice over (two rotations, two new key ids)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path

import httpx

from tests.cli.test_serve_process import free_port, get_when_up, read_lines, stop, wait_for_facts
from tgsessions.adapters.crypto import load_key_file

ROOT = Path(__file__).resolve().parents[2]
TGSESSIONS = ROOT / ".venv" / "bin" / "tgsessions"


def rotate(env: dict[str, str], cwd: Path) -> dict[str, object]:
    done = subprocess.run(  # noqa: S603 - our own command
        [str(TGSESSIONS), "keys", "rotate-encryption", "--json"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    outcome: dict[str, object] = json.loads(done.stdout)
    return outcome


def test_fetches_stay_200_through_key_rotations(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGS_")}
    env |= {"TGS_DATA_DIR": str(data_dir), "TGS_PORT": str(port), "TGS_MAINTENANCE_INTERVAL_SECONDS": "0"}
    stderr_log = tmp_path / "serve.stderr"
    with stderr_log.open("w") as errors:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [str(TGSESSIONS), "serve", "--telegram", "simulated"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=errors, text=True, bufsize=1,
        )  # fmt: skip
        strings: set[str] = set()
        try:
            lines: queue.Queue[str] = queue.Queue()
            threading.Thread(target=read_lines, args=(process.stdout, lines), daemon=True).start()
            facts = wait_for_facts(lines, process)
            phones = facts["demo accounts"].split(", ")
            headers = {"Authorization": f"Bearer {facts['admin key (shown once, all scopes)']}"}
            base = f"http://127.0.0.1:{port}"

            def fetch(phone: str) -> None:
                response = httpx.get(f"{base}/archived-clients/fetch/{phone}", headers=headers, timeout=30)
                assert response.status_code == 200, response.text
                strings.add(response.json()["session"])

            assert get_when_up(f"{base}/healthz", {}).status_code == 200
            fetch(phones[0])  # before: on the key the server started with

            for expected_key in ("k2", "k3"):
                outcome = rotate(env, tmp_path)
                assert outcome["added_key"] == expected_key and outcome["remaining"] == 0
                assert outcome["active_key"] == expected_key
                deadline = time.monotonic() + 3  # at once, and again and again: no 503 window
                rounds = 0
                while time.monotonic() < deadline:
                    for phone in phones:
                        fetch(phone)
                        status = httpx.get(f"{base}/archived-clients/{phone}/session-status", headers=headers,
                                           timeout=30)  # fmt: skip
                        assert status.status_code == 200, status.text
                    rounds += 1
                assert rounds >= 2
            assert sorted(load_key_file(data_dir / "tgsessions.key").keys) == ["k1", "k2", "k3"]
        finally:
            returncode = stop(process)
    log = stderr_log.read_text()
    assert returncode == 0, log
    assert "Traceback" not in log
    assert "key file reloaded" in log
    for secret in strings:
        assert secret not in log
    for key in load_key_file(data_dir / "tgsessions.key").keys.values():
        assert key.hex() not in log
