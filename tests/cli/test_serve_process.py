"""The README's start command as a real process: `bash scripts/start.sh` on a free port with a data directory in
tmp_path; it prints the demo phones and the admin key, serves a session over real HTTP, and stops cleanly on
SIGTERM."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 180  # start.sh runs `pip install -e .` first


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def read_lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


def wait_for_facts(lines: queue.Queue[str], process: subprocess.Popen[str]) -> dict[str, str]:
    """The `name: value` lines serve prints (and `listening on URL`), up to the docs line (its last)."""
    facts: dict[str, str] = {}
    deadline = time.monotonic() + STARTUP_SECONDS
    while "docs" not in facts:
        assert process.poll() is None, f"serve exited with {process.returncode}: {facts}"
        assert time.monotonic() < deadline, f"serve did not announce itself in time: {facts}"
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        line = line.strip()
        name, _, value = line.partition(" http") if line.startswith("listening on") else line.partition(": ")
        facts[name] = value
    return facts


def stop(process: subprocess.Popen[str]) -> int:
    """SIGTERM, then the exit code (a server that does not stop within 30 s is killed and the test fails)."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def get_when_up(url: str, headers: dict[str, str]) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            return httpx.get(url, headers=headers, timeout=30)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_start_command_serves_a_session_over_http_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGS_")}
    env |= {"TGS_DATA_DIR": str(tmp_path / "data"), "TGS_PORT": str(port)}
    stderr_log = tmp_path / "serve.stderr"
    with stderr_log.open("w") as errors:
        process = subprocess.Popen(  # noqa: S603 - the README's command
            ["bash", str(ROOT / "scripts" / "start.sh")],  # noqa: S607
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=errors, text=True, bufsize=1,
        )  # fmt: skip
        try:
            lines: queue.Queue[str] = queue.Queue()
            threading.Thread(target=read_lines, args=(process.stdout, lines), daemon=True).start()
            facts = wait_for_facts(lines, process)
            assert facts["listening on"] == f"://127.0.0.1:{port}"
            assert facts["telegram"] == "simulated (no real account is used)"
            assert facts["database"] == str((tmp_path / "data" / "tgsessions.db").resolve())
            phones = facts["demo accounts"].split(", ")
            assert phones == ["79990000001", "79990000002", "79990000003"]
            key = facts["admin key (shown once, all scopes)"]
            assert key.startswith("tgs_")

            base = f"http://127.0.0.1:{port}"
            response = get_when_up(f"{base}/archived-clients/fetch/{phones[0]}", {"Authorization": f"Bearer {key}"})
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["mobile"] == phones[0] and len(body["session"]) > 100
            assert {"sessionId", "lastUpdated", "createdAt", "updatedAt"} <= set(body)  # camelCase on the wire
            assert httpx.get(f"{base}/archived-clients/fetch/{phones[0]}", timeout=30).status_code == 401
        finally:
            returncode = stop(process)
    log = stderr_log.read_text()
    assert returncode == 0, log
    assert "Traceback" not in log and key not in log and body["session"] not in log
