"""API keys: headers only, 401/403/429, revocation, readiness without a scope."""

from __future__ import annotations

import pytest

from tests.api.conftest import PHONE, Api, build_runtime, running_api
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.access import Scope
from tgsessions.domain.ports import Cipher, Database
from tgsessions.service.runtime import Readiness
from tgsessions.testing.clock import FakeClock

FETCH = f"/archived-clients/fetch/{PHONE}"


async def test_healthz_needs_no_key(api: Api) -> None:
    response = await api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer tgs_000000000000_" + "A" * 43},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "wrong"},
    ],
    ids=["missing", "unknown", "malformed", "basic", "x-api-key-wrong"],
)
async def test_missing_or_wrong_key_is_401(api: Api, headers: dict[str, str]) -> None:
    response = await api.client.get(FETCH, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body = response.json()
    assert body["error"] == "unauthenticated"
    assert "wrong" not in body["message"] and "A" * 43 not in body["message"]


async def test_x_api_key_header_works(api: Api) -> None:
    await api.seed()
    response = await api.client.get(FETCH, headers={"X-API-Key": api.admin_key})
    assert response.status_code == 200


async def test_revoked_key_is_401(api: Api) -> None:
    key = await api.key(Scope.STATUS_READ, name="short-lived")
    assert (await api.client.get("/readyz", headers=api.auth(key))).status_code == 200
    key_id = key.split("_")[1]
    await api.runtime.keys.revoke(key_id)
    response = await api.client.get("/readyz", headers=api.auth(key))
    assert response.status_code == 401


@pytest.mark.parametrize("name", ["api_key", "apikey", "key", "token", "access_token", "API_KEY"])
async def test_key_in_query_string_is_refused(api: Api, name: str) -> None:
    response = await api.client.get(FETCH, params={name: api.admin_key}, headers=api.auth())
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_input"
    assert "header" in body["message"] and "Authorization: Bearer" in body["message"]
    assert api.admin_key not in response.text


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", FETCH, "sessions:read"),
        ("POST", "/archived-clients/batch-fetch", "sessions:read"),
        ("PUT", f"/archived-clients/{PHONE}/session", "sessions:write"),
        ("POST", f"/archived-clients/{PHONE}/cleanup-sessions", "sessions:write"),
        ("POST", "/archived-clients", "sessions:write"),
        ("GET", f"/archived-clients/{PHONE}/session-status", "status:read"),
        ("GET", f"/archived-clients/{PHONE}/old-sessions", "status:read"),
        ("GET", f"/archived-clients/{PHONE}/history", "status:read"),
        ("GET", "/archived-clients/health/cache-stats", "status:read"),
        ("GET", "/archived-clients/maintenance/check-archived-clients", "status:read"),
        ("POST", "/archived-clients/maintenance/runs", "admin"),
        ("GET", "/archived-clients/maintenance/runs/1", "admin"),
    ],
)
async def test_missing_scope_is_403_naming_it(api: Api, method: str, path: str, scope: str) -> None:
    others = [s for s in Scope if s.value != scope]
    key = await api.key(*others, name="all-but-one")
    response = await api.client.request(method, path, headers=api.auth(key))
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "forbidden"
    assert scope in body["message"]


async def test_admin_cannot_fetch_strings(api: Api) -> None:
    seeded = await api.seed()
    admin = await api.key(Scope.ADMIN, Scope.STATUS_READ, Scope.SESSIONS_WRITE, name="admin-only")
    response = await api.client.get(FETCH, headers=api.auth(admin))
    assert response.status_code == 403
    assert seeded.primary.reveal() not in response.text
    batch = await api.client.post("/archived-clients/batch-fetch", json={"mobiles": [PHONE]}, headers=api.auth(admin))
    assert batch.status_code == 403


async def test_rate_limit_is_429_with_retry_after(api: Api) -> None:
    key = await api.key(Scope.STATUS_READ, rate=1, name="slow")
    first = await api.client.get("/archived-clients/health/cache-stats", headers=api.auth(key))
    assert first.status_code == 200
    second = await api.client.get("/archived-clients/health/cache-stats", headers=api.auth(key))
    assert second.status_code == 429
    assert 1 <= int(second.headers["Retry-After"]) <= 60  # when the window lets the next one in (within a minute)
    assert second.json()["error"] == "rate_limited"
    assert second.json()["retryAfter"] == int(second.headers["Retry-After"])
    other = await api.key(Scope.STATUS_READ, rate=1, name="other")  # limits are per key
    assert (await api.client.get("/archived-clients/health/cache-stats", headers=api.auth(other))).status_code == 200


async def test_readyz_needs_a_key_but_no_scope(api: Api) -> None:
    assert (await api.client.get("/readyz")).status_code == 401
    key = await api.key(Scope.METRICS_READ, name="metrics")
    response = await api.client.get("/readyz", headers=api.auth(key))
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "migrations": "current", "telegram": "simulated"}


async def test_readyz_is_503_when_not_ready(
    database: Database, world: SimulatedTelegram, cipher: Cipher, clock: FakeClock
) -> None:
    behind = Readiness(False, "ok", "behind: run `tgsessions migrate`", "simulated")
    runtime = build_runtime(database, world, cipher, clock, readiness=behind)
    async with running_api(runtime, world, clock) as api:
        response = await api.client.get("/readyz", headers=api.auth())
    assert response.status_code == 503
    assert response.json() == {
        "status": "not_ready",
        "database": "ok",
        "migrations": "behind: run `tgsessions migrate`",
        "telegram": "simulated",
    }
