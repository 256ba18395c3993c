"""One naming convention on the native API, camelCase, and request bodies that refuse what they do not know.

The OpenAPI schema is walked whole: every property name of every schema (components and inline, nested, in
arrays, unions, additionalProperties) and every parameter and response header name. Then bodies with an unknown
field, or with the snake_case spelling of a real one, are refused with 422 naming the field, and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.api.conftest import OTHER, PHONE, Api

# FastAPI's own validation-error components: the native app documents ErrorBody instead (test_errors checks that
# they are absent); they are skipped here only so that this test names the real culprit should they come back.
FASTAPI_OWN = frozenset({"HTTPValidationError", "ValidationError"})
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
SCHEMA_CHILDREN = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


def schema_properties(schema: Any, where: str) -> Iterator[tuple[str, str]]:
    """(where, name) of every property a JSON schema declares, however deeply nested."""
    if not isinstance(schema, dict):
        return
    for name, child in schema.get("properties", {}).items():
        yield where, name
        yield from schema_properties(child, f"{where}.{name}")
    for key in SCHEMA_CHILDREN:
        yield from schema_properties(schema.get(key), f"{where}.{key}")
    for key in SCHEMA_LISTS:
        for i, child in enumerate(schema.get(key, [])):
            yield from schema_properties(child, f"{where}.{key}[{i}]")
    for key in SCHEMA_MAPS:
        if key == "properties":
            continue
        for name, child in schema.get(key, {}).items():
            yield from schema_properties(child, f"{where}.{key}.{name}")


def content_schemas(content: dict[str, Any], where: str) -> Iterator[tuple[str, Any]]:
    for media, entry in content.items():
        yield f"{where}.{media}", entry.get("schema")


def wire_names(doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, name) of every name the OpenAPI document puts on the wire."""
    for name, schema in doc["components"]["schemas"].items():
        if name not in FASTAPI_OWN:
            yield from schema_properties(schema, f"components.{name}")
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in HTTP_METHODS:  # a path item's summary, description, servers or shared parameters
                continue
            here = f"{method.upper()} {path}"
            for param in [*item.get("parameters", []), *op.get("parameters", [])]:  # path, query, header, cookie
                yield f"{here} ({param['in']} parameter)", param["name"]
                yield from schema_properties(param.get("schema"), f"{here} parameter {param['name']}")
            body = op.get("requestBody", {})
            for where, schema in content_schemas(body.get("content", {}), f"{here} body"):
                yield from schema_properties(schema, where)
            for status, response in op.get("responses", {}).items():
                for header, spec in response.get("headers", {}).items():
                    yield f"{here} {status} (header)", header
                    yield from schema_properties(spec.get("schema"), f"{here} {status} header {header}")
                for where, schema in content_schemas(response.get("content", {}), f"{here} {status}"):
                    yield from schema_properties(schema, where)


async def test_every_name_in_the_openapi_schema_is_camel_case(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    names = list(wire_names(doc))
    assert len(names) > 100  # the walk reached the schemas, parameters and headers
    assert {"sessionId", "lastUpdated", "createdAt", "updatedAt", "runId", "format"} <= {n for _w, n in names}
    snake = sorted(f"{where}: {name}" for where, name in names if "_" in name)
    assert not snake, "snake_case names on the wire:\n" + "\n".join(snake)


async def test_the_walk_finds_names_nested_anywhere() -> None:
    nested = {
        "properties": {"outer": {"anyOf": [{"type": "array", "items": {"properties": {"inner_name": {}}}}]}},
        "additionalProperties": {"properties": {"extra_name": {}}},
    }
    assert [name for _w, name in schema_properties(nested, "x")] == ["outer", "inner_name", "extra_name"]


async def test_every_request_body_refuses_unknown_fields_in_the_schema(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    bodies = {"AddAccountRequest", "UpdateSessionRequest", "CleanupRequest", "BatchRequest", "IdentityIn", "ProxyIn"}
    assert {name for name, schema in schemas.items() if schema.get("additionalProperties") is False} == bodies


def refused(response: Any, field: str) -> None:
    """422 validation_error with ``field`` among the details, and named by the message when it is the only one."""
    assert response.status_code == 422, response.status_code
    body = response.json()
    assert body["error"] == "validation_error"
    assert {"field": field, "message": "Extra inputs are not permitted"} in body["details"], body["details"]
    if len(body["details"]) == 1:
        assert field in body["message"], body["message"]


async def history_of(api: Api, phone: str) -> list[dict[str, Any]]:
    response = await api.client.get(f"/archived-clients/{phone}/history", params={"limit": 500}, headers=api.auth())
    assert response.status_code == 200
    events: list[dict[str, Any]] = response.json()["events"]
    return events


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"keeperSesion": "k"}, "body.keeperSesion"),
        ({"keeper_session": "k"}, "body.keeper_session"),
        ({"two_factor_password": "pw"}, "body.two_factor_password"),
        ({"old_sessions": ["o"]}, "body.old_sessions"),
        ({"identity": {"api_id": 5}}, "body.identity.api_id"),
        ({"identity": {"deviceModel": "Pixel", "device": "Pixel"}}, "body.identity.device"),
        ({"proxy": {"scheme": "socks5", "host": "h", "port": 1080, "user": "u"}}, "body.proxy.user"),
    ],
    ids=[
        "unknown",
        "keeper_session",
        "two_factor_password",
        "old_sessions",
        "identity.api_id",
        "identity.device",
        "proxy.user",
    ],
)
async def test_add_account_refuses_unknown_fields_and_stores_nothing(
    api: Api, extra: dict[str, Any], field: str
) -> None:
    api.world.add_account(OTHER)
    primary = api.world.create_session(OTHER, age=timedelta(days=40))
    body = {"mobile": OTHER, "session": primary.reveal(), **extra}
    response = await api.client.post("/archived-clients", json=body, headers=api.auth())
    refused(response, field)
    assert primary.reveal() not in response.text
    assert (await api.client.get(f"/archived-clients/{OTHER}/history", headers=api.auth())).status_code == 404
    accepted = await api.client.post("/archived-clients", json={"mobile": OTHER, "session": primary.reveal()},
                                     headers=api.auth())  # fmt: skip
    assert accepted.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"newSession": "<fresh>", "fromat": "telethon"}, "body.fromat"),
        ({"new_session": "<fresh>"}, "body.new_session"),
    ],
    ids=["unknown", "new_session"],
)
async def test_update_session_refuses_unknown_fields_and_changes_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    seeded = await api.seed()
    before = await history_of(api, PHONE)
    fresh = api.world.create_session(PHONE, age=timedelta(days=2)).reveal()
    sent = {name: fresh if value == "<fresh>" else value for name, value in body.items()}
    response = await api.client.put(f"/archived-clients/{PHONE}/session", json=sent, headers=api.auth())
    refused(response, field)
    assert fresh not in response.text
    assert await history_of(api, PHONE) == before
    fetched = await api.client.get(f"/archived-clients/fetch/{PHONE}", headers=api.auth())
    assert fetched.json()["session"] == seeded.primary.reveal()


@pytest.mark.parametrize(
    ("body", "field"),
    [({"maxSession": 0}, "body.maxSession"), ({"max_sessions": 0}, "body.max_sessions")],
    ids=["unknown", "max_sessions"],
)
async def test_cleanup_refuses_unknown_fields_and_revokes_nothing(api: Api, body: dict[str, Any], field: str) -> None:
    seeded = await api.seed(backups=3)
    before = await history_of(api, PHONE)
    response = await api.client.post(f"/archived-clients/{PHONE}/cleanup-sessions", json=body, headers=api.auth())
    refused(response, field)
    assert response.json()["message"] == f"request validation failed at {field}: Extra inputs are not permitted"
    assert await history_of(api, PHONE) == before
    assert all(api.world.is_alive(s) for s in seeded.backups)
    backups = await api.client.get(f"/archived-clients/{PHONE}/old-sessions", headers=api.auth())
    assert len(backups.json()) == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [({"mobiles": [PHONE], "mobile": OTHER}, "body.mobile"), ({"mobiles": [PHONE], "format": "gramjs"}, "body.format")],
    ids=["unknown", "format-in-the-body"],
)
async def test_batch_fetch_refuses_unknown_fields_and_hands_out_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    seeded = await api.seed()
    before = await history_of(api, PHONE)
    response = await api.client.post("/archived-clients/batch-fetch", json=body, headers=api.auth())
    refused(response, field)
    assert response.json()["message"] == f"request validation failed at {field}: Extra inputs are not permitted"
    assert all(s.reveal() not in response.text for s in seeded.all_strings())
    assert await history_of(api, PHONE) == before  # no handed_out event


async def test_camel_case_bodies_are_still_accepted(api: Api) -> None:
    seeded = await api.seed(backups=3)
    cleanup = await api.client.post(
        f"/archived-clients/{PHONE}/cleanup-sessions", json={"maxSessions": 2}, headers=api.auth()
    )
    assert cleanup.status_code == 200 and cleanup.json()["maxSessions"] == 2
    batch = await api.client.post("/archived-clients/batch-fetch", json={"mobiles": [PHONE]}, headers=api.auth())
    assert batch.status_code == 200 and batch.json()["results"][0]["session"] == seeded.primary.reveal()
