"""Fetch and batch fetch over HTTP: strings only with sessions:read, audited with the key, fail closed."""

from __future__ import annotations

import dataclasses

import pytest
from telethon.sessions import StringSession

from tests.api.conftest import OTHER, PHONE, Api, AuditFailingDatabase, build_runtime, fast_options, running_api
from tests.interop.gramjs import Loaded, load_gramjs
from tests.interop.pyrogram_lib import load_pyrogram
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway, simulated_user_id
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.access import Scope
from tgsessions.domain.policies import LoginBudget
from tgsessions.domain.ports import Cipher, Database, SessionAccess
from tgsessions.domain.verdict import Verdict
from tgsessions.testing.clock import FakeClock

FETCH = f"/archived-clients/fetch/{PHONE}"


async def test_fetch_returns_the_live_primary_and_audits_the_key(api: Api) -> None:
    seeded = await api.seed()
    key = await api.key(Scope.SESSIONS_READ, name="reader")
    response = await api.client.get(f"/archived-clients/fetch/+{PHONE}", headers=api.auth(key))
    assert response.status_code == 200
    body = response.json()
    assert body["mobile"] == PHONE
    assert body["session"] == seeded.primary.reveal()
    assert body["role"] == "primary"
    assert body["how"] == "validated"
    assert body["frozen"] is False
    assert set(body) == {"mobile", "session", "format", "sessionId", "role", "how", "lastUpdated", "createdAt",
                         "updatedAt", "frozen"}  # fmt: skip
    history = (await api.client.get(f"/archived-clients/{PHONE}/history", headers=api.auth())).json()
    handed = [e for e in history["events"] if e["action"] == "handed_out"]
    assert handed and handed[0]["actor"] == f"key:{key.split('_')[1]}"
    assert handed[0]["sessionId"] == body["sessionId"]
    assert handed[0]["detail"] == {"how": "validated"}


async def test_fetch_promotes_a_backup_when_the_primary_died(api: Api) -> None:
    seeded = await api.seed()
    api.world.revoke(seeded.primary)
    response = await api.client.get(FETCH, headers=api.auth())
    assert response.status_code == 200
    assert response.json()["how"] == "promoted"
    assert response.json()["session"] == seeded.backups[0].reveal()


async def test_fetch_mints_from_the_keeper(api: Api) -> None:
    seeded = await api.seed()
    for secret in [seeded.primary, *seeded.backups]:
        api.world.revoke(secret)
    response = await api.client.get(FETCH, headers=api.auth())
    assert response.status_code == 200
    assert response.json()["how"] == "minted"
    assert response.json()["session"] not in {s.reveal() for s in [seeded.primary, *seeded.backups]}


async def test_fetch_errors(api: Api) -> None:
    unknown = await api.client.get(FETCH, headers=api.auth())
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "unknown_phone", "message": f"no account with phone {PHONE}", "mobile": PHONE}
    invalid = await api.client.get("/archived-clients/fetch/not-a-phone", headers=api.auth())
    assert invalid.status_code == 400
    assert invalid.json()["error"] == "invalid_input"


async def test_unrecoverable_account_is_409(api: Api) -> None:
    seeded = await api.seed(keeper=False)
    for secret in [seeded.primary, *seeded.backups]:
        api.world.revoke(secret)
    response = await api.client.get(FETCH, headers=api.auth())
    assert response.status_code == 409
    assert response.json()["error"] == "account_unrecoverable"
    assert response.json()["mobile"] == PHONE


async def test_banned_account_is_409(api: Api) -> None:
    await api.seed()
    api.world.ban(PHONE)
    response = await api.client.get(FETCH, headers=api.auth())
    assert response.status_code == 409
    assert response.json()["error"] == "account_banned"


async def test_telegram_unavailable_is_503_with_retry_after(api: Api) -> None:
    await api.seed()
    api.world.server_error(PHONE, calls=100)
    response = await api.client.get(FETCH, headers=api.auth())
    assert response.status_code == 503
    assert response.json()["error"] == "telegram_unavailable"
    assert int(response.headers["Retry-After"]) >= 1


async def test_flood_wait_retry_after_is_rounded_up(api: Api) -> None:
    await api.seed()
    api.world.flood_wait(PHONE, 41.2)
    response = await api.client.get(FETCH, headers=api.auth())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "42"
    assert response.json()["retryAfter"] == 42


async def test_login_budget_spent_is_429(
    database: Database, world: SimulatedTelegram, cipher: Cipher, clock: FakeClock
) -> None:
    options = fast_options(login_budget=LoginBudget(limit=1), login_reserve=0)
    async with running_api(build_runtime(database, world, cipher, clock, options=options), world, clock) as api:
        seeded = await api.seed(backups=0)
        api.world.revoke(seeded.primary)
        minted = await api.client.get(FETCH, headers=api.auth())
        assert minted.status_code == 200
        api.world.revoke(minted.json()["session"])
        spent = await api.client.get(FETCH, headers=api.auth())
    assert spent.status_code == 429
    assert spent.json()["error"] == "login_budget_spent"
    assert int(spent.headers["Retry-After"]) >= 1


async def test_fail_closed_when_the_audit_write_fails(
    database: Database, world: SimulatedTelegram, cipher: Cipher, clock: FakeClock
) -> None:
    failing = AuditFailingDatabase(database)
    async with running_api(build_runtime(failing, world, cipher, clock), world, clock) as api:  # type: ignore[arg-type]
        seeded = await api.seed()
        warm = await api.client.get(FETCH, headers=api.auth())  # validated once: the next fetch is the warm path
        assert warm.status_code == 200
        failing.failing = True
        for _ in range(2):  # the warm path, then (hint forgotten or not) again
            response = await api.client.get(FETCH, headers=api.auth())
            assert response.status_code == 503
            assert response.json()["error"] == "storage_unavailable"
            assert seeded.primary.reveal() not in response.text
        api.world.revoke(seeded.primary)  # the cold path: promotion, then the audit write fails
        cold = await api.client.get(FETCH, headers=api.auth())
        assert cold.status_code == 503
        assert all(s.reveal() not in cold.text for s in seeded.backups)
        batch = await api.client.post("/archived-clients/batch-fetch", json={"mobiles": [PHONE]}, headers=api.auth())
        assert batch.status_code == 200
        assert batch.json()["results"][0]["error"]["error"] == "storage_unavailable"
        assert batch.json()["results"][0]["session"] is None
        assert all(s.reveal() not in batch.text for s in seeded.all_strings())


async def test_batch_fetch_gives_one_result_or_error_per_phone(api: Api) -> None:
    seeded = await api.seed()
    response = await api.client.post(
        "/archived-clients/batch-fetch", json={"mobiles": [PHONE, f"+{PHONE}", OTHER, "nope"]}, headers=api.auth()
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["mobile"] for r in results] == [PHONE, OTHER, "nope"]
    assert results[0]["session"] == seeded.primary.reveal() and results[0]["error"] is None
    assert set(results[0]) == {"mobile", "session", "format", "sessionId", "role", "how", "lastUpdated", "createdAt",
                               "updatedAt", "frozen", "error"}  # fmt: skip
    assert results[0]["format"] == "telethon" and results[0]["role"] == "primary" and results[0]["sessionId"]
    assert results[1]["error"]["error"] == "unknown_phone" and results[1]["session"] is None
    assert results[2]["error"]["error"] == "invalid_input"


async def test_batch_fetch_bounds(api: Api) -> None:
    for mobiles in ([], [PHONE] * 51):
        response = await api.client.post("/archived-clients/batch-fetch", json={"mobiles": mobiles}, headers=api.auth())
        assert response.status_code == 422
        assert response.json()["error"] == "validation_error"
        assert response.json()["details"][0]["field"] == "body.mobiles"


async def test_fetch_in_each_layout_reads_back_in_its_library(api: Api) -> None:
    seeded = await api.seed()
    telethon_key = StringSession(seeded.primary.reveal()).auth_key.key
    answers = {}
    for fmt in ("telethon", "gramjs", "pyrogram"):
        response = await api.client.get(FETCH, params={"format": fmt}, headers=api.auth())
        assert response.status_code == 200, response.text
        assert response.json()["format"] == fmt
        answers[fmt] = response.json()["session"]
    default = (await api.client.get(FETCH, headers=api.auth())).json()
    assert default["format"] == "telethon" and default["session"] == seeded.primary.reveal()
    assert StringSession(answers["telethon"]).auth_key.key == telethon_key
    [gram] = load_gramjs([answers["gramjs"]])
    assert isinstance(gram, Loaded) and gram.auth_key == telethon_key
    pyro = await load_pyrogram(answers["pyrogram"])
    assert pyro.auth_key == telethon_key and pyro.user_id == simulated_user_id(PHONE)
    bad = await api.client.get(FETCH, params={"format": "telethon-file"}, headers=api.auth())
    assert bad.status_code == 422 and "format" in bad.text


async def test_pyrogram_output_is_409_while_the_user_id_is_unknown(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A verdict without the account's own user (as an older version cached it) leaves Pyrogram unavailable."""
    await api.seed()
    alive = SimulatedTelegramGateway.validate

    async def without_user(self: SimulatedTelegramGateway, access: SessionAccess) -> Verdict:
        return dataclasses.replace(await alive(self, access), user_id=None)

    monkeypatch.setattr(SimulatedTelegramGateway, "validate", without_user)
    response = await api.client.get(FETCH, params={"format": "pyrogram"}, headers=api.auth())
    assert response.status_code == 409
    assert response.json()["error"] == "format_unavailable" and "user id" in response.json()["message"]
    batch = await api.client.post(
        "/archived-clients/batch-fetch", params={"format": "pyrogram"}, json={"mobiles": [PHONE]}, headers=api.auth()
    )
    [item] = batch.json()["results"]
    assert item["session"] is None and item["error"]["error"] == "format_unavailable"
    assert (await api.client.get(FETCH, params={"format": "gramjs"}, headers=api.auth())).status_code == 200
