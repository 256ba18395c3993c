"""The ``original`` profile, rows 10-15 of the endpoint table (PUT session, old sessions, cleanup, session status,
batch fetch, cache stats) and the matching bullets of "Where tgsessions deliberately differs"."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.compat.conftest import (
    FRESH,
    OTHER,
    PHONE,
    UNKNOWN,
    CompatApi,
    assert_error,
    assert_iso,
    assert_no_strings,
    assert_record,
    assert_validation,
    expect,
    fp,
    message_text,
)
from tgsessions.domain.access import Scope

ROOT = "/archived-clients"
AGE = re.compile(r"^(just now|\d+ (second|minute|hour|day|week|month|year)s? ago)$")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


async def _fetched_primary(api: CompatApi, phone: str = PHONE) -> str | None:
    record = assert_record(expect(await api.client.get(f"{ROOT}/fetch/{phone}", headers=api.headers()), 200))
    return fp(record["session"])


# -- row 10: PUT /archived-clients/{mobile}/session ------------------------------------------------------------------


async def test_row_10_put_a_live_session_makes_it_primary(compat_api: CompatApi) -> None:
    seeded = await compat_api.seed()
    new = compat_api.fresh(PHONE)
    response = await compat_api.client.put(
        f"{ROOT}/{PHONE}/session", json={"newSession": new.reveal()}, headers=compat_api.headers()
    )
    record = assert_record(expect(response, 200))
    assert record["mobile"] == PHONE
    assert fp(record["session"]) == fp(new)
    assert fp(seeded.primary) in {fp(s) for s in record["oldSessions"]}
    assert await _fetched_primary(compat_api) == fp(new)


@pytest.mark.parametrize(
    "body", [{"newSession": ""}, {}, {"newSession": 42}, {"session": "x"}], ids=["empty", "missing", "int", "other"]
)
async def test_row_10_put_an_empty_or_missing_new_session_is_400(compat_api: CompatApi, body: dict[str, Any]) -> None:
    seeded = await compat_api.seed()
    response = await compat_api.client.put(f"{ROOT}/{PHONE}/session", json=body, headers=compat_api.headers())
    assert_validation(response, "newSession")
    assert_no_strings(response.text, seeded.all_strings())
    assert await _fetched_primary(compat_api) == fp(seeded.primary)


@pytest.mark.parametrize("kind", ["dead", "other-phone"])
async def test_diff_put_a_dead_or_foreign_session_is_400(compat_api: CompatApi, kind: str) -> None:
    seeded = await compat_api.seed()
    if kind == "dead":
        candidate = compat_api.fresh(PHONE)
        compat_api.world.revoke(candidate)
    else:
        candidate = compat_api.fresh(FRESH)
    response = await compat_api.client.put(
        f"{ROOT}/{PHONE}/session", json={"newSession": candidate.reveal()}, headers=compat_api.headers()
    )
    assert_error(response, 400, "BadRequestException")
    assert_no_strings(response.text, [*seeded.all_strings(), candidate])
    assert await _fetched_primary(compat_api) == fp(seeded.primary)  # not stored, unlike the original


async def test_row_10_put_an_unknown_phone_is_404(compat_api: CompatApi) -> None:
    session = compat_api.fresh(FRESH)
    response = await compat_api.client.put(
        f"{ROOT}/{FRESH}/session", json={"newSession": session.reveal()}, headers=compat_api.headers()
    )
    assert_error(response, 404, "NotFoundException")
    assert (await compat_api.client.get(f"{ROOT}/{FRESH}", headers=compat_api.headers())).content == b""


# -- row 11: GET /archived-clients/{mobile}/old-sessions -------------------------------------------------------------


async def test_row_11_old_sessions_are_the_backup_strings_each_hand_out_audited(compat_api: CompatApi) -> None:
    seeded = await compat_api.seed(backups=3)
    reader = await compat_api.key(Scope.SESSIONS_READ, name="reader")
    counts = [await compat_api.handed_out()]
    for _ in range(2):
        response = await compat_api.client.get(f"{ROOT}/{PHONE}/old-sessions", headers=compat_api.headers(reader))
        old = expect(response, 200)
        assert isinstance(old, list) and all(isinstance(s, str) for s in old), "not a list of strings"
        assert sorted(fp(s) or "" for s in old) == sorted(fp(b) or "" for b in seeded.backups)
        assert seeded.keeper is not None
        assert_no_strings(response.text, [seeded.primary, seeded.keeper])
        counts.append(await compat_api.handed_out())
    assert counts[0] < counts[1] < counts[2], "a hand-out of old sessions was not audited"


async def test_diff_old_sessions_without_sessions_read_is_403(compat_api: CompatApi) -> None:
    seeded = await compat_api.seed()
    key = await compat_api.key(Scope.STATUS_READ, Scope.SESSIONS_WRITE, Scope.ADMIN, name="no-strings")
    before = await compat_api.handed_out()
    response = await compat_api.client.get(f"{ROOT}/{PHONE}/old-sessions", headers=compat_api.headers(key))
    assert_error(response, 403, "ForbiddenException")
    assert_no_strings(response.text, seeded.all_strings())
    assert await compat_api.handed_out() == before


async def test_row_11_old_sessions_of_an_unknown_phone_is_404(compat_api: CompatApi) -> None:
    response = await compat_api.client.get(f"{ROOT}/{UNKNOWN}/old-sessions", headers=compat_api.headers())
    assert_error(response, 404, "NotFoundException")


# -- row 12: POST /archived-clients/{mobile}/cleanup-sessions --------------------------------------------------------


async def test_row_12_cleanup_keeps_at_most_max_sessions_live_ones(compat_api: CompatApi) -> None:
    seeded = await compat_api.seed(backups=5)
    compat_api.world.revoke(seeded.backups[1])
    response = await compat_api.client.post(
        f"{ROOT}/{PHONE}/cleanup-sessions", json={"maxSessions": 2}, headers=compat_api.headers()
    )
    record = assert_record(expect(response, 201))
    assert record["mobile"] == PHONE
    assert len(record["oldSessions"]) <= 2
    assert fp(seeded.backups[1]) not in {fp(s) for s in record["oldSessions"]}  # the dead one went first
    assert all(compat_api.world.is_alive(s) for s in record["oldSessions"])
    assert fp(record["session"]) == fp(seeded.primary)
    assert_iso(record.get("lastCleanup"), "record.lastCleanup")
    old = expect(await compat_api.client.get(f"{ROOT}/{PHONE}/old-sessions", headers=compat_api.headers()), 200)
    assert len(old) <= 2


async def test_row_12_cleanup_defaults_to_five(compat_api: CompatApi) -> None:
    await compat_api.seed(backups=7)
    response = await compat_api.client.post(f"{ROOT}/{PHONE}/cleanup-sessions", json={}, headers=compat_api.headers())
    record = assert_record(expect(response, 201))
    assert 0 < len(record["oldSessions"]) <= 5


@pytest.mark.parametrize("value", [99, 21, -1, "many"])
async def test_diff_cleanup_out_of_range_is_400(compat_api: CompatApi, value: object) -> None:
    seeded = await compat_api.seed(backups=3)
    response = await compat_api.client.post(
        f"{ROOT}/{PHONE}/cleanup-sessions", json={"maxSessions": value}, headers=compat_api.headers()
    )
    assert_validation(response, "maxSessions")
    assert all(compat_api.world.is_alive(s) for s in seeded.all_strings())  # nothing was cleaned up
    old = expect(await compat_api.client.get(f"{ROOT}/{PHONE}/old-sessions", headers=compat_api.headers()), 200)
    assert len(old) == 3


async def test_row_12_cleanup_of_an_unknown_phone_is_404(compat_api: CompatApi) -> None:
    response = await compat_api.client.post(
        f"{ROOT}/{UNKNOWN}/cleanup-sessions", json={"maxSessions": 2}, headers=compat_api.headers()
    )
    assert_error(response, 404, "NotFoundException")


# -- row 13: GET /archived-clients/{mobile}/session-status -----------------------------------------------------------


async def test_row_13_session_status_has_the_original_shape(compat_api: CompatApi) -> None:
    seeded = await compat_api.seed(backups=2)
    assert await _fetched_primary(compat_api) == fp(seeded.primary)  # validated once
    response = await compat_api.client.get(f"{ROOT}/{PHONE}/session-status", headers=compat_api.headers())
    body = expect(response, 200)
    assert isinstance(body, dict)
    assert body.get("mobile") == PHONE
    assert body.get("isMainSessionActive") is True
    assert _is_int(body.get("totalOldSessions")) and body["totalOldSessions"] == 2
    assert_iso(body.get("lastChecked"), "lastChecked")
    metrics = body.get("healthMetrics")
    assert isinstance(metrics, dict), f"healthMetrics: {type(metrics).__name__}"
    assert _is_int(metrics.get("activeOldSessions")) and 0 <= metrics["activeOldSessions"] <= 2
    assert_iso(metrics.get("lastUpdated"), "healthMetrics.lastUpdated")
    age = metrics.get("sessionAge")
    assert isinstance(age, str) and AGE.match(age), f"sessionAge: {age!r}"
    assert metrics.get("reliability") in {"high", "medium", "low"}
    assert_no_strings(response.text, seeded.all_strings())


async def test_row_13_session_status_of_an_unknown_phone_is_404(compat_api: CompatApi) -> None:
    response = await compat_api.client.get(f"{ROOT}/{UNKNOWN}/session-status", headers=compat_api.headers())
    assert_error(response, 404, "NotFoundException")


# -- row 14: POST /archived-clients/batch-fetch ----------------------------------------------------------------------


async def test_row_14_batch_fetch_answers_in_the_given_order(compat_api: CompatApi) -> None:
    seeded = {s.phone: s for s in await compat_api.seed_many([PHONE, OTHER])}
    order = [OTHER, UNKNOWN, PHONE]
    response = await compat_api.client.post(
        f"{ROOT}/batch-fetch", json={"mobiles": order}, headers=compat_api.headers()
    )
    items = expect(response, 201)
    assert isinstance(items, list) and [i.get("mobile") for i in items] == order
    for item in items:
        assert isinstance(item, dict) and "client" in item
        if "error" in item:
            assert isinstance(item["error"], str)
    for index in (0, 2):
        record = assert_record(items[index]["client"])
        assert record["mobile"] == order[index]
        assert fp(record["session"]) == fp(seeded[order[index]].primary)
        assert compat_api.world.is_alive(record["session"])
    assert items[1]["client"] is None
    assert isinstance(items[1].get("error"), str) and items[1]["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"mobiles": []}, "Mobile numbers array is required"),
        ({}, "Mobile numbers array is required"),
        ({"mobiles": [f"7916{n:07d}" for n in range(51)]}, "Batch size cannot exceed 50 mobiles"),
    ],
    ids=["empty", "missing", "51"],
)
async def test_row_14_batch_fetch_empty_or_over_fifty_is_400(
    compat_api: CompatApi, body: dict[str, Any], message: str
) -> None:
    await compat_api.seed()
    response = await compat_api.client.post(f"{ROOT}/batch-fetch", json=body, headers=compat_api.headers())
    error = assert_error(response, 400, "BadRequestException")
    assert message in message_text(error)


async def test_row_14_batch_fetch_of_fifty_is_allowed(compat_api: CompatApi) -> None:
    await compat_api.seed()
    mobiles = [PHONE, *(f"7915{n:07d}" for n in range(49))]
    response = await compat_api.client.post(
        f"{ROOT}/batch-fetch", json={"mobiles": mobiles}, headers=compat_api.headers()
    )
    items = expect(response, 201)
    assert [i.get("mobile") for i in items] == mobiles
    assert_record(items[0]["client"])
    assert all(i["client"] is None and isinstance(i.get("error"), str) for i in items[1:])


# -- row 15: GET /archived-clients/health/cache-stats ----------------------------------------------------------------


async def test_row_15_cache_stats_has_the_original_shape(compat_api: CompatApi) -> None:
    await compat_api.seed()
    await _fetched_primary(compat_api)  # a verdict in the cache
    response = await compat_api.client.get(f"{ROOT}/health/cache-stats", headers=compat_api.headers())
    body = expect(response, 200)
    assert isinstance(body, dict)
    for key in ("totalEntries", "validEntries", "expiredEntries"):
        assert _is_int(body.get(key)) and body[key] >= 0, f"{key}: {type(body.get(key)).__name__}"
    rate = body.get("cacheHitRate")
    assert isinstance(rate, str) and re.fullmatch(r"\d+(\.\d+)?%", rate), f"cacheHitRate: {rate!r}"
    assert_iso(body.get("lastCleanup"), "lastCleanup")
