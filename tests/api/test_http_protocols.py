"""The HTTP protocols ``serve`` gives uvicorn, httptools (the default) and h11 (the fallback), on real sockets: a
connection that sends no complete request head within the header deadline is closed, also on a kept-alive
connection after a response (well before its keep-alive timeout); a head beyond the size bound is 400; a whole
request is answered as usual."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tgsessions.api.http_protocols import header_timeout_protocol

HEAD_DEADLINE = 0.3
HEAD_BOUND = 1024
KEEP_ALIVE = 30  # far beyond the deadline: a close within the bound below is the head deadline's
CLOSED_WITHIN = 10.0
PARSERS = ["httptools", "h11"]


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=PARSERS)
async def port(request: pytest.FixtureRequest) -> AsyncIterator[int]:
    number = free_port()
    protocol = header_timeout_protocol(HEAD_DEADLINE, HEAD_BOUND, parser=request.param)
    config = uvicorn.Config(hello, host="127.0.0.1", port=number, http=protocol, lifespan="off", log_config=None,
                            timeout_keep_alive=KEEP_ALIVE, h11_max_incomplete_event_size=HEAD_BOUND)  # fmt: skip
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, no event
        await asyncio.sleep(0.02)
    yield number
    server.should_exit = True
    await serving


async def closed(reader: asyncio.StreamReader) -> tuple[bool, bytes]:
    """Whether the server closed the connection within CLOSED_WITHIN seconds, and what it sent before."""
    received = b""
    try:
        async with asyncio.timeout(CLOSED_WITHIN):
            while chunk := await reader.read(65536):
                received += chunk
    except TimeoutError:
        return False, received
    except ConnectionResetError:
        pass
    return True, received


async def test_a_connection_that_sends_nothing_is_closed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done, received = await closed(reader)
    writer.close()
    assert done and received == b""


async def test_a_partial_request_head_is_closed_without_an_answer(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    done, received = await closed(reader)
    writer.close()
    assert done and received == b""


async def test_a_kept_alive_connection_gets_a_new_head_deadline_after_each_response(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = await reader.readuntil(b"ok")
    assert answer.startswith(b"HTTP/1.1 200")
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the next head, never finished
    done, received = await closed(reader)
    writer.close()
    assert done and received == b""  # long before the keep-alive timeout


async def test_a_request_head_beyond_the_bound_is_400(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"X-Padding-{number}: {'a' * 48}\r\n".encode() for number in range(HEAD_BOUND // 50 + 4)]
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(lines[:8]))  # within the bound
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.write(b"".join(lines[8:]))  # past it, and still no blank line: nothing more is sent
    done, received = await closed(reader)
    writer.close()
    assert done and received.startswith(b"HTTP/1.1 400")


async def test_whole_requests_are_answered_one_after_another(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(3):
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")
    writer.close()


def test_httptools_by_default_h11_on_request_and_nothing_else() -> None:
    default = header_timeout_protocol(5, 2048)
    assert issubclass(default, HttpToolsProtocol)
    assert (default.header_timeout, default.max_header_bytes) == (5.0, 2048)  # type: ignore[attr-defined]
    fallback = header_timeout_protocol(5, parser="h11")
    assert issubclass(fallback, H11Protocol) and fallback.header_timeout == 5.0  # type: ignore[attr-defined]
    for wrong in ({"seconds": 0}, {"seconds": 1, "max_header_bytes": 0}, {"seconds": 1, "parser": "picohttp"}):
        with pytest.raises(ValueError, match=r"positive|unknown HTTP parser"):
            header_timeout_protocol(**wrong)  # type: ignore[arg-type]
