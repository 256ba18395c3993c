"""How ``serve`` runs the app under uvicorn, in one place so the HTTP benchmark's references run exactly so too.

uvloop's event loop (when installed) and the httptools parser with a head deadline
(:mod:`tgsessions.api.http_protocols`; h11 when httptools is missing); uvicorn's own access log off, since
:class:`~tgsessions.api.request_ids.RequestIdMiddleware` writes the one access line of each request; uvicorn's
logging configuration left alone (``log_config=None``: the structlog pipeline has every record).
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
from collections.abc import Callable
from typing import Any

from tgsessions.api.http_protocols import DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_HEADER_BYTES, header_timeout_protocol

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def event_loop_name() -> str:
    """``"uvloop"`` when it is installed, else ``"asyncio"``."""
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def event_loop_factory() -> LoopFactory | None:
    """A factory of uvloop event loops for ``asyncio.Runner(loop_factory=...)``, or None (asyncio's default)."""
    if event_loop_name() != "uvloop":
        return None
    import uvloop

    factory: LoopFactory = uvloop.new_event_loop
    return factory


def freeze_startup_heap() -> None:
    """Move every object alive now (modules, the app, the runtime: the heap start-up built) out of the garbage
    collector's reach (``gc.freeze``). Request handling allocates fast and so triggers collections often; without
    this each older-generation collection walks that whole heap again, a large part of a request's CPU time in
    ``serve``. Call it once, when everything long-lived exists and serving is about to start."""
    gc.collect()
    gc.freeze()


def uvicorn_options(
    *,
    log_level: str = "info",
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    keep_alive: int = 5,
    max_connections: int | None = None,
) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.Config`` besides the app, host and port. ``loop`` only names the loop:
    ``serve`` awaits ``Server.serve()`` in a loop it made with :func:`event_loop_factory`."""
    return {
        "loop": event_loop_name(),
        "http": header_timeout_protocol(header_timeout, max_header_bytes),
        "h11_max_incomplete_event_size": max_header_bytes,  # the head's bound when h11 is the fallback
        "timeout_keep_alive": keep_alive,
        "limit_concurrency": max_connections,
        "log_level": log_level.lower(),
        "access_log": False,
        "log_config": None,
        "lifespan": "on",
    }
