"""The HTTP protocols ``serve`` hands uvicorn: uvicorn's own, with a deadline for a request's head (uvicorn has none).

A connection that has not sent a complete request head within ``header_timeout`` seconds of opening (or, kept alive,
of its first byte after a response) is closed; the body then has the deadline of
:class:`~tgsessions.api.limits.RequestLimitsMiddleware`. :class:`HeaderTimeoutHttpToolsProtocol` (httptools, the
fast parser ``serve`` uses) also bounds the head's size itself, since llhttp has no bound: a head still incomplete
after ``max_header_bytes`` is answered 400 and the connection closed (a larger head that arrives in one read passes,
as with h11's buffer bound). :class:`HeaderTimeoutH11Protocol` is the fallback when httptools is not installed; h11
bounds the head through ``uvicorn.Config(h11_max_incomplete_event_size=...)``. :func:`header_timeout_protocol`
picks one.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
from collections.abc import Callable
from typing import Any, Final

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("tgsessions.api")

DEFAULT_HEADER_TIMEOUT: Final = 10.0
DEFAULT_MAX_HEADER_BYTES: Final = 16 * 1024


class HeadTimer:
    """One connection's head deadline: ``expired()`` is called ``seconds`` after the last :meth:`arm`, unless
    :meth:`cancel` came first."""

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float, expired: Callable[[], None]) -> None:
        self._loop = loop
        self._seconds = seconds
        self._expired = expired
        self._handle: asyncio.TimerHandle | None = None

    @property
    def armed(self) -> bool:
        return self._handle is not None

    def arm(self) -> None:
        self.cancel()
        self._handle = self._loop.call_later(self._seconds, self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self._expired()


if importlib.util.find_spec("httptools") is not None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HeaderTimeoutHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol with a head deadline and a head size bound (see the module)."""

        header_timeout: float = DEFAULT_HEADER_TIMEOUT
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._head_timer = HeadTimer(self.loop, self.header_timeout, self._head_too_slow)
            self._in_head = False  # between a message's first byte and the end of its head
            self._head_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._head_timer.arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._head_timer.cancel()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._head_bytes = 0
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            if not self._head_timer.armed and self._idle():
                self._head_timer.arm()  # the first byte of the next request on a kept-alive connection
            cycle = self.cycle
            super().data_received(data)
            if self.cycle is not cycle:  # a request head was parsed: its body has the middleware's deadline
                self._head_timer.cancel()
            if self._in_head and not self.transport.is_closing():
                self._head_bytes += len(data)
                if self._head_bytes > self.max_header_bytes:
                    log.debug("refusing a request head larger than %d bytes", self.max_header_bytes)
                    self.send_400_response("Request head too large.")

        def _idle(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _head_too_slow(self) -> None:
            if self.transport.is_closing() or not self._idle():
                return
            log.debug("closing a connection that sent no complete request head in %gs", self.header_timeout)
            self.transport.close()

else:  # pragma: no cover - httptools is a dependency; h11 is the fallback
    HeaderTimeoutHttpToolsProtocol = None  # type: ignore[assignment,misc]


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a head deadline (the head's size is bounded by h11, see the module)."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer = HeadTimer(self.loop, self.header_timeout, self._head_too_slow)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer.arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._head_timer.armed and self._idle():
            self._head_timer.arm()  # the first byte of the next request on a kept-alive connection
        cycle = self.cycle
        super().data_received(data)
        if self.cycle is not cycle:  # a request head was parsed: its body has the middleware's deadline
            self._head_timer.cancel()

    def on_response_complete(self) -> None:
        cycle = self.cycle
        super().on_response_complete()
        if self.cycle is not cycle:  # a pipelined request was waiting, complete
            self._head_timer.cancel()

    def _idle(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _head_too_slow(self) -> None:
        if self.transport.is_closing() or not self._idle():
            return
        log.debug("closing a connection that sent no complete request head in %gs", self.header_timeout)
        with contextlib.suppress(h11.LocalProtocolError):
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()


def header_timeout_protocol(
    seconds: float, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES, *, parser: str = "auto"
) -> type[asyncio.Protocol]:
    """The protocol class for ``uvicorn.Config(http=...)``: httptools (``parser="auto"`` when installed, or
    ``"httptools"``) or h11 (``"h11"``), with a head deadline of ``seconds``."""
    if seconds <= 0 or max_header_bytes <= 0:
        raise ValueError("the header read timeout and the header size bound must be positive")
    if parser not in ("auto", "httptools", "h11"):
        raise ValueError(f"unknown HTTP parser {parser!r}: auto, httptools or h11")
    if parser != "h11" and HeaderTimeoutHttpToolsProtocol is not None:
        attributes = {"header_timeout": float(seconds), "max_header_bytes": int(max_header_bytes)}
        return type("HeaderTimeoutHttpToolsProtocol", (HeaderTimeoutHttpToolsProtocol,), attributes)
    if parser == "httptools":
        raise ValueError("httptools is not installed")
    return type("HeaderTimeoutH11Protocol", (HeaderTimeoutH11Protocol,), {"header_timeout": float(seconds)})
