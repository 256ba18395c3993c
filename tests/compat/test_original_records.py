"""The ``original`` profile, rows 1-9 of the endpoint table (create, search, list, maintenance check, read, fetch,
PATCH, DELETE, query) and the matching bullets of "Where tgsessions deliberately differs"."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest

from tests.compat.conftest import (
    FRESH,
    OTHER,
    PHONE,
    UNKNOWN,
    CompatApi,
    assert_error,
    assert_no_strings,
    assert_record,
    assert_validation,
    expect,
    fp,
    message_text,
)
from tgsessions.domain.access import Scope

ROOT = "/archived-clients"
SUMMARY = re.compile(r"Archived clients check completed\. Processed: (\d+), Updated: (\d+), Deleted: 0, Errors: (\d+)")


async def _get(api: CompatApi, path: str, key: str | None = None, **params: Any) -> Any:
    return await api.client.get(path, params=params or None, headers=api.headers(key))


# -- row 1: POST /archived-clients -----------------------------------------------------------------------------------


async def test_row_01_create_is_201_with_the_record_and_old_sessions_become_backups(compat_api: CompatApi) -> None:
    primary = compat_api.fresh(PHONE, age=timedelta(days=40))
    backups = [compat_api.fresh(PHONE, age=timedelta(days=31)), compat_api.fresh(PHONE, age=timedelta(days=30))]
    response = await compat_api.client.post(
        ROOT,
        json={"mobile": PHONE, "session": primary.reveal(), "oldSessions": [b.reveal() for b in backups]},
        headers=compat_api.headers(),
    )
    record = assert_record(expect(response, 201))
    assert record["mobile"] == PHONE
    assert fp(record["session"]) == fp(primary)
    assert {fp(s) for s in record["oldSessions"]} == {fp(b) for b in backups}
    old = expect(await _get(compat_api, f"{ROOT}/{PHONE}/old-sessions"), 200)
    assert isinstance(old, list) and all(isinstance(s, str) for s in old)
    assert sorted(fp(s) or "" for s in old) == sorted(fp(b) or "" for b in backups)
    fetched = assert_record(expect(await _get(compat_api, f"{ROOT}/fetch/{PHONE}"), 200))
    assert fp(fetched["session"]) == fp(primary)
    assert {fp(s) for s in fetched["oldSessions"]} == {fp(b) for b in backups}
    assert all(compat_api.world.is_alive(s) for s in [primary, *backups])


async def test_row_01_create_a_duplicate_mobile_is_409_conflict(compat_api: CompatApi) -> None:
    seeded = await compat_api.seed()
    other = compat_api.fresh(PHONE)
    response = await compat_api.client.post(
        ROOT, json={"mobile": PHONE, "session": other.reveal()}, headers=compat_api.headers()
    )
    assert_error(response, 409, "ConflictException")
    assert_no_strings(response.text, [*seeded.all_strings(), other])
    fetched = assert_record(expect(await _get(compat_api, f"{ROOT}/fetch/{PHONE}"), 200))
    assert fp(fetched["session"]) == fp(seeded.primary)


async def test_row_01_create_an_unknown_field_is_400_naming_it_and_stores_nothing(compat_api: CompatApi) -> None:
    session = compat_api.fresh(FRESH)
    response = await compat_api.client.post(
        ROOT, json={"mobile": FRESH, "session": session.reveal(), "foo": 1}, headers=compat_api.headers()
    )
    assert_validation(response, "foo")
    assert_no_strings(response.text, [session])
    unknown = await _get(compat_api, f"{ROOT}/{FRESH}")
    assert unknown.status_code == 200 and unknown.content == b""
    assert_error(await _get(compat_api, f"{ROOT}/fetch/{FRESH}"), 404, "NotFoundException")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["mobile", "session"]),
        ({"mobile": FRESH}, ["session"]),
        ({"session": "x"}, ["mobile"]),
        ({"mobile": FRESH, "session": 42}, ["session"]),
        ({"mobile": FRESH, "session": "<fresh>", "oldSessions": "not-a-list"}, ["oldSessions"]),
        ({"mobile": FRESH, "session": "<fresh>", "oldSessions": [7]}, ["oldSessions"]),
    ],
    ids=["empty", "no-session", "no-mobile", "session-not-string", "old-not-list", "old-not-strings"],
)
async def test_row_01_create_an_invalid_body_is_400_naming_each_bad_field(
    compat_api: CompatApi, body: dict[str, Any], fields: list[str]
) -> None:
    session = compat_api.fresh(FRESH)
    sent = {k: (session.reveal() if v == "<fresh>" else v) for k, v in body.items()}
    response = await compat_api.client.post(ROOT, json=sent, headers=compat_api.headers())
    assert_validation(response, *fields)
    assert_no_strings(response.text, [session])
    assert (await _get(compat_api, f"{ROOT}/{FRESH}")).content == b""


# -- row 2: GET /archived-clients/search -----------------------------------------------------------------------------


async def test_row_02_search_by_mobile_is_an_array_with_that_record(compat_api: CompatApi) -> None:
    seeded, _other = await compat_api.seed_many([PHONE, OTHER])
    found = expect(await _get(compat_api, f"{ROOT}/search", mobile=PHONE), 200)
    assert isinstance(found, list) and len(found) == 1
    record = assert_record(found[0])
    assert record["mobile"] == PHONE
    assert fp(record["session"]) == fp(seeded.primary)
    assert expect(await _get(compat_api, f"{ROOT}/search", mobile=UNKNOWN), 200) == []


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"clientId": "c1"}, "clientId"),
        ({"mobile": PHONE, "firstName": "Ann"}, "firstName"),
        ({"dbcoll": "x"}, "dbcoll"),
        ({"session": "1A"}, "session"),
    ],
    ids=["clientId", "mobile-and-firstName", "dbcoll", "session"],
)
async def test_row_02_search_any_other_query_key_is_400_naming_it(
    compat_api: CompatApi, params: dict[str, str], bad: str
) -> None:
    seeded = await compat_api.seed()
    response = await _get(compat_api, f"{ROOT}/search", **params)
    assert_validation(response, bad)
    assert_no_strings(response.text, seeded.all_strings())


# -- row 3: GET /archived-clients ------------------------------------------------------------------------------------


async def test_row_03_list_is_an_array_of_every_record(compat_api: CompatApi) -> None:
    assert expect(await _get(compat_api, ROOT), 200) == []
    seeded = {s.phone: s for s in await compat_api.seed_many([PHONE, OTHER])}
    response = await _get(compat_api, ROOT)
    records = expect(response, 200)
    assert isinstance(records, list)
    assert sorted(r.get("mobile") for r in records) == sorted(seeded)
    for record in records:
        assert_record(record)
        assert fp(record["session"]) == fp(seeded[record["mobile"]].primary)
    assert_no_strings(response.text, [s.keeper for s in seeded.values() if s.keeper])


async def test_diff_list_without_sessions_read_holds_no_session_string(compat_api: CompatApi) -> None:
    seeded = await compat_api.seed_many([PHONE, OTHER])
    key = await compat_api.key(Scope.STATUS_READ, name="status")
    response = await _get(compat_api, ROOT, key)
    records = expect(response, 200)
    assert sorted(r.get("mobile") for r in records) == sorted([PHONE, OTHER])
    for record in records:
        assert_record(record, strings=False)
    assert_no_strings(response.text, [s for one in seeded for s in one.all_strings()])


# -- row 4: GET /archived-clients/maintenance/check-archived-clients -------------------------------------------------


async def test_row_04_maintenance_check_is_the_summary_text_and_never_deletes(compat_api: CompatApi) -> None:
    alive, dead = await compat_api.seed_many([PHONE, OTHER])
    for secret in dead.all_strings():
        compat_api.world.revoke(secret)
    admin = await compat_api.key(Scope.ADMIN, name="admin")
    response = await _get(compat_api, f"{ROOT}/maintenance/check-archived-clients", admin)
    assert response.status_code == 200
    assert SUMMARY.fullmatch(response.text.strip()), "not the summary text"
    assert_no_strings(response.text, [*alive.all_strings(), *dead.all_strings()])
    listed = expect(await _get(compat_api, ROOT), 200)
    assert sorted(r.get("mobile") for r in listed) == sorted([PHONE, OTHER])
    for phone in (PHONE, OTHER):  # every account, the one with only dead sessions included, is still there
        record = expect(await _get(compat_api, f"{ROOT}/{phone}"), 200)
        assert isinstance(record, dict) and record.get("mobile") == phone
    fetched = assert_record(expect(await _get(compat_api, f"{ROOT}/fetch/{PHONE}"), 200))
    assert compat_api.world.is_alive(fetched["session"])


async def test_row_04_after_the_check_an_account_with_only_dead_sessions_keeps_the_record_shape(
    compat_api: CompatApi,
) -> None:
    dead = await compat_api.seed(OTHER)
    for secret in dead.all_strings():
        compat_api.world.revoke(secret)
    expect(await _get(compat_api, f"{ROOT}/maintenance/check-archived-clients"), 200)
    response = await _get(compat_api, f"{ROOT}/{OTHER}")
    record = assert_record(expect(response, 200))  # session: a string (never null), as the original's callers read it
    assert record["mobile"] == OTHER
    assert_no_strings(response.text, [dead.keeper] if dead.keeper else [])


# -- row 5: GET /archived-clients/{mobile} ---------------------------------------------------------------------------


async def test_row_05_get_is_the_record_with_strings_and_audited(compat_api: CompatApi) -> None:
    seeded = await compat_api.seed()
    before = await compat_api.handed_out()
    response = await _get(compat_api, f"{ROOT}/{PHONE}")
    record = assert_record(expect(response, 200))
    assert record["mobile"] == PHONE
    assert fp(record["session"]) == fp(seeded.primary)
    assert {fp(s) for s in record["oldSessions"]} == {fp(b) for b in seeded.backups}
    assert seeded.keeper is not None
    assert_no_strings(response.text, [seeded.keeper])
    assert await compat_api.handed_out() > before, "handing out strings was not audited"


async def test_row_05_get_unknown_is_200_with_an_empty_body(compat_api: CompatApi) -> None:
    await compat_api.seed()
    for phone in (UNKNOWN, FRESH):
        response = await _get(compat_api, f"{ROOT}/{phone}")
        assert response.status_code == 200
        assert response.content == b""
        assert response.headers.get("content-length", "0") == "0"


async def test_diff_get_without_sessions_read_is_the_record_minus_strings(compat_api: CompatApi) -> None:
    seeded = await compat_api.seed()
    key = await compat_api.key(Scope.STATUS_READ, name="status")
    before = await compat_api.handed_out()
    response = await _get(compat_api, f"{ROOT}/{PHONE}", key)
    record = assert_record(expect(response, 200), strings=False)
    assert record["mobile"] == PHONE
    assert_no_strings(response.text, seeded.all_strings())
    assert await compat_api.handed_out() == before  # nothing was handed out


# -- row 6: GET /archived-clients/fetch/{mobile} ---------------------------------------------------------------------


async def test_row_06_fetch_is_the_record_with_a_live_session(compat_api: CompatApi) -> None:
    seeded = await compat_api.seed()
    response = await _get(compat_api, f"{ROOT}/fetch/{PHONE}")
    record = assert_record(expect(response, 200))
    assert record["mobile"] == PHONE
    assert fp(record["session"]) == fp(seeded.primary)
    assert compat_api.world.is_alive(record["session"])
    assert seeded.keeper is not None
    assert_no_strings(response.text, [seeded.keeper])


async def test_row_06_fetch_promotes_a_backup_when_the_primary_was_revoked(compat_api: CompatApi) -> None:
    seeded = await compat_api.seed()
    compat_api.world.revoke(seeded.primary)
    record = assert_record(expect(await _get(compat_api, f"{ROOT}/fetch/{PHONE}"), 200))
    assert fp(record["session"]) in {fp(b) for b in seeded.backups}
    assert compat_api.world.is_alive(record["session"])
    again = assert_record(expect(await _get(compat_api, f"{ROOT}/{PHONE}"), 200))
    assert fp(again["session"]) == fp(record["session"])  # the promotion was stored


async def test_diff_fetch_an_unknown_phone_is_404(compat_api: CompatApi) -> None:
    await compat_api.seed()
    compat_api.fresh(FRESH)  # Telegram knows it, tgsessions does not: no account is made from nothing
    for phone in (UNKNOWN, FRESH):
        assert_error(await _get(compat_api, f"{ROOT}/fetch/{phone}"), 404, "NotFoundException")
    assert compat_api.world.login_attempts(FRESH) == 0
    assert (await _get(compat_api, f"{ROOT}/{FRESH}")).content == b""


# -- row 7: PATCH /archived-clients/{mobile} -------------------------------------------------------------------------


async def test_row_07_patch_a_live_session_makes_it_primary(compat_api: CompatApi) -> None:
    seeded = await compat_api.seed()
    new = compat_api.fresh(PHONE)
    response = await compat_api.client.patch(
        f"{ROOT}/{PHONE}", json={"session": new.reveal()}, headers=compat_api.headers()
    )
    record = assert_record(expect(response, 200))
    assert record["mobile"] == PHONE
    assert fp(record["session"]) == fp(new)
    assert fp(seeded.primary) in {fp(s) for s in record["oldSessions"]}
    fetched = assert_record(expect(await _get(compat_api, f"{ROOT}/fetch/{PHONE}"), 200))
    assert fp(fetched["session"]) == fp(new)


@pytest.mark.parametrize(
    ("make", "bad"),
    [
        (lambda s: {"session": s, "firstName": "Ann"}, "firstName"),
        (lambda s: {"session": s, "mobile": OTHER}, "mobile"),
        (lambda s: {"$set": {"session": s}}, "$set"),
        (lambda s: {"session": s, "$where": "1"}, "$where"),
        (lambda s: {"session": s, "oldSessions": []}, "oldSessions"),
    ],
    ids=["firstName", "mobile", "$set", "$where", "oldSessions"],
)
async def test_row_07_patch_other_or_dollar_fields_are_400(compat_api: CompatApi, make: Any, bad: str) -> None:
    seeded = await compat_api.seed()
    new = compat_api.fresh(PHONE)
    response = await compat_api.client.patch(f"{ROOT}/{PHONE}", json=make(new.reveal()), headers=compat_api.headers())
    assert_validation(response, bad)
    assert_no_strings(response.text, [*seeded.all_strings(), new])
    fetched = assert_record(expect(await _get(compat_api, f"{ROOT}/fetch/{PHONE}"), 200))
    assert fp(fetched["session"]) == fp(seeded.primary)  # nothing changed


@pytest.mark.parametrize("kind", ["dead", "other-phone"])
async def test_row_07_patch_a_dead_or_foreign_session_is_400(compat_api: CompatApi, kind: str) -> None:
    seeded = await compat_api.seed()
    if kind == "dead":
        candidate = compat_api.fresh(PHONE)
        compat_api.world.revoke(candidate)
    else:
        candidate = compat_api.fresh(FRESH)
    response = await compat_api.client.patch(
        f"{ROOT}/{PHONE}", json={"session": candidate.reveal()}, headers=compat_api.headers()
    )
    assert_error(response, 400, "BadRequestException")
    assert_no_strings(response.text, [*seeded.all_strings(), candidate])
    fetched = assert_record(expect(await _get(compat_api, f"{ROOT}/fetch/{PHONE}"), 200))
    assert fp(fetched["session"]) == fp(seeded.primary)


async def test_diff_patch_an_unknown_phone_is_404_not_an_upsert(compat_api: CompatApi) -> None:
    session = compat_api.fresh(FRESH)
    response = await compat_api.client.patch(
        f"{ROOT}/{FRESH}", json={"session": session.reveal()}, headers=compat_api.headers()
    )
    assert_error(response, 404, "NotFoundException")
    assert_no_strings(response.text, [session])
    assert (await _get(compat_api, f"{ROOT}/{FRESH}")).content == b""
    assert_error(await _get(compat_api, f"{ROOT}/fetch/{FRESH}"), 404)


# -- row 8: DELETE /archived-clients/{mobile} ------------------------------------------------------------------------


async def test_row_08_delete_returns_the_record_and_the_account_is_gone(compat_api: CompatApi) -> None:
    seeded, other = await compat_api.seed_many([PHONE, OTHER])
    response = await compat_api.client.delete(f"{ROOT}/{PHONE}", headers=compat_api.headers())
    body = expect(response, 200)
    assert isinstance(body, dict) and body.get("mobile") == PHONE
    ids = body.get("deletedSessionIds")
    assert isinstance(ids, list) and all(isinstance(i, str) and i for i in ids), "deletedSessionIds: list[str]"
    assert len(ids) == len(set(ids)) == len(seeded.all_strings())  # primary, keeper and backups, each accounted for
    assert_no_strings(json.dumps(ids), seeded.all_strings())  # ids, never strings
    assert_error(await _get(compat_api, f"{ROOT}/fetch/{PHONE}"), 404, "NotFoundException")
    gone = await _get(compat_api, f"{ROOT}/{PHONE}")
    assert gone.status_code == 200 and gone.content == b""
    assert [r.get("mobile") for r in expect(await _get(compat_api, ROOT), 200)] == [OTHER]
    assert all(compat_api.world.is_alive(s) for s in seeded.all_strings())  # not revoked unless asked
    assert all(compat_api.world.is_alive(s) for s in other.all_strings())


async def test_diff_delete_with_revoke_terminates_the_sessions_at_telegram(compat_api: CompatApi) -> None:
    seeded = await compat_api.seed()
    response = await compat_api.client.delete(
        f"{ROOT}/{PHONE}", params={"revoke": "true"}, headers=compat_api.headers()
    )
    body = expect(response, 200)
    assert isinstance(body, dict) and body.get("mobile") == PHONE
    ids = body.get("deletedSessionIds")
    assert isinstance(ids, list) and len(ids) == len(seeded.all_strings())
    for secret in seeded.all_strings():
        found = compat_api.world.find(secret)
        assert found is not None and found.alive is False, "a session of the deleted account is still alive"
    assert_error(await _get(compat_api, f"{ROOT}/fetch/{PHONE}"), 404)


async def test_row_08_delete_an_unknown_phone_is_404(compat_api: CompatApi) -> None:
    await compat_api.seed()
    assert_error(await compat_api.client.delete(f"{ROOT}/{UNKNOWN}", headers=compat_api.headers()), 404,
                 "NotFoundException")  # fmt: skip
    assert_record(expect(await _get(compat_api, f"{ROOT}/{PHONE}"), 200))


# -- row 9: POST /archived-clients/query -----------------------------------------------------------------------------


async def test_row_09_query_by_mobile_is_201_with_a_record_array(compat_api: CompatApi) -> None:
    seeded, _other = await compat_api.seed_many([PHONE, OTHER])
    response = await compat_api.client.post(f"{ROOT}/query", json={"mobile": PHONE}, headers=compat_api.headers())
    found = expect(response, 201)
    assert isinstance(found, list) and len(found) == 1
    record = assert_record(found[0])
    assert record["mobile"] == PHONE and fp(record["session"]) == fp(seeded.primary)
    none = await compat_api.client.post(f"{ROOT}/query", json={"mobile": UNKNOWN}, headers=compat_api.headers())
    assert expect(none, 201) == []


async def test_row_09_query_an_empty_filter_is_400(compat_api: CompatApi) -> None:
    await compat_api.seed()
    response = await compat_api.client.post(f"{ROOT}/query", json={}, headers=compat_api.headers())
    body = assert_error(response, 400, "BadRequestException")
    assert "Query cannot be empty" in message_text(body)


@pytest.mark.parametrize(
    ("query", "bad"),
    [
        ({"$where": "1"}, "$where"),
        ({"session": {"$regex": "^1"}}, "session"),
        ({"mobile": {"$ne": ""}}, "mobile"),
        ({"mobile": {"$regex": "^7"}}, "mobile"),
        ({"firstName": "Ann"}, "firstName"),
        ({"mobile": PHONE, "oldSessions": {"$exists": True}}, "oldSessions"),
        ({"$or": [{"mobile": PHONE}]}, "$or"),
    ],
    ids=["$where", "session-regex", "mobile-ne", "mobile-regex", "firstName", "oldSessions-exists", "$or"],
)
async def test_diff_query_operators_and_other_fields_are_400(
    compat_api: CompatApi, query: dict[str, Any], bad: str
) -> None:
    seeded = await compat_api.seed()
    response = await compat_api.client.post(f"{ROOT}/query", json=query, headers=compat_api.headers())
    assert_validation(response, bad)
    assert_no_strings(response.text, seeded.all_strings())
