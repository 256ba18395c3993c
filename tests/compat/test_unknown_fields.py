"""No silent loss, in both profiles: every operation that takes a JSON body refuses a field it does not know (400
under ``original``, 422 natively), naming it, and stores nothing."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from tests.api.conftest import build_runtime, opener
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.api.app import create_app
from tgsessions.api.profiles import ApiProfile
from tgsessions.domain.access import ALL_SCOPES
from tgsessions.domain.ports import Cipher, Database
from tgsessions.service.runtime import Runtime
from tgsessions.testing.clock import FakeClock

PHONE = "79161234567"
REFUSED = {ApiProfile.ORIGINAL: 400, ApiProfile.NATIVE: 422}


@contextlib.asynccontextmanager
async def client_for(
    profile: ApiProfile, database: Database, cipher: Cipher, clock: FakeClock
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any], Runtime]]:
    world = SimulatedTelegram(clock, seed=13)
    runtime = build_runtime(database, world, cipher, clock)
    world.add_account(PHONE)
    await runtime.factory.add_account(PHONE, primary=world.create_session(PHONE))
    app = create_app(opener(runtime), profile=profile)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            _key, key = await runtime.keys.create("all", ALL_SCOPES)
            client.headers["X-API-Key"] = key
            yield client, app.openapi(), runtime


def body_operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema", {})
            choices = [schema, *schema.get("anyOf", [])]  # an optional body is anyOf(model, null)
            if any("$ref" in c or (c.get("type") == "object" and "properties" in c) for c in choices):
                found.append((method, path.replace("{mobile}", PHONE)))
    return found


@pytest.mark.parametrize("profile", list(ApiProfile), ids=str)
async def test_an_unknown_body_field_is_refused_by_name_everywhere(
    profile: ApiProfile, database: Database, cipher: Cipher, clock: FakeClock
) -> None:
    async with client_for(profile, database, cipher, clock) as (client, spec, runtime):
        operations = body_operations(spec)
        assert len(operations) >= 4
        before = await runtime.factory.records()  # without strings: reading leaves no audit event
        for method, path in operations:
            response = await client.request(method, path, json={"surelyUnknownField": 1})
            assert response.status_code == REFUSED[profile], (method, path, response.status_code)
            assert "surelyUnknownField" in response.text, (method, path)
        assert await runtime.factory.records() == before
