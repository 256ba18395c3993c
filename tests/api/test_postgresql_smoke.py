"""The PostgreSQL smoke path of the HTTP API: the main paths, end to end, on PostgreSQL.

Every other test of tests/api runs on SQLite (each backend's storage behaviour is proven by the contract suites of
tests/storage). These drive the running app on the PostgreSQL test database, through asyncpg and the migrated
schema: add an account, fetch (live primary, then cached; dead primary: the backup is promoted; nothing alive: one is
minted from the keeper), batch fetch, status, old sessions, history paging, update, cleanup, a maintenance run, and
API key authentication. Select them alone with ``-m postgresql_smoke``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.api.conftest import OTHER, PHONE, Api
from tests.support.db_fixtures import on_backends
from tgsessions.domain.access import Scope
from tgsessions.domain.ports import Database

pytestmark = [pytest.mark.postgresql_smoke, on_backends("postgresql")]

ROOT = "/archived-clients"
FETCH = f"{ROOT}/fetch/{PHONE}"
RUNS = f"{ROOT}/maintenance/runs"
CHECK = f"{ROOT}/maintenance/check-archived-clients"
SECRET_MARK = "TOPSECRET-smoke-2fa-5678"


async def test_pg_smoke_add_account_then_fetch_live_cached_promoted_and_minted(api: Api, database: Database) -> None:
    assert database.backend == "postgresql"
    world = api.world
    world.add_account(PHONE, two_fa=SECRET_MARK)
    primary = world.create_session(PHONE, age=timedelta(days=40))
    keeper = world.create_session(PHONE, age=timedelta(days=90))
    backups = [world.create_session(PHONE, age=timedelta(days=30 + i)) for i in range(2)]  # newest first
    added = await api.client.post(
        ROOT,
        json={
            "mobile": f"+{PHONE}",
            "session": primary.reveal(),
            "keeperSession": keeper.reveal(),
            "backups": [b.reveal() for b in backups],
            "twoFactorPassword": SECRET_MARK,
            "identity": {"apiId": 12345, "deviceModel": "Pixel 8", "systemVersion": "Android 14",
                         "appVersion": "10.1", "langCode": "en", "systemLangCode": "en-US"},
        },
        headers=api.auth(),
    )  # fmt: skip
    assert added.status_code == 201, added.status_code
    assert added.json()["mobile"] == PHONE
    assert sorted(s["role"] for s in added.json()["sessions"]) == ["backup", "backup", "keeper", "primary"]
    strings = [primary, keeper, *backups]
    assert all(s.reveal() not in added.text for s in strings) and SECRET_MARK not in added.text

    reader = await api.key(Scope.SESSIONS_READ, name="reader")
    live = await api.client.get(FETCH, headers=api.auth(reader))
    assert live.status_code == 200
    body = live.json()
    assert (body["mobile"], body["role"], body["how"], body["format"]) == (PHONE, "primary", "validated", "telethon")
    assert body["session"] == primary.reveal()
    cached = (await api.client.get(FETCH, headers=api.auth(reader))).json()  # the warm path: one shared commit
    assert cached["how"] == "cached" and cached["session"] == primary.reveal()
    pyrogram = await api.client.get(FETCH, params={"format": "pyrogram"}, headers=api.auth(reader))
    assert pyrogram.status_code == 200 and pyrogram.json()["format"] == "pyrogram"  # the user id was stored

    world.revoke(primary)
    api.clock.advance(301)  # past the verdict cache
    promoted = (await api.client.get(FETCH, headers=api.auth())).json()
    assert promoted["how"] == "promoted" and promoted["session"] == backups[0].reveal()
    for backup in backups:
        world.revoke(backup)
    api.clock.advance(301)
    minted = (await api.client.get(FETCH, headers=api.auth())).json()
    assert minted["how"] == "minted" and minted["role"] == "primary"
    assert minted["session"] not in {s.reveal() for s in strings} and world.is_alive(minted["session"])

    history = (await api.client.get(f"{ROOT}/{PHONE}/history?limit=500", headers=api.auth())).json()
    actions = [e["action"] for e in history["events"]]
    assert {"account_added", "handed_out", "promoted", "minted"} <= set(actions)
    handed = [e for e in history["events"] if e["action"] == "handed_out"]
    assert f"key:{reader.split('_')[1]}" in {e["actor"] for e in handed}
    assert all(s.reveal() not in str(history) for s in strings) and SECRET_MARK not in str(history)


async def test_pg_smoke_batch_fetch_status_old_sessions_and_history_pages(api: Api) -> None:
    seeded = await api.seed(backups=2)
    batch = await api.client.post(
        f"{ROOT}/batch-fetch", json={"mobiles": [PHONE, f"+{PHONE}", OTHER, "nope"]}, headers=api.auth()
    )
    assert batch.status_code == 200
    results = batch.json()["results"]
    assert [r["mobile"] for r in results] == [PHONE, OTHER, "nope"]
    assert results[0]["session"] == seeded.primary.reveal() and results[0]["error"] is None
    assert results[1]["error"]["error"] == "unknown_phone" and results[1]["session"] is None
    assert results[2]["error"]["error"] == "invalid_input"

    status = await api.client.get(f"{ROOT}/{PHONE}/session-status", headers=api.auth())
    assert status.status_code == 200
    body = status.json()
    assert body["mobile"] == PHONE and body["state"] == "active" and body["isMainSessionActive"] is True
    assert body["totalOldSessions"] == 2 and body["lastChecked"] is not None
    assert body["keeper"]["present"] is True and body["breaker"] == {"open": False, "openUntil": None}
    assert all(s.reveal() not in status.text for s in seeded.all_strings())

    old = await api.client.get(f"{ROOT}/{PHONE}/old-sessions", headers=api.auth())
    assert old.status_code == 200
    assert len(old.json()) == 2 and all(b["role"] == "backup" for b in old.json())
    assert all(s.reveal() not in old.text for s in seeded.all_strings())

    for _ in range(3):
        assert (await api.client.get(FETCH, headers=api.auth())).status_code == 200
    everything = (await api.client.get(f"{ROOT}/{PHONE}/history?limit=500", headers=api.auth())).json()
    all_ids = [e["id"] for e in everything["events"]]
    assert all_ids == sorted(all_ids, reverse=True) and len(all_ids) >= 5
    assert everything["events"][-1]["action"] == "account_added"
    seen: list[int] = []
    before = None
    while True:
        params: dict[str, int] = {"limit": 2} | ({"before": before} if before is not None else {})
        page = await api.client.get(f"{ROOT}/{PHONE}/history", params=params, headers=api.auth())
        assert page.status_code == 200 and len(page.json()["events"]) <= 2
        seen += [e["id"] for e in page.json()["events"]]
        before = page.json()["nextBefore"]
        if before is None:
            break
    assert seen == all_ids
    unknown = await api.client.get(f"{ROOT}/{OTHER}/history", headers=api.auth())
    assert unknown.status_code == 404


async def test_pg_smoke_update_then_cleanup(api: Api) -> None:
    seeded = await api.seed(backups=3)
    fresh = api.world.create_session(PHONE, age=timedelta(days=2))
    updated = await api.client.put(f"{ROOT}/{PHONE}/session", json={"newSession": fresh.reveal()}, headers=api.auth())
    assert updated.status_code == 200
    assert updated.json()["role"] == "primary" and fresh.reveal() not in updated.text
    assert (await api.client.get(FETCH, headers=api.auth())).json()["session"] == fresh.reveal()

    api.world.revoke(seeded.backups[2])
    default = await api.client.post(f"{ROOT}/{PHONE}/cleanup-sessions", headers=api.auth())
    assert default.status_code == 200
    assert default.json()["mobile"] == PHONE and default.json()["maxSessions"] == 5
    assert len(default.json()["retiredDead"]) == 1
    limited = await api.client.post(f"{ROOT}/{PHONE}/cleanup-sessions", json={"maxSessions": 0}, headers=api.auth())
    assert limited.status_code == 200
    report = limited.json()
    assert report["maxSessions"] == 0
    assert len(report["revoked"]) + len(report["deferred"]) == 3  # the old primary and the two live backups
    left = (await api.client.get(f"{ROOT}/{PHONE}/old-sessions", headers=api.auth())).json()
    assert sorted(b["sessionId"] for b in left) == sorted(report["deferred"])
    assert (await api.client.get(FETCH, headers=api.auth())).json()["session"] == fresh.reveal()


async def test_pg_smoke_maintenance_run_start_poll_report(api: Api) -> None:
    await api.seed(PHONE)
    dead = await api.seed(OTHER)
    api.world.revoke(dead.primary)
    assert (await api.client.get(CHECK, headers=api.auth())).json() == {"running": False, "lastRun": None}

    api.world.latency = 0.02  # long enough for a second start to find this one running
    started = await api.client.post(RUNS, headers=api.auth())
    assert started.status_code == 202
    run = started.json()
    assert run["status"] == "running" and started.headers["Location"] == f"{RUNS}/{run['id']}"
    again = await api.client.post(RUNS, headers=api.auth())
    assert again.status_code == 409 and again.json()["error"] == "maintenance_running"
    for _ in range(500):
        polled = await api.client.get(started.headers["Location"], headers=api.auth())
        assert polled.status_code == 200
        if polled.json()["status"] != "running":
            break
        await asyncio.sleep(0.01)
    final = polled.json()
    assert final["status"] == "finished", final["status"]
    assert final["done"] == final["total"] == 2 and final["finishedAt"] is not None
    assert final["report"]["accounts"] == 2 and final["report"]["promoted"] == 1
    state = (await api.client.get(CHECK, headers=api.auth())).json()
    assert state["running"] is False and state["lastRun"]["id"] == run["id"]
    history = (await api.client.get(f"{ROOT}/{PHONE}/history", headers=api.auth())).json()
    assert any(e["action"] == "maintained" for e in history["events"])
    assert (await api.client.get(f"{RUNS}/999", headers=api.auth())).status_code == 404


async def test_pg_smoke_api_keys_authenticate_scope_rate_limit_and_revoke(api: Api) -> None:
    seeded = await api.seed()
    missing = await api.client.get(FETCH)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    unknown = await api.client.get(FETCH, headers={"Authorization": "Bearer tgs_000000000000_" + "A" * 43})
    assert unknown.status_code == 401 and unknown.json()["error"] == "unauthenticated"
    assert (await api.client.get(FETCH, headers={"X-API-Key": api.admin_key})).status_code == 200

    status_only = await api.key(Scope.STATUS_READ, name="status-only")
    denied = await api.client.get(FETCH, headers=api.auth(status_only))
    assert denied.status_code == 403 and "sessions:read" in denied.json()["message"]
    assert seeded.primary.reveal() not in denied.text
    assert (await api.client.get(f"{ROOT}/{PHONE}/session-status", headers=api.auth(status_only))).status_code == 200

    slow = await api.key(Scope.STATUS_READ, rate=1, name="slow")
    assert (await api.client.get(f"{ROOT}/health/cache-stats", headers=api.auth(slow))).status_code == 200
    limited = await api.client.get(f"{ROOT}/health/cache-stats", headers=api.auth(slow))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1

    assert (await api.client.get("/readyz", headers=api.auth(status_only))).status_code == 200
    await api.runtime.keys.revoke(status_only.split("_")[1])
    assert (await api.client.get("/readyz", headers=api.auth(status_only))).status_code == 401
    assert (await api.client.get("/healthz")).status_code == 200
