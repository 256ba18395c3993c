"""The PostgreSQL smoke path of the ``original`` profile: its main rows, end to end, on PostgreSQL.

Every other test of tests/compat runs on SQLite; these drive the compat app on the PostgreSQL test database: the 15
rows of the endpoint table (create, search, list, maintenance check, read, fetch, PATCH, DELETE, query, PUT session,
old sessions, cleanup, session status, batch fetch, cache stats), the three ways of sending a key with the scopes
they carry, and a GramJS string coming back as the text it was stored as. Select them alone with
``-m postgresql_smoke``.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from tests.compat.conftest import (
    FRESH,
    OTHER,
    PHONE,
    UNKNOWN,
    CompatApi,
    as_gramjs,
    assert_error,
    assert_iso,
    assert_no_strings,
    assert_record,
    expect,
    fp,
    gramjs_is_alive,
)
from tests.support.db_fixtures import on_backends
from tgsessions.domain.access import Scope
from tgsessions.domain.ports import Database

pytestmark = [pytest.mark.postgresql_smoke, on_backends("postgresql", fixture="sql_database")]

ROOT = "/archived-clients"
FETCH = f"{ROOT}/fetch/{PHONE}"
SUMMARY = re.compile(r"Archived clients check completed\. Processed: (\d+), Updated: (\d+), Deleted: 0, Errors: (\d+)")


async def test_pg_smoke_original_rows_1_to_9(compat_api: CompatApi, sql_database: Database) -> None:
    assert sql_database.backend == "postgresql"
    api = compat_api
    # row 1: create, old sessions become backups
    primary = api.fresh(PHONE, age=timedelta(days=40))
    backups = [api.fresh(PHONE, age=timedelta(days=31)), api.fresh(PHONE, age=timedelta(days=30))]
    created = await api.client.post(
        ROOT,
        json={"mobile": PHONE, "session": primary.reveal(), "oldSessions": [b.reveal() for b in backups]},
        headers=api.headers(),
    )
    record = assert_record(expect(created, 201))
    assert record["mobile"] == PHONE and fp(record["session"]) == fp(primary)
    assert {fp(s) for s in record["oldSessions"]} == {fp(b) for b in backups}
    duplicate = await api.client.post(
        ROOT, json={"mobile": PHONE, "session": api.fresh(PHONE).reveal()}, headers=api.headers()
    )
    assert_error(duplicate, 409, "ConflictException")
    other = await api.seed(OTHER)

    # row 2: search by mobile; row 3: list every record; row 9: query by mobile
    found = expect(await api.client.get(f"{ROOT}/search", params={"mobile": PHONE}, headers=api.headers()), 200)
    assert [fp(assert_record(r)["session"]) for r in found] == [fp(primary)]
    assert expect(await api.client.get(f"{ROOT}/search", params={"mobile": UNKNOWN}, headers=api.headers()), 200) == []
    listed = expect(await api.client.get(ROOT, headers=api.headers()), 200)
    assert sorted(assert_record(r)["mobile"] for r in listed) == sorted([PHONE, OTHER])
    queried = expect(await api.client.post(f"{ROOT}/query", json={"mobile": OTHER}, headers=api.headers()), 201)
    assert [fp(assert_record(r)["session"]) for r in queried] == [fp(other.primary)]

    # row 5: read, audited; unknown is 200 with an empty body
    before = await api.handed_out()
    read = assert_record(expect(await api.client.get(f"{ROOT}/{PHONE}", headers=api.headers()), 200))
    assert fp(read["session"]) == fp(primary) and await api.handed_out() > before
    unknown = await api.client.get(f"{ROOT}/{UNKNOWN}", headers=api.headers())
    assert unknown.status_code == 200 and unknown.content == b""

    # row 6: fetch a live primary; a revoked primary promotes a backup, and the promotion is stored
    fetched = assert_record(expect(await api.client.get(FETCH, headers=api.headers()), 200))
    assert fp(fetched["session"]) == fp(primary)
    api.world.revoke(primary)
    api.clock.advance(301)  # past the verdict cache
    promoted = assert_record(expect(await api.client.get(FETCH, headers=api.headers()), 200))
    assert fp(promoted["session"]) in {fp(b) for b in backups} and api.world.is_alive(promoted["session"])
    again = assert_record(expect(await api.client.get(f"{ROOT}/{PHONE}", headers=api.headers()), 200))
    assert fp(again["session"]) == fp(promoted["session"])
    assert_error(await api.client.get(f"{ROOT}/fetch/{UNKNOWN}", headers=api.headers()), 404, "NotFoundException")

    # row 7: PATCH a live session makes it primary
    new = api.fresh(PHONE)
    patched = assert_record(
        expect(await api.client.patch(f"{ROOT}/{PHONE}", json={"session": new.reveal()}, headers=api.headers()), 200)
    )
    assert fp(patched["session"]) == fp(new) and fp(promoted["session"]) in {fp(s) for s in patched["oldSessions"]}

    # row 4: the maintenance check is the summary text and deletes nothing
    for secret in other.all_strings():
        api.world.revoke(secret)
    check = await api.client.get(f"{ROOT}/maintenance/check-archived-clients", headers=api.headers())
    assert check.status_code == 200 and SUMMARY.fullmatch(check.text.strip()), "not the summary text"
    assert sorted(r["mobile"] for r in expect(await api.client.get(ROOT, headers=api.headers()), 200)) == sorted(
        [PHONE, OTHER]
    )

    # row 8: DELETE returns the record with the ids of what went, and the account is gone
    third = await api.seed(FRESH)
    deleted = expect(await api.client.delete(f"{ROOT}/{FRESH}", headers=api.headers()), 200)
    assert deleted["mobile"] == FRESH
    ids = deleted["deletedSessionIds"]
    assert len(ids) == len(set(ids)) == len(third.all_strings())
    assert_no_strings(json.dumps(ids), third.all_strings())
    gone = await api.client.get(f"{ROOT}/{FRESH}", headers=api.headers())
    assert gone.status_code == 200 and gone.content == b""
    assert_error(await api.client.get(f"{ROOT}/fetch/{FRESH}", headers=api.headers()), 404, "NotFoundException")
    assert sorted(r["mobile"] for r in expect(await api.client.get(ROOT, headers=api.headers()), 200)) == sorted(
        [PHONE, OTHER]
    )
    assert_error(await api.client.delete(f"{ROOT}/{UNKNOWN}", headers=api.headers()), 404, "NotFoundException")


async def test_pg_smoke_original_rows_10_to_15(compat_api: CompatApi) -> None:
    api = compat_api
    seeded = await api.seed(backups=3)
    await api.seed(OTHER)

    # row 10: PUT a live session makes it primary
    new = api.fresh(PHONE)
    put = await api.client.put(f"{ROOT}/{PHONE}/session", json={"newSession": new.reveal()}, headers=api.headers())
    record = assert_record(expect(put, 200))
    assert fp(record["session"]) == fp(new) and fp(seeded.primary) in {fp(s) for s in record["oldSessions"]}

    # row 11: old sessions are the backup strings, each hand-out audited
    before = await api.handed_out()
    old = expect(await api.client.get(f"{ROOT}/{PHONE}/old-sessions", headers=api.headers()), 200)
    assert sorted(fp(s) or "" for s in old) == sorted(fp(s) or "" for s in [seeded.primary, *seeded.backups])
    assert await api.handed_out() > before
    assert seeded.keeper is not None
    assert_no_strings(json.dumps(old), [seeded.keeper, new])

    # row 12: cleanup keeps at most maxSessions live ones, the dead first to go
    api.world.revoke(seeded.backups[1])
    api.clock.advance(301)  # past the verdict cache
    cleaned = assert_record(
        expect(await api.client.post(f"{ROOT}/{PHONE}/cleanup-sessions", json={"maxSessions": 2},
                                     headers=api.headers()), 201)
    )  # fmt: skip
    assert len(cleaned["oldSessions"]) <= 2 and fp(seeded.backups[1]) not in {fp(s) for s in cleaned["oldSessions"]}
    assert all(api.world.is_alive(s) for s in cleaned["oldSessions"]) and fp(cleaned["session"]) == fp(new)
    assert_iso(cleaned.get("lastCleanup"), "record.lastCleanup")

    # row 13: session status in the original's shape
    status = expect(await api.client.get(f"{ROOT}/{PHONE}/session-status", headers=api.headers()), 200)
    assert status["mobile"] == PHONE and status["isMainSessionActive"] is True
    assert status["totalOldSessions"] == len(cleaned["oldSessions"])
    assert_iso(status.get("lastChecked"), "lastChecked")
    assert_iso(status["healthMetrics"].get("lastUpdated"), "healthMetrics.lastUpdated")
    assert status["healthMetrics"]["reliability"] in {"high", "medium", "low"}
    assert_error(await api.client.get(f"{ROOT}/{UNKNOWN}/session-status", headers=api.headers()), 404)

    # row 14: batch fetch answers in the given order, an unknown phone with an error
    order = [OTHER, UNKNOWN, PHONE]
    items = expect(await api.client.post(f"{ROOT}/batch-fetch", json={"mobiles": order}, headers=api.headers()), 201)
    assert [i["mobile"] for i in items] == order
    assert assert_record(items[2]["client"])["mobile"] == PHONE and fp(items[2]["client"]["session"]) == fp(new)
    assert assert_record(items[0]["client"])["mobile"] == OTHER
    assert items[1]["client"] is None and isinstance(items[1]["error"], str) and items[1]["error"]

    # row 15: cache statistics in the original's shape
    stats = expect(await api.client.get(f"{ROOT}/health/cache-stats", headers=api.headers()), 200)
    for key in ("totalEntries", "validEntries", "expiredEntries"):
        assert isinstance(stats[key], int) and stats[key] >= 0
    assert re.fullmatch(r"\d+(\.\d+)?%", stats["cacheHitRate"]), "cacheHitRate"
    assert_iso(stats.get("lastCleanup"), "lastCleanup")


async def test_pg_smoke_original_keys_each_way_and_their_scopes(compat_api: CompatApi) -> None:
    api = compat_api
    seeded = await api.seed()
    reader = await api.key(Scope.SESSIONS_READ, name="reader")
    for response in (
        await api.client.get(FETCH, headers={"x-api-key": reader}),
        await api.client.get(FETCH, params={"apiKey": reader}),
        await api.client.get(FETCH, headers={"Authorization": f"Bearer {reader}"}),
    ):
        assert fp(assert_record(expect(response, 200))["session"]) == fp(seeded.primary)
    assert_error(await api.client.get(FETCH), 401, "UnauthorizedException")
    wrong = reader[:-4] + ("aaaa" if not reader.endswith("aaaa") else "bbbb")
    assert_error(await api.client.get(FETCH, headers={"x-api-key": wrong}), 401, "UnauthorizedException")

    status_only = await api.key(Scope.STATUS_READ, name="status")
    response = await api.client.get(f"{ROOT}/{PHONE}", headers=api.headers(status_only))
    assert assert_record(expect(response, 200), strings=False)["mobile"] == PHONE
    assert_no_strings(response.text, seeded.all_strings())
    denied = await api.client.get(FETCH, headers=api.headers(status_only))
    assert_error(denied, 403, "ForbiddenException")
    assert_no_strings(denied.text, seeded.all_strings())

    [key] = [k for k in await api.runtime.keys.list() if k.name == "reader"]
    await api.runtime.keys.revoke(key.key_id)
    assert_error(await api.client.get(FETCH, headers={"x-api-key": reader}), 401, "UnauthorizedException")


async def test_pg_smoke_original_gramjs_comes_back_as_stored_and_minted_strings_as_gramjs(
    compat_api: CompatApi,
) -> None:
    api = compat_api
    primary, backup = api.fresh(FRESH, age=timedelta(days=40)), api.fresh(FRESH)
    gram_primary, gram_backup = as_gramjs(primary), as_gramjs(backup)
    created = await api.client.post(
        ROOT, json={"mobile": FRESH, "session": gram_primary, "oldSessions": [gram_backup]}, headers=api.headers()
    )
    assert fp(assert_record(expect(created, 201))["session"]) == fp(gram_primary)
    fetched = await api.client.get(f"{ROOT}/fetch/{FRESH}", headers=api.headers())
    record = assert_record(expect(fetched, 200))
    assert fp(record["session"]) == fp(gram_primary) and [fp(s) for s in record["oldSessions"]] == [fp(gram_backup)]
    assert_no_strings(fetched.text, [primary, backup], partial=False)

    seeded = await api.seed(backups=1)
    for secret in (seeded.primary, *seeded.backups):
        api.world.revoke(secret)
    minted = assert_record(expect(await api.client.get(FETCH, headers=api.headers()), 200))["session"]
    assert fp(minted) not in {fp(s) for s in seeded.all_strings()} and gramjs_is_alive(api.world, minted)
