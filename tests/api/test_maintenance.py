"""Maintenance over HTTP: state without side effects, start (202 + Location), follow, report, one at a time."""

from __future__ import annotations

import asyncio

from tests.api.conftest import OTHER, PHONE, Api
from tgsessions.domain.access import Scope

CHECK = "/archived-clients/maintenance/check-archived-clients"
RUNS = "/archived-clients/maintenance/runs"


async def test_maintenance_run_start_poll_report(api: Api) -> None:
    await api.seed(PHONE)
    seeded = await api.seed(OTHER)
    api.world.revoke(seeded.primary)
    state = await api.client.get(CHECK, headers=api.auth())
    assert state.status_code == 200
    assert state.json() == {"running": False, "lastRun": None}

    api.world.latency = 0.02  # long enough for a second start to find this one running
    started = await api.client.post(RUNS, headers=api.auth())
    assert started.status_code == 202
    run = started.json()
    assert run["status"] == "running" and run["id"] >= 1
    assert started.headers["Location"] == f"{RUNS}/{run['id']}"
    again = await api.client.post(RUNS, headers=api.auth())
    assert again.status_code == 409
    assert again.json()["error"] == "maintenance_running"

    for _ in range(500):
        polled = await api.client.get(started.headers["Location"], headers=api.auth())
        assert polled.status_code == 200
        if polled.json()["status"] != "running":
            break
        await asyncio.sleep(0.01)
    final = polled.json()
    assert final["status"] == "finished", final
    assert final["done"] == final["total"] == 2
    assert final["report"]["accounts"] == 2 and final["report"]["promoted"] == 1
    assert final["finishedAt"] is not None
    assert final["report"]["keptAlive"] >= 0 and "unknownAuthorizations" in final["report"]
    assert all("_" not in name for name in final["report"]), final["report"]

    state = (await api.client.get(CHECK, headers=api.auth())).json()
    assert state["running"] is False and state["lastRun"]["id"] == run["id"]
    history = (await api.client.get(f"/archived-clients/{PHONE}/history", headers=api.auth())).json()
    maintained = [e for e in history["events"] if e["action"] == "maintained"]
    assert maintained and maintained[0]["detail"] == {"liveBackups": 2}  # live_backups in the audit row


async def test_check_has_no_side_effects_and_unknown_run_is_404(api: Api) -> None:
    await api.seed()
    for _ in range(2):
        assert (await api.client.get(CHECK, headers=api.auth())).json()["lastRun"] is None
    missing = await api.client.get(f"{RUNS}/999", headers=api.auth())
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    status_reader = await api.key(Scope.STATUS_READ, name="reader")
    assert (await api.client.get(CHECK, headers=api.auth(status_reader))).status_code == 200
    assert (await api.client.post(RUNS, headers=api.auth(status_reader))).status_code == 403
