"""How ``serve`` runs the app: uvloop, httptools with the head deadline, no uvicorn access log (ours is the only
line, one per request), no route or dependency in FastAPI's thread pool, the start-up heap frozen, and the key
schemes documented in the OpenAPI schema of both profiles although the key checks read the headers themselves."""

from __future__ import annotations

import gc
import inspect
import io
import json
from collections.abc import Iterator
from typing import Any

import uvloop
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tests.api.conftest import PHONE, Api, build_runtime, opener, running_api
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.api.app import create_app
from tgsessions.api.profiles import ApiProfile
from tgsessions.api.serving import event_loop_factory, freeze_startup_heap, uvicorn_options
from tgsessions.domain.ports import Cipher, Database
from tgsessions.testing.clock import FakeClock


def test_uvicorn_runs_httptools_with_the_head_deadline_and_without_its_access_log() -> None:
    options = uvicorn_options(log_level="INFO", header_timeout=3, max_header_bytes=4096, keep_alive=7,
                              max_connections=50)  # fmt: skip
    assert options["loop"] == "uvloop"
    assert issubclass(options["http"], HttpToolsProtocol)
    assert (options["http"].header_timeout, options["http"].max_header_bytes) == (3.0, 4096)
    assert options["access_log"] is False and options["log_config"] is None
    assert (options["timeout_keep_alive"], options["limit_concurrency"], options["log_level"]) == (7, 50, "info")


def test_serve_runs_in_a_uvloop_event_loop() -> None:
    factory = event_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_the_start_up_heap_is_frozen() -> None:
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def dependants(routes: list[Any]) -> Iterator[tuple[str, Dependant]]:
    """Every route's dependant tree, flattened, through FastAPI's included routers."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            yield from dependants(original.routes)
        elif isinstance(route, APIRoute):
            pending = [route.dependant]
            while pending:
                dependant = pending.pop()
                yield route.path, dependant
                pending.extend(dependant.dependencies)


def is_coroutine(call: object) -> bool:
    """A coroutine function, or an object whose ``__call__`` is one (the scope checks)."""
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__)


async def test_no_route_and_no_dependency_runs_in_the_thread_pool(
    database: Database, world: SimulatedTelegram, cipher: Cipher, clock: FakeClock
) -> None:
    """FastAPI runs a plain ``def`` route or dependency in its thread pool: a thread hop per request each."""
    runtime = build_runtime(database, world, cipher, clock)
    for profile in ApiProfile:
        app = create_app(opener(runtime), profile=profile)
        found = list(dependants(app.routes))
        assert len({path for path, _dependant in found}) >= 14
        sync = [(path, dependant.call) for path, dependant in found if not is_coroutine(dependant.call)]
        assert sync == [], sync


async def test_one_access_line_per_request_and_none_from_uvicorn(api: Api, log_stream: io.StringIO) -> None:
    await api.seed()
    for _ in range(3):
        assert (await api.client.get(f"/archived-clients/fetch/{PHONE}", headers=api.auth())).status_code == 200
    assert (await api.client.get("/healthz")).status_code == 200
    records = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    access = [r for r in records if r.get("logger") == "tgsessions.access"]
    assert [r["event"].split()[:3] for r in access] == [["GET", f"/archived-clients/fetch/{PHONE}", "200"]] * 3 + [
        ["GET", "/healthz", "200"]
    ]
    assert len({r["request_id"] for r in access}) == 4


async def test_both_profiles_document_the_key_schemes(
    database: Database, world: SimulatedTelegram, cipher: Cipher, clock: FakeClock
) -> None:
    runtime = build_runtime(database, world, cipher, clock)
    async with running_api(runtime, world, clock) as api:
        native = (await api.client.get("/openapi.json")).json()
    original = create_app(opener(runtime), profile=ApiProfile.ORIGINAL).openapi()
    for schema in (native, original):
        assert set(schema["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
        assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        assert schema["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
        for path, item in schema["paths"].items():
            for op in item.values():
                keyless = path == "/healthz"
                assert ("security" in op) is not keyless, path
                if not keyless:
                    assert op["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}]
