"""Request bodies validate strictly under the ``original`` profile too: no bool, float or string for a number, no
number for a string. ``{"maxSessions": false}`` once read as 0 and revoked every backup; now it is 400 naming the
field (the ValidationPipe's shape), and nothing is revoked. Valid bodies still work."""

from __future__ import annotations

import pytest

from tests.compat.conftest import (
    FRESH,
    PHONE,
    CompatApi,
    assert_record,
    assert_validation,
    expect,
    fp,
)

ROOT = "/archived-clients"


@pytest.mark.parametrize("value", [False, True, 3.0, "3"], ids=["false", "true", "float", "string"])
async def test_cleanup_refuses_a_max_sessions_of_another_type_and_revokes_nothing(
    compat_api: CompatApi, value: object
) -> None:
    seeded = await compat_api.seed(backups=3)
    response = await compat_api.client.post(
        f"{ROOT}/{PHONE}/cleanup-sessions", json={"maxSessions": value}, headers=compat_api.headers()
    )
    assert_validation(response, "maxSessions")
    assert all(compat_api.world.is_alive(s) for s in seeded.all_strings())
    assert len(await compat_api.runtime.factory.list_backups(PHONE)) == 3


async def test_cleanup_with_an_integer_still_works(compat_api: CompatApi) -> None:
    await compat_api.seed(backups=3)
    response = await compat_api.client.post(
        f"{ROOT}/{PHONE}/cleanup-sessions", json={"maxSessions": 1}, headers=compat_api.headers()
    )
    record = assert_record(expect(response, 201))
    assert len(record["oldSessions"]) <= 1


@pytest.mark.parametrize("mobiles", [[79990000001], [True], [PHONE, 7.5]], ids=["int", "bool", "float"])
async def test_batch_fetch_refuses_a_number_for_a_phone(compat_api: CompatApi, mobiles: list[object]) -> None:
    await compat_api.seed()
    before = await compat_api.handed_out()
    response = await compat_api.client.post(f"{ROOT}/batch-fetch", json={"mobiles": mobiles},
                                            headers=compat_api.headers())  # fmt: skip
    assert_validation(response, "mobiles")
    assert await compat_api.handed_out() == before


@pytest.mark.parametrize(
    "body",
    [
        {"mobile": 79160000001},
        {"oldSessions": [1]},
        {"format": 1},
    ],
    ids=["mobile-int", "old-session-int", "format-int"],
)
async def test_create_refuses_other_types_and_stores_nothing(compat_api: CompatApi, body: dict[str, object]) -> None:
    session = compat_api.fresh(FRESH)
    sent = {"mobile": FRESH, "session": session.reveal(), **body}
    response = await compat_api.client.post(ROOT, json=sent, headers=compat_api.headers())
    assert_validation(response, next(iter(body)))
    assert session.reveal() not in response.text
    assert await compat_api.runtime.factory.list_accounts(limit=10) == []


async def test_create_with_a_format_string_still_works(compat_api: CompatApi) -> None:
    session = compat_api.fresh(FRESH)
    response = await compat_api.client.post(
        ROOT, json={"mobile": FRESH, "session": session.reveal(), "format": "telethon"}, headers=compat_api.headers()
    )
    record = assert_record(expect(response, 201))
    assert record["mobile"] == FRESH and fp(record["session"]) == fp(session)


@pytest.mark.parametrize(("method", "path", "field"), [("PUT", "/session", "newSession"), ("PATCH", "", "session")])
async def test_a_number_for_a_session_is_refused(compat_api: CompatApi, method: str, path: str, field: str) -> None:
    seeded = await compat_api.seed()
    response = await compat_api.client.request(method, f"{ROOT}/{PHONE}{path}", json={field: 12345},
                                               headers=compat_api.headers())  # fmt: skip
    assert_validation(response, field)
    assert fp((await compat_api.runtime.factory.fetch_one(PHONE)).session) == fp(seeded.primary)  # unchanged
