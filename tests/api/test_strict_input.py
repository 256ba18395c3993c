"""Request bodies validate strictly (native profile): no bool, float or string for a number, no number for a
string. ``{"maxSessions": false}`` once read as 0 and revoked every backup; now it is 422 naming the field, and
nothing is revoked. Valid bodies still work, a layout still takes its JSON string."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import PHONE, Api


def refused(response: Any, field: str) -> None:
    assert response.status_code == 422, response.status_code
    body = response.json()
    assert body["error"] == "validation_error"
    assert field in [d["field"] for d in body["details"]], body["details"]


@pytest.mark.parametrize("value", [False, True, 3.0, "3", None], ids=["false", "true", "float", "string", "null"])
async def test_cleanup_refuses_a_max_sessions_of_another_type_and_revokes_nothing(api: Api, value: object) -> None:
    seeded = await api.seed(backups=3)
    response = await api.client.post(
        f"/archived-clients/{PHONE}/cleanup-sessions", json={"maxSessions": value}, headers=api.auth()
    )
    refused(response, "body.maxSessions")
    assert all(api.world.is_alive(s) for s in seeded.all_strings())
    assert len(await api.runtime.factory.list_backups(PHONE)) == 3


async def test_cleanup_with_an_integer_still_works(api: Api) -> None:
    await api.seed(backups=3)
    response = await api.client.post(
        f"/archived-clients/{PHONE}/cleanup-sessions", json={"maxSessions": 1}, headers=api.auth()
    )
    assert response.status_code == 200, response.status_code
    assert response.json()["maxSessions"] == 1
    assert len(await api.runtime.factory.list_backups(PHONE)) <= 1


@pytest.mark.parametrize("mobiles", [[79990000001], [True], [PHONE, 7.5]], ids=["int", "bool", "float"])
async def test_batch_fetch_refuses_a_number_for_a_phone(api: Api, mobiles: list[object]) -> None:
    await api.seed()
    response = await api.client.post("/archived-clients/batch-fetch", json={"mobiles": mobiles}, headers=api.auth())
    refused(response, f"body.mobiles.{len(mobiles) - 1}")


async def test_add_account_refuses_a_number_for_the_phone_and_stores_nothing(api: Api) -> None:
    api.world.add_account(PHONE)
    session = api.world.create_session(PHONE)
    response = await api.client.post(
        "/archived-clients", json={"mobile": int(PHONE), "session": session.reveal()}, headers=api.auth()
    )
    refused(response, "body.mobile")
    assert session.reveal() not in response.text
    assert await api.runtime.factory.list_accounts(limit=10) == []


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"session": 12345}, "body.session"),
        ({"backups": [1]}, "body.backups.0"),
        ({"identity": {"apiId": "42"}}, "body.identity.apiId"),
        ({"identity": {"apiId": 42.0}}, "body.identity.apiId"),
        ({"proxy": {"scheme": "socks5", "host": "127.0.0.1", "port": "1080"}}, "body.proxy.port"),
        ({"proxy": {"scheme": "socks5", "host": "127.0.0.1", "port": True}}, "body.proxy.port"),
        ({"format": 1}, "body.format"),
    ],
    ids=["session-int", "backup-int", "api-id-string", "api-id-float", "port-string", "port-bool", "format-int"],
)
async def test_add_account_refuses_other_types_in_nested_fields(api: Api, extra: dict[str, Any], field: str) -> None:
    api.world.add_account(PHONE)
    body = {"mobile": PHONE, "session": api.world.create_session(PHONE).reveal(), **extra}
    response = await api.client.post("/archived-clients", json=body, headers=api.auth())
    refused(response, field)
    assert await api.runtime.factory.list_accounts(limit=10) == []


async def test_add_account_with_valid_types_and_a_format_string_still_works(api: Api) -> None:
    api.world.add_account(PHONE)
    body = {
        "mobile": PHONE,
        "session": api.world.create_session(PHONE).reveal(),
        "backups": [api.world.create_session(PHONE).reveal()],
        "format": "telethon",
        "identity": {"apiId": 42, "deviceModel": "box"},
        "proxy": {"scheme": "socks5", "host": "127.0.0.1", "port": 1080},
    }
    response = await api.client.post("/archived-clients", json=body, headers=api.auth())
    assert response.status_code == 201, response.json().get("message")
    assert response.json()["mobile"] == PHONE


async def test_update_session_takes_a_format_string_and_refuses_a_number_for_the_session(api: Api) -> None:
    await api.seed()
    new = api.world.create_session(PHONE)
    wrong = await api.client.put(f"/archived-clients/{PHONE}/session", json={"newSession": 7}, headers=api.auth())
    refused(wrong, "body.newSession")
    response = await api.client.put(
        f"/archived-clients/{PHONE}/session", json={"newSession": new.reveal(), "format": "telethon"},
        headers=api.auth(),
    )  # fmt: skip
    assert response.status_code == 200, response.json().get("message")
