"""Add, update and cleanup over HTTP: metadata only in the responses, secrets never echoed on bad input."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import OTHER, PHONE, Api

SECRET_MARK = "TOPSECRET-marker-1234"


async def test_add_account_returns_metadata_without_strings(api: Api) -> None:
    world = api.world
    world.add_account(PHONE)
    primary = world.create_session(PHONE, age=timedelta(days=40))
    keeper = world.create_session(PHONE, age=timedelta(days=90))
    backups = [world.create_session(PHONE, age=timedelta(days=30)).reveal()]
    body = {
        "mobile": f"+{PHONE}",
        "session": primary.reveal(),
        "keeperSession": keeper.reveal(),
        "backups": backups,
        "twoFactorPassword": SECRET_MARK,
        "identity": {
            "apiId": 12345,
            "deviceModel": "Pixel 8",
            "systemVersion": "Android 14",
            "appVersion": "10.1",
            "langCode": "en",
            "systemLangCode": "en-US",
        },
        "proxy": {"scheme": "socks5", "host": "proxy.example", "port": 1080, "username": "u", "password": "p4ss"},
    }
    response = await api.client.post("/archived-clients", json=body, headers=api.auth())
    assert response.status_code == 201
    out = response.json()
    assert out["mobile"] == PHONE
    assert sorted(s["role"] for s in out["sessions"]) == ["backup", "keeper", "primary"]
    for secret in (primary.reveal(), keeper.reveal(), *backups, SECRET_MARK, "p4ss"):
        assert secret not in response.text
    fetched = await api.client.get(f"/archived-clients/fetch/{PHONE}", headers=api.auth())
    assert fetched.json()["session"] == primary.reveal()


async def test_add_account_errors(api: Api) -> None:
    await api.seed()
    exists = await api.client.post(
        "/archived-clients",
        json={"mobile": PHONE, "session": api.world.create_session(PHONE).reveal()},
        headers=api.auth(),
    )
    assert exists.status_code == 409
    assert exists.json() == {"error": "account_exists", "message": exists.json()["message"], "mobile": PHONE,
                             "retryAfter": 300}  # fmt: skip
    assert exists.headers["Retry-After"] == "300"
    empty = await api.client.post("/archived-clients", json={"mobile": OTHER}, headers=api.auth())
    assert empty.status_code == 400
    assert empty.json()["error"] == "invalid_input"
    bad_phone = await api.client.post("/archived-clients", json={"mobile": "12", "session": "x"}, headers=api.auth())
    assert bad_phone.status_code == 400


async def test_validation_errors_never_echo_secrets(api: Api) -> None:
    await api.seed()
    attempts = [
        ("PUT", f"/archived-clients/{PHONE}/session", {"newSession": {"nested": SECRET_MARK}}),
        ("PUT", f"/archived-clients/{PHONE}/session", {"newSession": SECRET_MARK * 300}),
        ("PUT", f"/archived-clients/{PHONE}/session", {"newsession": SECRET_MARK}),
        ("POST", "/archived-clients", {"mobile": OTHER, "twoFactorPassword": [SECRET_MARK]}),
        ("POST", "/archived-clients", {"mobile": OTHER, "session": SECRET_MARK, "backups": SECRET_MARK}),
        ("POST", "/archived-clients", {"mobile": OTHER, "session": SECRET_MARK, "proxy": {"password": SECRET_MARK}}),
    ]
    for method, path, body in attempts:
        response = await api.client.request(method, path, json=body, headers=api.auth())
        assert response.status_code == 422, response.text
        assert SECRET_MARK not in response.text
        out = response.json()
        assert out["error"] == "validation_error"
        assert all(set(d) == {"field", "message"} for d in out["details"])
    broken = await api.client.put(
        f"/archived-clients/{PHONE}/session",
        content=b'{"newSession": "' + SECRET_MARK.encode() + b'"',
        headers={**api.auth(), "Content-Type": "application/json"},
    )
    assert broken.status_code == 422
    assert SECRET_MARK not in broken.text


async def test_update_promotes_a_new_live_session(api: Api) -> None:
    seeded = await api.seed()
    fresh = api.world.create_session(PHONE, age=timedelta(days=2))
    response = await api.client.put(
        f"/archived-clients/{PHONE}/session", json={"newSession": fresh.reveal()}, headers=api.auth()
    )
    assert response.status_code == 200, response.text
    meta = response.json()
    assert meta["role"] == "primary" and meta["origin"] == "manual"
    assert fresh.reveal() not in response.text
    fetched = await api.client.get(f"/archived-clients/fetch/{PHONE}", headers=api.auth())
    assert fetched.json()["session"] == fresh.reveal()
    assert set(meta) == {"sessionId", "role", "origin", "createdAt", "roleSince", "age", "verdict", "verdictReason",
                         "verdictAt", "breakerOpenUntil"}  # fmt: skip
    backups = (await api.client.get(f"/archived-clients/{PHONE}/old-sessions", headers=api.auth())).json()
    assert backups[0]["sessionId"] != meta["sessionId"]
    assert seeded.primary.reveal() not in str(backups)


async def test_update_rejects_dead_or_foreign_sessions_with_422(api: Api) -> None:
    await api.seed()
    dead = api.world.create_session(PHONE)
    api.world.revoke(dead)
    api.world.add_account(OTHER)
    foreign = api.world.create_session(OTHER)
    for string in (dead, foreign):
        response = await api.client.put(
            f"/archived-clients/{PHONE}/session", json={"newSession": string.reveal()}, headers=api.auth()
        )
        assert response.status_code == 422
        assert response.json()["error"] == "session_rejected"
        assert string.reveal() not in response.text
    unknown = await api.client.put(
        "/archived-clients/79990000000/session", json={"newSession": foreign.reveal()}, headers=api.auth()
    )
    assert unknown.status_code == 404
    junk = await api.client.put(f"/archived-clients/{PHONE}/session", json={"newSession": "x"}, headers=api.auth())
    assert junk.status_code == 422 and junk.json()["error"] == "unknown_session_format"
    assert "telethon, gramjs, pyrogram" in junk.json()["message"]


async def test_cleanup_default_and_limit(api: Api) -> None:
    seeded = await api.seed(backups=3)
    api.world.revoke(seeded.backups[2])
    default = await api.client.post(f"/archived-clients/{PHONE}/cleanup-sessions", headers=api.auth())
    assert default.status_code == 200, default.text
    report = default.json()
    assert report["mobile"] == PHONE and report["maxSessions"] == 5
    assert len(report["retiredDead"]) == 1
    limited = await api.client.post(
        f"/archived-clients/{PHONE}/cleanup-sessions", json={"maxSessions": 0}, headers=api.auth()
    )
    assert limited.status_code == 200
    assert limited.json()["maxSessions"] == 0
    assert len(limited.json()["revoked"]) + len(limited.json()["deferred"]) == 2
    too_many = await api.client.post(
        f"/archived-clients/{PHONE}/cleanup-sessions", json={"maxSessions": 21}, headers=api.auth()
    )
    assert too_many.status_code == 422
    assert too_many.json()["details"][0]["field"] == "body.maxSessions"
