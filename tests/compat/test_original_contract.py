"""The ``original`` profile's cross-cutting contract: keys (header, ``?apiKey=``, Bearer), scopes on all 15
endpoints, the NestJS error shape for every status, the OpenAPI listing, and session strings coming back in the
layout they were stored in (GramJS by default for what tgsessions minted, ``?format=`` overriding)."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from telethon.sessions import StringSession

from tests.api.conftest import AuditFailingDatabase, build_runtime
from tests.compat.conftest import (
    ENDPOINTS,
    FRESH,
    PHONE,
    CompatApi,
    Endpoint,
    as_gramjs,
    assert_error,
    assert_no_strings,
    assert_record,
    assert_validation,
    call,
    context_for,
    expect,
    fp,
    gramjs_is_alive,
    message_text,
    running_compat_api,
)
from tests.interop.gramjs import load_gramjs
from tests.interop.pyrogram_lib import load_pyrogram
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.access import Scope
from tgsessions.domain.ports import Cipher
from tgsessions.testing.clock import FakeClock

FETCH = f"/archived-clients/fetch/{PHONE}"
CACHE_STATS = "/archived-clients/health/cache-stats"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- keys ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["x-api-key", "query", "bearer"])
async def test_diff_keys_each_way_of_sending_the_key_is_accepted(compat_api: CompatApi, how: str) -> None:
    seeded = await compat_api.seed()
    key = await compat_api.key(Scope.SESSIONS_READ, name="reader")
    if how == "x-api-key":
        response = await compat_api.client.get(FETCH, headers={"x-api-key": key})
    elif how == "query":
        response = await compat_api.client.get(FETCH, params={"apiKey": key})
    else:
        response = await compat_api.client.get(FETCH, headers={"Authorization": f"Bearer {key}"})
    record = assert_record(expect(response, 200))
    assert record["mobile"] == PHONE
    assert fp(record["session"]) == fp(seeded.primary)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
async def test_diff_keys_no_key_is_401_on_every_endpoint(compat_api: CompatApi, endpoint: Endpoint) -> None:
    ctx = await context_for(compat_api)
    response = await call(compat_api, endpoint, ctx, headers={})
    assert_error(response, 401, "UnauthorizedException")
    assert_no_strings(response.text, ctx.seeded.all_strings())
    after = await compat_api.runtime.factory.fetch_one(PHONE)
    assert fp(after.session) == fp(ctx.seeded.primary)  # nothing changed


@pytest.mark.parametrize("how", ["x-api-key", "query", "bearer", "revoked"])
async def test_diff_keys_a_wrong_key_is_401_access_denied(compat_api: CompatApi, how: str) -> None:
    await compat_api.seed()
    good = await compat_api.key(name="good")
    wrong = good[:-4] + ("aaaa" if not good.endswith("aaaa") else "bbbb")
    if how == "x-api-key":
        response = await compat_api.client.get(FETCH, headers={"x-api-key": wrong})
    elif how == "query":
        response = await compat_api.client.get(FETCH, params={"apiKey": wrong})
    elif how == "bearer":
        response = await compat_api.client.get(FETCH, headers={"Authorization": f"Bearer {wrong}"})
    else:
        [record] = [k for k in await compat_api.runtime.keys.list() if k.name == "good"]
        await compat_api.runtime.keys.revoke(record.key_id)
        response = await compat_api.client.get(FETCH, headers={"x-api-key": good})
    body = assert_error(response, 401, "UnauthorizedException")
    assert isinstance(body["message"], str)
    assert "session" not in body


async def test_diff_keys_a_query_key_never_reaches_the_log(compat_api: CompatApi, log_stream: io.StringIO) -> None:
    seeded = await compat_api.seed()
    key = await compat_api.key(Scope.SESSIONS_READ, name="query-reader")
    ok = await compat_api.client.get(FETCH, params={"apiKey": key})
    assert_record(expect(ok, 200))
    wrong = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    assert_error(await compat_api.client.get(FETCH, params={"apiKey": wrong}), 401)
    assert_error(await compat_api.client.get(f"/archived-clients/fetch/{FRESH}?apiKey={key}"), 404)
    text = log_stream.getvalue()
    assert "fetch" in text, "the requests were not logged at all"
    secret_part = key.split("_", 2)[2]  # the secret may itself hold "_"
    leaked = [i for i, s in enumerate([key, wrong, secret_part, wrong.split("_", 2)[2]]) if s in text]
    assert not leaked, f"key material #{leaked} reached the log"
    assert_no_strings(text, seeded.all_strings())


# -- scopes ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
async def test_scopes_a_key_lacking_the_scope_is_403_on_every_endpoint(
    compat_api: CompatApi, endpoint: Endpoint
) -> None:
    ctx = await context_for(compat_api)
    key = await compat_api.key_without(endpoint.scope)
    response = await call(compat_api, endpoint, ctx, headers=compat_api.headers(key))
    assert_error(response, 403, "ForbiddenException")
    assert_no_strings(response.text, [*ctx.seeded.all_strings(), ctx.new_primary])
    after = await compat_api.runtime.factory.fetch_one(PHONE)  # the account is untouched (still there, same primary)
    assert fp(after.session) == fp(ctx.seeded.primary)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
async def test_scopes_the_one_scope_is_enough_and_strings_need_sessions_read(
    compat_api: CompatApi, endpoint: Endpoint
) -> None:
    ctx = await context_for(compat_api)
    key = await compat_api.key(endpoint.scope, name="only")
    response = await call(compat_api, endpoint, ctx, headers=compat_api.headers(key))
    expect(response, endpoint.success)
    if endpoint.scope is not Scope.SESSIONS_READ:
        assert_no_strings(response.text, ctx.seeded.all_strings())


STATUS_RECORD_ENDPOINTS = [e for e in ENDPOINTS if e.row in (2, 3, 5, 9)]


def _records_of(endpoint: Endpoint, body: Any) -> list[Any]:
    if endpoint.row == 5:
        return [body]
    assert isinstance(body, list), f"row {endpoint.row}: {type(body).__name__}, not an array"
    return body


@pytest.mark.parametrize("endpoint", STATUS_RECORD_ENDPOINTS, ids=lambda e: e.id)
async def test_diff_status_read_records_carry_strings_only_with_sessions_read(
    compat_api: CompatApi, endpoint: Endpoint
) -> None:
    ctx = await context_for(compat_api)
    status_only = await compat_api.key(Scope.STATUS_READ, name="status")
    response = await call(compat_api, endpoint, ctx, headers=compat_api.headers(status_only))
    records = _records_of(endpoint, expect(response, endpoint.success))
    assert [r.get("mobile") for r in records] == [PHONE]
    for record in records:
        assert_record(record, strings=False)
    assert_no_strings(response.text, [*ctx.seeded.all_strings(), ctx.new_primary, ctx.fresh_session])

    both = await compat_api.key(Scope.STATUS_READ, Scope.SESSIONS_READ, name="status-and-strings")
    response = await call(compat_api, endpoint, ctx, headers=compat_api.headers(both))
    [record] = _records_of(endpoint, expect(response, endpoint.success))
    assert_record(record)
    assert fp(record["session"]) == fp(ctx.seeded.primary)
    assert {fp(s) for s in record["oldSessions"]} == {fp(s) for s in ctx.seeded.backups}
    assert ctx.seeded.keeper is not None
    assert_no_strings(response.text, [ctx.seeded.keeper])  # the keeper is never handed out


# -- the error shape -------------------------------------------------------------------------------------------------


async def test_errors_an_unknown_route_is_404_in_the_nestjs_shape(compat_api: CompatApi) -> None:
    assert_error(await compat_api.client.get("/nowhere", headers=compat_api.headers()), 404, "NotFoundException")


async def test_errors_malformed_json_is_400_not_422(compat_api: CompatApi) -> None:
    response = await compat_api.client.post(
        "/archived-clients",
        content=b'{"mobile": "79161234567", "session": ',
        headers={**compat_api.headers(), "Content-Type": "application/json"},
    )
    assert_error(response, 400, "BadRequestException")


async def test_errors_rate_limited_is_429_throttler_exception(compat_api: CompatApi) -> None:
    key = await compat_api.key(Scope.STATUS_READ, rate=1, name="slow")
    expect(await compat_api.client.get(CACHE_STATS, headers=compat_api.headers(key)), 200)
    assert_error(await compat_api.client.get(CACHE_STATS, headers=compat_api.headers(key)), 429, "ThrottlerException")


async def test_errors_storage_down_is_503_service_unavailable_and_fails_closed(
    sql_database: Any, world: SimulatedTelegram, cipher: Cipher, clock: FakeClock
) -> None:
    failing = AuditFailingDatabase(sql_database)
    runtime = build_runtime(failing, world, cipher, clock)  # type: ignore[arg-type]
    async with running_compat_api(runtime, world, clock) as api:
        seeded = await api.seed()
        failing.failing = True  # a hand-out that cannot be audited is not made
        for path in (FETCH, f"/archived-clients/{PHONE}/old-sessions"):
            response = await api.client.get(path, headers=api.headers())
            assert_error(response, 503, "ServiceUnavailableException")
            assert_no_strings(response.text, seeded.all_strings())


# -- OpenAPI ---------------------------------------------------------------------------------------------------------


async def test_openapi_lists_the_15_operations(compat_api: CompatApi) -> None:
    response = await compat_api.client.get("/openapi.json", headers=compat_api.headers())
    schema = expect(response, 200)
    operations = {
        (method.upper(), re.sub(r"\{[^}]+\}", "{mobile}", path))
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    wanted = {(e.method, e.path.split("?")[0]) for e in ENDPOINTS}
    assert len(wanted) == 15
    assert wanted <= operations, sorted(wanted - operations)


# -- session string layouts ------------------------------------------------------------------------------------------


async def test_formats_a_gramjs_string_comes_back_as_the_identical_gramjs_text(compat_api: CompatApi) -> None:
    primary, backup = compat_api.fresh(PHONE, age=timedelta(days=40)), compat_api.fresh(PHONE)
    gram_primary, gram_backup = as_gramjs(primary), as_gramjs(backup)
    created = await compat_api.client.post(
        "/archived-clients",
        json={"mobile": PHONE, "session": gram_primary, "oldSessions": [gram_backup]},
        headers=compat_api.headers(),
    )
    record = assert_record(expect(created, 201))
    assert fp(record["session"]) == fp(gram_primary)
    assert [fp(s) for s in record["oldSessions"]] == [fp(gram_backup)]
    got = assert_record(expect(await compat_api.client.get(f"/archived-clients/{PHONE}", headers=compat_api.headers()),
                               200))  # fmt: skip
    assert fp(got["session"]) == fp(gram_primary)
    fetch_response = await compat_api.client.get(FETCH, headers=compat_api.headers())
    fetched = assert_record(expect(fetch_response, 200))
    assert fp(fetched["session"]) == fp(gram_primary)
    assert [fp(s) for s in fetched["oldSessions"]] == [fp(gram_backup)]
    old = expect(await compat_api.client.get(f"/archived-clients/{PHONE}/old-sessions", headers=compat_api.headers()),
                 200)  # fmt: skip
    assert [fp(s) for s in old] == [fp(gram_backup)]
    assert_no_strings(fetch_response.text, [primary, backup], partial=False)  # never the Telethon text of the same keys


async def test_formats_sessions_tgsessions_minted_come_out_as_gramjs(compat_api: CompatApi) -> None:
    seeded = await compat_api.seed(backups=1)
    for secret in (seeded.primary, *seeded.backups):
        compat_api.world.revoke(secret)
    response = await compat_api.client.get(FETCH, headers=compat_api.headers())
    record = assert_record(expect(response, 200))
    minted = record["session"]
    assert fp(minted) not in {fp(s) for s in seeded.all_strings()}
    assert gramjs_is_alive(compat_api.world, minted)
    as_telethon = expect(await compat_api.client.get(FETCH, params={"format": "telethon"},
                                                     headers=compat_api.headers()), 200)  # fmt: skip
    assert compat_api.world.is_alive(as_telethon["session"])
    assert _digest(StringSession(as_telethon["session"]).auth_key.key) == _digest(_gramjs_key(minted)), (
        "the two layouts hold different keys"
    )


def _gramjs_key(text: str) -> bytes:
    [loaded] = load_gramjs([text])
    assert not isinstance(loaded, str), f"GramJS cannot read the string: {loaded}"
    return loaded.auth_key


async def test_formats_the_format_query_parameter_overrides_the_layout(compat_api: CompatApi) -> None:
    seeded = await compat_api.seed()  # stored as Telethon text
    key = _digest(StringSession(seeded.primary.reveal()).auth_key.key)
    default = assert_record(expect(await compat_api.client.get(FETCH, headers=compat_api.headers()), 200))
    assert fp(default["session"]) == fp(seeded.primary)  # the way it was stored
    telethon = assert_record(expect(await compat_api.client.get(FETCH, params={"format": "telethon"},
                                                                headers=compat_api.headers()), 200))  # fmt: skip
    assert fp(telethon["session"]) == fp(seeded.primary)
    gramjs = assert_record(expect(await compat_api.client.get(FETCH, params={"format": "gramjs"},
                                                              headers=compat_api.headers()), 200))  # fmt: skip
    assert fp(gramjs["session"]) == fp(as_gramjs(seeded.primary))
    assert _digest(_gramjs_key(gramjs["session"])) == key
    assert {fp(s) for s in gramjs["oldSessions"]} == {fp(as_gramjs(b)) for b in seeded.backups}
    pyrogram = assert_record(expect(await compat_api.client.get(FETCH, params={"format": "pyrogram"},
                                                                headers=compat_api.headers()), 200))  # fmt: skip
    loaded = await load_pyrogram(pyrogram["session"])
    assert _digest(loaded.auth_key) == key
    old = expect(await compat_api.client.get(f"/archived-clients/{PHONE}/old-sessions", params={"format": "gramjs"},
                                             headers=compat_api.headers()), 200)  # fmt: skip
    assert {fp(s) for s in old} == {fp(as_gramjs(b)) for b in seeded.backups}


async def test_formats_an_unknown_format_is_400(compat_api: CompatApi) -> None:
    seeded = await compat_api.seed()
    response = await compat_api.client.get(FETCH, params={"format": "xml"}, headers=compat_api.headers())
    assert_validation(response, "format")
    assert_no_strings(response.text, seeded.all_strings())


async def test_formats_a_junk_session_is_400_naming_the_layouts_tried(compat_api: CompatApi) -> None:
    compat_api.fresh(PHONE)
    junk = "1" + "Zm9v" * 80
    response = await compat_api.client.post(
        "/archived-clients", json={"mobile": PHONE, "session": junk}, headers=compat_api.headers()
    )
    body = assert_error(response, 400, "BadRequestException")
    text = message_text(body).lower()
    assert all(layout in text for layout in ("telethon", "gramjs", "pyrogram")), "the layouts tried are not named"
    assert junk not in response.text and junk[:30] not in response.text
    assert expect(await compat_api.client.get(f"/archived-clients/{PHONE}", headers=compat_api.headers()), 200) is None
