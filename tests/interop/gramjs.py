"""The real GramJS (npm ``telegram``, pinned in node/package.json) making and loading session strings, for the tests.

One node process serves a whole list: requests go in as JSON lines on its stdin, answers come back one line each,
in order (see node/gramjs_sessions.js). The process opens no network connection.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Loaded", "Spec", "ensure_installed", "load_gramjs", "make_gramjs", "node_dir"]

_SCRIPT = "gramjs_sessions.js"
_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Spec:
    """What a GramJS StringSession holds: one DC, its address and port, and the auth key. What GramJS is asked to
    save, and (as :data:`Loaded`) what it read back from a string."""

    dc_id: int
    address: str
    port: int
    auth_key: bytes = field(repr=False)


Loaded = Spec


def node_dir() -> Path:
    """tests/interop/node: package.json, package-lock.json, the script, and node_modules once installed."""
    return Path(__file__).resolve().parent / "node"


def ensure_installed() -> None:
    """Raise a RuntimeError saying what to run when node or the pinned GramJS is not there."""
    directory = node_dir()
    if not (directory / "node_modules" / "telegram").is_dir():
        raise RuntimeError(
            f"GramJS is not installed in {directory}: run `npm ci --prefix tests/interop/node` "
            "(scripts/test.sh does it)"
        )
    if shutil.which("node") is None:
        raise RuntimeError("node is not on PATH; the GramJS interop tests need node 20")


def make_gramjs(specs: list[Spec]) -> list[str]:
    """GramJS's own ``StringSession.save()`` text for each spec, from one node process.

    A spec GramJS cannot save (it writes the port as a signed 16-bit number, so a port above 32767 throws) raises a
    RuntimeError naming the spec's index. Where GramJS itself saves nothing (a port of 0 or an empty address) the
    string is GramJS's own answer: "".
    """
    requests = [
        {"op": "make", "dc_id": s.dc_id, "address": s.address, "port": s.port, "key_hex": s.auth_key.hex()}
        for s in specs
    ]
    sessions: list[str] = []
    for index, answer in enumerate(_run(requests)):
        if "error" in answer:
            raise RuntimeError(f"GramJS could not make spec #{index}: {answer['error']}")
        sessions.append(str(answer["session"]))
    return sessions


def load_gramjs(strings: list[str]) -> list[Loaded | str]:
    """What GramJS's ``new StringSession(text)`` + ``await load()`` read from each string, from one node process.

    A string GramJS refuses (or that leaves it with no auth key) gives its error message as a str instead; the
    message never holds the string itself.
    """
    answers = _run([{"op": "load", "session": text} for text in strings])
    results: list[Loaded | str] = []
    for answer in answers:
        if "error" in answer:
            results.append(str(answer["error"]))
        else:
            results.append(
                Loaded(
                    dc_id=int(answer["dc_id"]),
                    address=answer["address"],
                    port=answer["port"],
                    auth_key=bytes.fromhex(answer["key_hex"]),
                )
            )
    return results


def _run(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not requests:
        return []
    ensure_installed()
    node = shutil.which("node")
    assert node is not None
    payload = "".join(json.dumps(r) + "\n" for r in requests)
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv: node and our own script
            [node, str(node_dir() / _SCRIPT)],
            input=payload,
            capture_output=True,
            text=True,
            encoding="utf-8",
            cwd=node_dir(),
            timeout=_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{_SCRIPT} did not answer {len(requests)} requests within {_TIMEOUT_S:.0f}s") from None
    if done.returncode != 0:
        raise RuntimeError(f"{_SCRIPT} exited with {done.returncode}: {done.stderr.strip()[-2000:]}")
    lines = done.stdout.splitlines()
    if len(lines) != len(requests):
        raise RuntimeError(f"{_SCRIPT} gave {len(lines)} answers to {len(requests)} requests")
    answers: list[dict[str, Any]] = []
    for line in lines:
        answer = json.loads(line)
        if not isinstance(answer, dict):
            raise RuntimeError(f"{_SCRIPT} gave an answer that is not a JSON object")
        answers.append(answer)
    return answers
