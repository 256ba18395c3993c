"""Limits on what one request may cost the server: body size and body read time (an ASGI middleware, both API
profiles). The deadline for a request's head is the HTTP protocol's (:mod:`tgsessions.api.http_protocols`).

:class:`RequestLimitsMiddleware` answers 413 at once when ``Content-Length`` is above ``max_body_bytes``, and
otherwise counts the bytes as they stream in: the chunk that passes the limit ends the request with 413, so a body
without ``Content-Length`` (chunked) is never read into memory beyond the limit. The whole body must arrive within
``body_read_timeout`` seconds of the request's start, else 408. Both answers are in the profile's error shape and
close the connection (``Connection: close``): the rest of the body is never read.

Uvicorn's ``timeout_keep_alive`` closes idle kept-alive connections and ``limit_concurrency`` answers 503 beyond a
number of connections; ``serve`` sets both from the settings.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tgsessions.api.errors import HTTP_CODES, error_body, nest_body
from tgsessions.api.profiles import ApiProfile

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


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The request's ``Content-Length`` (None when absent or malformed: the server refuses that before the app sees
    it) and whether a body may follow at all: without ``Content-Length`` and ``Transfer-Encoding`` a request has none
    (RFC 9112, 6.3)."""
    length: int | None = None
    declared = chunked = False
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            declared = True
            text = value.strip()
            length = int(text) if text.isdigit() else None
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked or (declared and length != 0)


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
        length, has_body = _framing(scope)
        if not has_body:  # nothing to count or wait for
            await self.app(scope, receive, send)
            return
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
