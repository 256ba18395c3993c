"""Limits on what one request may cost the server: body size and body read time (an ASGI middleware, both API
profiles), and a deadline for a request's headers (uvicorn's h11 protocol, which has none of its own).

:class:`RequestLimitsMiddleware` answers 413 at once when ``Content-Length`` is above ``max_body_bytes``, and
otherwise counts the bytes as they stream in: the chunk that passes the limit ends the request with 413, so a body
without ``Content-Length`` (chunked) is never read into memory beyond the limit. The whole body must arrive within
``body_read_timeout`` seconds of the request's start, else 408. Both answers are in the profile's error shape and
close the connection (``Connection: close``): the rest of the body is never read.

:func:`header_timeout_protocol` is uvicorn's h11 protocol with a header deadline: a connection that has not sent a
complete request head within ``seconds`` of opening (or, kept alive, of its first byte after a response) is closed.
Uvicorn's ``timeout_keep_alive`` closes idle kept-alive connections and ``limit_concurrency`` answers 503 beyond a
number of connections; ``serve`` sets both from the settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Final

import h11
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from tgsessions.api.errors import HTTP_CODES, error_body, nest_body
from tgsessions.api.profiles import ApiProfile

log = logging.getLogger("tgsessions.api")

DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
DEFAULT_BODY_READ_TIMEOUT: Final = 30.0
CLOSE: Final = {"Connection": "close"}


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """What :class:`RequestLimitsMiddleware` enforces (``serve`` builds it from TGS_MAX_BODY_BYTES and
    TGS_BODY_READ_TIMEOUT_SECONDS)."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    body_read_timeout: float = DEFAULT_BODY_READ_TIMEOUT

    def __post_init__(self) -> None:
        if self.max_body_bytes < 0 or self.body_read_timeout <= 0:
            raise ValueError("max_body_bytes must be >= 0 and body_read_timeout > 0")


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes", headers=CLOSE)


class BodyTimeout(StarletteHTTPException):
    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"request body not received within {seconds:g} seconds", headers=CLOSE)


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    if value is None or not value.strip().isdigit():
        return None  # absent, or malformed (the server refuses that before the app sees it)
    return int(value)


def _refusal(scope: Scope, exc: StarletteHTTPException) -> JSONResponse:
    """The error as the profile's handlers render an HTTP error."""
    state = getattr(scope.get("app"), "state", None)
    if getattr(state, "profile", ApiProfile.NATIVE) is ApiProfile.ORIGINAL:
        body = nest_body(exc.status_code, exc.detail)
    else:
        body = error_body(HTTP_CODES.get(exc.status_code, "http_error"), exc.detail)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


class RequestLimitsMiddleware:
    """A body size limit counted as the body streams, and a deadline for the whole body (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        body_read_timeout: float = DEFAULT_BODY_READ_TIMEOUT,
    ) -> None:
        RequestLimits(max_body_bytes, body_read_timeout)  # validates
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_read_timeout = body_read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.max_body_bytes:
            await _refusal(scope, BodyTooLarge(self.max_body_bytes))(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_read_timeout
        received = 0
        complete = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, complete
            if complete:  # the body is in: waiting for a disconnect has no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(self.body_read_timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
                complete = not message.get("more_body", False)
            else:
                complete = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except (BodyTooLarge, BodyTimeout) as exc:  # read outside a route (its handlers answer there)
            if started:
                raise
            await _refusal(scope, exc)(scope, receive, send)


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol; a request head must be complete within ``header_timeout`` seconds of the connection
    opening, or of the first byte after a response on a kept-alive connection (see :func:`header_timeout_protocol`)."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._arm_header_timer()  # the first byte of the next request on a kept-alive connection
        cycle = self.cycle
        super().data_received(data)
        if self.cycle is not cycle:  # a request head was parsed: its body has the middleware's deadline
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        cycle = self.cycle
        super().on_response_complete()
        if self.cycle is not cycle:  # a pipelined request was waiting, complete
            self._cancel_header_timer()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timeout_expired)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout_expired(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not (self.cycle is None or self.cycle.response_complete):
            return
        log.debug("closing a connection that sent no complete request head in %gs", self.header_timeout)
        with contextlib.suppress(h11.LocalProtocolError):
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()


def header_timeout_protocol(seconds: float) -> type[HeaderTimeoutH11Protocol]:
    """The h11 protocol class for ``uvicorn.Config(http=...)`` with a header deadline of ``seconds``."""
    if seconds <= 0:
        raise ValueError("the header read timeout must be positive")
    return type("HeaderTimeoutH11Protocol", (HeaderTimeoutH11Protocol,), {"header_timeout": float(seconds)})
