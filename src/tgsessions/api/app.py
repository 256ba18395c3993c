"""The FastAPI application factory.

``create_app(open_runtime)`` builds the app without touching settings, engines or Telegram: the lifespan enters
``open_runtime()`` (the composition root's, or a test's) and keeps the :class:`Runtime` on ``app.state`` until
shutdown. Docs are served at ``/docs``, the schema at ``/openapi.json``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Final

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

import tgsessions
from tgsessions.api.compat import routes as compat_routes
from tgsessions.api.errors import install_error_handlers
from tgsessions.api.limits import RequestLimits, RequestLimitsMiddleware
from tgsessions.api.openapi import document_security
from tgsessions.api.profiles import ApiProfile
from tgsessions.api.request_ids import RequestIdMiddleware
from tgsessions.api.routes import fetch, health, maintenance, metrics, sessions, status
from tgsessions.service.runtime import Runtime

OpenRuntime = Callable[[], contextlib.AbstractAsyncContextManager[Runtime]]
#: FastAPI's native OpenTelemetry off: the service has its own metrics, and an enabled check costs every request
#: a look at the global providers.
NO_TELEMETRY: Final[TelemetryConfig] = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}

DESCRIPTION = """\
Keeps Telegram user-account sessions alive and hands out one that works right now.

Every endpoint but `/healthz` needs an API key in `Authorization: Bearer <key>` or `X-API-Key: <key>` (never in the
query string). Scopes: `sessions:read` (fetch, batch-fetch: the only responses with session strings),
`sessions:write` (add, update, cleanup), `status:read` (status, old sessions, history, cache statistics,
maintenance state), `admin` (maintenance runs).

Errors share one shape: `{"error": code, "message": text, "mobile"?: phone, "retryAfter"?: seconds}`.
"""

COMPAT_DESCRIPTION = """\
The `original` compatibility profile: the replaced NestJS service's `/archived-clients` API, its bodies, status
codes and answers, over tgsessions (see docs/compat-original.md for where it deliberately differs).

Keys are tgsessions' own, sent as `x-api-key: <key>`, `Authorization: Bearer <key>` or `?apiKey=<key>`. Session
strings only to keys with `sessions:read`, every hand-out audited; each string comes back in the layout it was
stored in (`?format=telethon|gramjs|pyrogram` overrides). Errors: `{"statusCode", "message", "error"}`.
"""


def create_app(
    open_runtime: OpenRuntime, *, profile: ApiProfile = ApiProfile.NATIVE, limits: RequestLimits | None = None
) -> FastAPI:
    """The HTTP API over the runtime ``open_runtime()`` yields, in ``profile``'s dialect; request bodies within
    ``limits`` (413 beyond the size, 408 beyond the read time; defaults: 1 MiB, 30 s)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime() as runtime:
            app.state.runtime = runtime
            try:
                yield
            finally:
                del app.state.runtime

    app = FastAPI(
        title="tgsessions",
        version=tgsessions.__version__,
        description=COMPAT_DESCRIPTION if profile is ApiProfile.ORIGINAL else DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
        telemetry=NO_TELEMETRY,
    )
    app.state.profile = profile
    install_error_handlers(app)
    limits = limits or RequestLimits()
    app.add_middleware(RequestLimitsMiddleware, max_body_bytes=limits.max_body_bytes,
                       body_read_timeout=limits.body_read_timeout)  # fmt: skip
    app.add_middleware(RequestIdMiddleware)
    # The profile's routers first, fetch leading: FastAPI tries the included routers in order on every request.
    if profile is ApiProfile.ORIGINAL:
        routers = [compat_routes.router, health.router, metrics.router]
    else:
        routers = [module.router for module in (fetch, sessions, status, maintenance, health, metrics)]
    for router in routers:
        app.include_router(router)
    document_security(app, routers)
    return app
