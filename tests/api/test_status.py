"""Status, old sessions, history paging and cache statistics over HTTP."""

from __future__ import annotations

from tests.api.conftest import PHONE, Api


async def test_session_status(api: Api) -> None:
    seeded = await api.seed()
    response = await api.client.get(f"/archived-clients/{PHONE}/session-status", headers=api.auth())
    assert response.status_code == 200
    body = response.json()
    assert body["mobile"] == PHONE and body["state"] == "active"
    assert body["isMainSessionActive"] is True
    assert body["totalOldSessions"] == 2
    assert body["lastChecked"] is not None
    metrics = body["healthMetrics"]
    assert set(metrics) == {"activeOldSessions", "lastUpdated", "sessionAge", "reliability", "score"}
    assert metrics["reliability"] in {"high", "medium", "low"} and 0 <= metrics["score"] <= 1
    assert metrics["sessionAge"] == 0  # stored just now, by the fake clock
    assert body["keeper"]["present"] is True and body["keeper"]["sessionId"]
    assert body["breaker"] == {"open": False, "openUntil": None}
    assert body["frozen"] is False and body["loginAttemptsLeft"] >= 1
    assert all(s.reveal() not in response.text for s in seeded.all_strings())


async def test_status_of_a_dead_primary(api: Api) -> None:
    seeded = await api.seed(keeper=False, backups=0)
    api.world.revoke(seeded.primary)
    response = await api.client.get(f"/archived-clients/{PHONE}/session-status", headers=api.auth())
    assert response.status_code == 200
    assert response.json()["isMainSessionActive"] is False
    assert response.json()["keeper"] == {"present": False, "sessionId": None, "verdict": None}


async def test_old_sessions_lists_backup_metadata_only(api: Api) -> None:
    seeded = await api.seed(backups=3)
    response = await api.client.get(f"/archived-clients/{PHONE}/old-sessions", headers=api.auth())
    assert response.status_code == 200
    backups = response.json()
    assert len(backups) == 3
    assert set(backups[0]) == {"sessionId", "role", "origin", "createdAt", "roleSince", "age", "verdict",
                               "verdictReason", "verdictAt", "breakerOpenUntil"}  # fmt: skip
    assert all(b["role"] == "backup" for b in backups)
    assert all(s.reveal() not in response.text for s in seeded.all_strings())


async def test_history_pages_backwards(api: Api) -> None:
    await api.seed()
    for _ in range(4):
        assert (await api.client.get(f"/archived-clients/fetch/{PHONE}", headers=api.auth())).status_code == 200
    everything = (await api.client.get(f"/archived-clients/{PHONE}/history?limit=500", headers=api.auth())).json()
    all_ids = [e["id"] for e in everything["events"]]
    assert all_ids == sorted(all_ids, reverse=True) and len(all_ids) >= 5
    assert everything["nextBefore"] is None
    seen: list[int] = []
    before = None
    while True:
        params: dict[str, int] = {"limit": 2} | ({"before": before} if before is not None else {})
        page = await api.client.get(f"/archived-clients/{PHONE}/history", params=params, headers=api.auth())
        assert page.status_code == 200
        body = page.json()
        assert body["mobile"] == PHONE and len(body["events"]) <= 2
        seen += [e["id"] for e in body["events"]]
        before = body["nextBefore"]
        if before is None:
            break
    assert seen == all_ids
    event = everything["events"][-1]
    assert set(event) == {"id", "action", "actor", "outcome", "at", "sessionId", "reason", "detail"}
    assert event["action"] == "account_added"


async def test_history_errors(api: Api) -> None:
    unknown = await api.client.get(f"/archived-clients/{PHONE}/history", headers=api.auth())
    assert unknown.status_code == 404
    await api.seed()
    for query in ("limit=0", "limit=501", "before=0", "limit=abc"):
        bad = await api.client.get(f"/archived-clients/{PHONE}/history?{query}", headers=api.auth())
        assert bad.status_code == 422
        assert bad.json()["details"][0]["field"].startswith("query.")


async def test_cache_stats(api: Api) -> None:
    await api.seed()
    for _ in range(3):
        await api.client.get(f"/archived-clients/fetch/{PHONE}", headers=api.auth())
    response = await api.client.get("/archived-clients/health/cache-stats", headers=api.auth())
    assert response.status_code == 200
    body = response.json()
    expected = {"backend", "hits", "misses", "entries", "expired", "evictions", "lastSweep", "ttlSeconds",
                "maxEntries", "hitRate"}  # fmt: skip
    assert set(body) == expected
    assert body["backend"] == "memory" and body["entries"] >= 1
    total = body["hits"] + body["misses"]
    assert body["hitRate"] == (body["hits"] / total if total else 0.0)
