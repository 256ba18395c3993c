"""`tgsessions serve --compat original` as a real process: it says which API it serves, answers the replaced
service's record to a caller that sends its key as `?apiKey=`, and that key reaches no log line."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from pathlib import Path

import httpx

from tests.cli.test_serve_process import free_port, get_when_up, read_lines, stop, wait_for_facts

ROOT = Path(__file__).resolve().parents[2]


def test_serve_compat_original_answers_records_and_never_logs_the_query_key(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGS_")}
    env |= {"TGS_DATA_DIR": str(tmp_path / "data"), "TGS_PORT": str(port), "TGS_LOG_LEVEL": "DEBUG"}
    command = [str(ROOT / ".venv" / "bin" / "tgsessions"), "serve", "--telegram", "simulated", "--compat", "original"]
    stderr_log = tmp_path / "serve.stderr"
    with stderr_log.open("w") as errors:
        process = subprocess.Popen(  # noqa: S603 - our own entry point
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=errors, text=True, bufsize=1
        )
        try:
            lines: queue.Queue[str] = queue.Queue()
            threading.Thread(target=read_lines, args=(process.stdout, lines), daemon=True).start()
            facts = wait_for_facts(lines, process)
            assert facts["api"].startswith("original")
            phone = facts["demo accounts"].split(", ")[0]
            key = facts["admin key (shown once, all scopes)"]
            base = f"http://127.0.0.1:{port}"
            response = get_when_up(f"{base}/archived-clients/fetch/{phone}?apiKey={key}", {})
            assert response.status_code == 200, response.text
            record = response.json()
            assert record["mobile"] == phone and isinstance(record["oldSessions"], list) and record["createdAt"]
            denied = httpx.get(f"{base}/archived-clients/fetch/{phone}?apiKey=wrong", timeout=30)
            assert denied.status_code == 401 and denied.json()["error"] == "UnauthorizedException"
        finally:
            returncode = stop(process)
    log = stderr_log.read_text()
    assert returncode == 0, log[-2000:]
    assert "GET /archived-clients/fetch" in log  # the access line is there, without its query string
    assert key not in log and "apiKey=wrong" not in log and record["session"] not in log
