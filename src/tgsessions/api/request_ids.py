"""Request ids: taken from a well-formed ``X-Request-ID`` header or made up, bound to every log record written while
the request runs, and sent back in the response's ``X-Request-ID``. One access line per request (method, path without
the query string, status, milliseconds) is logged under ``tgsessions.access``: the only one (``serve`` turns uvicorn's
access log off)."""

from __future__ import annotations

import logging
import os
import re
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
access = logging.getLogger("tgsessions.access")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope.get("headers") or () if name == HEADER), b"").decode("latin-1")
        request_id = given if WELL_FORMED.match(given) else os.urandom(16).hex()
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), (HEADER, request_id.encode())]
            await send(message)

        # bind and reset by token: structlog's bound_contextvars() copies the whole context to save what it shadows
        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            access.info("%s %s %d %.1fms", scope.get("method"), scope.get("path"), status, elapsed)
            structlog.contextvars.reset_contextvars(**bound)
