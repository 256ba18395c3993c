"""Server limits. In-process, in both profiles: a body above the limit is 413 at once by ``Content-Length``, and by
the byte count of a chunked body without reading it to the end; a body that stalls is 408 after the body read
timeout. As a real process: a client that sends a partial request head, a head and no body, or nothing at all,
and a kept-alive idle connection, are all disconnected within the configured timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from tests.api.conftest import build_runtime, opener
from tests.cli.test_serve_process import free_port, get_when_up, read_lines, stop, wait_for_facts
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.api.app import create_app
from tgsessions.api.limits import RequestLimits, RequestLimitsMiddleware
from tgsessions.api.profiles import ApiProfile
from tgsessions.domain.access import ALL_SCOPES
from tgsessions.domain.ports import Cipher
from tgsessions.testing.clock import FakeClock
from tgsessions.testing.memory_db import InMemoryDatabase

ROOT = Path(__file__).resolve().parents[2]
PHONE = "79161234567"
LIMIT = 1024
PROFILES = [ApiProfile.NATIVE, ApiProfile.ORIGINAL]


@contextlib.asynccontextmanager
async def client_for(
    profile: ApiProfile, cipher: Cipher, clock: FakeClock, *, body_read_timeout: float = 30.0
) -> AsyncIterator[httpx.AsyncClient]:
    world = SimulatedTelegram(clock, seed=5)
    runtime = build_runtime(InMemoryDatabase(clock), world, cipher, clock)
    world.add_account(PHONE)
    await runtime.factory.add_account(PHONE, primary=world.create_session(PHONE))
    limits = RequestLimits(max_body_bytes=LIMIT, body_read_timeout=body_read_timeout)
    app = create_app(opener(runtime), profile=profile, limits=limits)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
            _key, key = await runtime.keys.create("all", ALL_SCOPES)
            client.headers["X-API-Key"] = key
            yield client


def assert_refused(response: httpx.Response, profile: ApiProfile, status: int) -> None:
    assert response.status_code == status, response.text[:200]
    assert response.headers.get("connection") == "close"
    body = response.json()
    if profile is ApiProfile.ORIGINAL:
        names = {408: "RequestTimeoutException", 413: "PayloadTooLargeException"}
        assert body["statusCode"] == status and body["error"] == names[status]
    else:
        codes = {408: "request_timeout", 413: "payload_too_large"}
        assert body["error"] == codes[status]
    assert isinstance(body["message"], str) and body["message"]


def cleanup_body(size: int) -> bytes:
    """A JSON body of ``size`` bytes (padding spaces inside the object): valid, just large."""
    start, end = b'{"maxSessions": 5', b"}"
    return start + b" " * (size - len(start) - len(end)) + end


@pytest.mark.parametrize("profile", PROFILES, ids=str)
async def test_a_body_within_the_limit_is_served(profile: ApiProfile, cipher: Cipher, clock: FakeClock) -> None:
    async with client_for(profile, cipher, clock) as client:
        response = await client.post(
            f"/archived-clients/{PHONE}/cleanup-sessions", content=cleanup_body(LIMIT),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        assert response.status_code in (200, 201), response.text[:200]


@pytest.mark.parametrize("profile", PROFILES, ids=str)
async def test_a_content_length_above_the_limit_is_413_at_once(
    profile: ApiProfile, cipher: Cipher, clock: FakeClock
) -> None:
    async with client_for(profile, cipher, clock) as client:
        pulled = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal pulled
            for _ in range(64):
                pulled += 1
                yield b" " * 1024

        response = await client.post(
            f"/archived-clients/{PHONE}/cleanup-sessions", content=body(),
            headers={"Content-Type": "application/json", "Content-Length": str(64 * 1024)},
        )  # fmt: skip
        assert_refused(response, profile, 413)
        assert pulled <= 1  # answered from the header: the body was not read
        unauthenticated = await client.post(
            f"/archived-clients/{PHONE}/cleanup-sessions", content=cleanup_body(LIMIT + 1),
            headers={"Content-Type": "application/json", "X-API-Key": ""},
        )  # fmt: skip
        assert_refused(unauthenticated, profile, 413)


@pytest.mark.parametrize("profile", PROFILES, ids=str)
async def test_a_streamed_body_is_413_once_its_bytes_pass_the_limit(
    profile: ApiProfile, cipher: Cipher, clock: FakeClock
) -> None:
    async with client_for(profile, cipher, clock) as client:
        pulled = 0

        async def body() -> AsyncIterator[bytes]:  # no Content-Length: chunked
            nonlocal pulled
            yield b'{"maxSessions": 5'
            for _ in range(1000):
                pulled += 1
                yield b" " * 256
            yield b"}"

        response = await client.post(
            f"/archived-clients/{PHONE}/cleanup-sessions", content=body(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        assert "content-length" not in response.request.headers
        assert_refused(response, profile, 413)
        assert pulled <= LIMIT // 256 + 1  # stopped at the chunk that passed the limit


@pytest.mark.parametrize("profile", PROFILES, ids=str)
async def test_a_body_that_stalls_is_408_after_the_body_read_timeout(
    profile: ApiProfile, cipher: Cipher, clock: FakeClock
) -> None:
    async with client_for(profile, cipher, clock, body_read_timeout=0.3) as client:

        async def body() -> AsyncIterator[bytes]:
            yield b'{"maxSessions": '
            await asyncio.sleep(30)
            yield b"5}"

        started = time.monotonic()
        response = await client.post(
            f"/archived-clients/{PHONE}/cleanup-sessions", content=body(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        assert_refused(response, profile, 408)
        assert time.monotonic() - started < 10


async def test_the_middleware_refuses_a_body_read_outside_a_route() -> None:
    """Read by the app itself (no route's handlers): the middleware answers in the native shape."""

    async def reader(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = RequestLimitsMiddleware(reader, max_body_bytes=10, body_read_timeout=5)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.post("/", content=b"x" * 10)).status_code == 204

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(5):
                yield b"abcd"

        refused = await client.post("/", content=chunks())
        assert_refused(refused, ApiProfile.NATIVE, 413)


# -- a real process: slow clients are cut off --------------------------------------------------------------------


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed ``sock`` within ``seconds``, and what it sent before."""
    sock.settimeout(0.5)
    received = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True, received
        if not chunk:
            return True, received
        received += chunk
    return False, received


def test_serve_disconnects_slow_and_idle_clients_within_the_timeouts(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGS_")}
    env |= {
        "TGS_DATA_DIR": str(tmp_path / "data"),
        "TGS_PORT": str(port),
        "TGS_HEADER_READ_TIMEOUT_SECONDS": "1",
        "TGS_BODY_READ_TIMEOUT_SECONDS": "1",
        "TGS_KEEP_ALIVE_SECONDS": "1",
        "TGS_MAX_BODY_BYTES": "4096",
        "TGS_MAINTENANCE_INTERVAL_SECONDS": "0",
    }
    command = [str(ROOT / ".venv" / "bin" / "tgsessions"), "serve", "--telegram", "simulated"]
    stderr_log = tmp_path / "serve.stderr"
    bound = 15.0  # generous: the timeouts are 1 s
    with stderr_log.open("w") as errors:
        process = subprocess.Popen(  # noqa: S603 - our own entry point
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=errors, text=True, bufsize=1
        )
        try:
            lines: queue.Queue[str] = queue.Queue()
            threading.Thread(target=read_lines, args=(process.stdout, lines), daemon=True).start()
            facts = wait_for_facts(lines, process)
            key = facts["admin key (shown once, all scopes)"]
            assert get_when_up(f"http://127.0.0.1:{port}/healthz", {}).status_code == 200

            def connect() -> socket.socket:
                return socket.create_connection(("127.0.0.1", port), timeout=5)

            with connect() as silent:  # connects, sends nothing
                closed, _ = closed_within(silent, bound)
                assert closed, "a connection that sent nothing was kept open"

            with connect() as partial:  # half a request head, then nothing
                partial.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                closed, _ = closed_within(partial, bound)
                assert closed, "a connection with a partial request head was kept open"

            with connect() as stalled:  # a whole head announcing a body, then nothing
                stalled.sendall(
                    f"POST /archived-clients/79990000001/cleanup-sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                    '{"maxSes'.encode()
                )
                closed, answer = closed_within(stalled, bound)
                assert closed, "a connection that stalled its body was kept open"
                assert answer.startswith(b"HTTP/1.1 408"), answer[:40]

            with connect() as large:  # a body above the limit is refused from its Content-Length
                large.sendall(b"POST /archived-clients/batch-fetch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              b"Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n")  # fmt: skip
                closed, answer = closed_within(large, bound)
                assert closed and answer.startswith(b"HTTP/1.1 413"), answer[:40]

            with connect() as idle:  # one request, then an idle kept-alive connection
                idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                closed, answer = closed_within(idle, bound)
                assert closed, "an idle kept-alive connection was kept open"
                assert answer.startswith(b"HTTP/1.1 200"), answer[:40]

            # the server still serves after all that
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 200
        finally:
            returncode = stop(process)
    log = stderr_log.read_text()
    assert returncode == 0, log[-2000:]
    assert "Traceback" not in log and key not in log
    loggers = [json.loads(line).get("logger") for line in log.splitlines() if line.startswith("{")]
    assert "tgsessions.access" in loggers and "uvicorn.access" not in loggers  # one access line, ours
