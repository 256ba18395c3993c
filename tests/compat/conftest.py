"""The ``original`` compatibility profile (docs/compat-original.md) over a real runtime: the SQLite database
(PostgreSQL only on the smoke path of test_postgresql_smoke_original.py), the simulated Telegram, real API keys;
driven through httpx on the ASGI app built with ``create_app(..., profile=ApiProfile.ORIGINAL)``.

Helpers here check the NestJS shapes (record, error) and keep session strings out of every assertion message: they
are compared by digest and searched for by index, never shown.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from telethon.sessions import StringSession

from tests.api.conftest import OTHER, PHONE, Api, Seeded, build_runtime, opener
from tests.interop.gramjs import Spec, load_gramjs, make_gramjs
from tests.support.db_fixtures import database_fixture
from tgsessions.adapters.telegram.simulated import strings as simulated_strings
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.api.app import create_app
from tgsessions.api.profiles import ApiProfile
from tgsessions.domain.access import ALL_SCOPES, Scope
from tgsessions.domain.ports import Cipher
from tgsessions.domain.secret import Secret
from tgsessions.service.runtime import Runtime
from tgsessions.testing.clock import FakeClock

__all__ = [
    "ENDPOINTS",
    "FRESH",
    "OTHER",
    "PHONE",
    "UNKNOWN",
    "CompatApi",
    "Context",
    "Endpoint",
    "Seeded",
    "as_gramjs",
    "assert_error",
    "assert_history_entry",
    "assert_iso",
    "assert_no_strings",
    "assert_record",
    "assert_validation",
    "call",
    "context_for",
    "expect",
    "fp",
    "gramjs_is_alive",
    "message_text",
    "running_compat_api",
]

FRESH = "79160000001"  # an account of the simulated Telegram that tgsessions does not store (yet)
UNKNOWN = "79169999999"  # stored nowhere, known to nobody

_LONG_BASE64 = re.compile(r"[A-Za-z0-9+/=_-]{40,}")

ERROR_NAMES = {
    400: "BadRequestException",
    401: "UnauthorizedException",
    403: "ForbiddenException",
    404: "NotFoundException",
    409: "ConflictException",
    429: "ThrottlerException",
    503: "ServiceUnavailableException",
}


# -- secrets never reach an assertion message --------------------------------------------------------------------


def _reveal(value: Secret | str) -> str:
    return value.reveal() if isinstance(value, Secret) else value


def fp(value: Secret | str | None) -> str | None:
    """A short digest of a session string: what assertions compare and may show."""
    if value is None:
        return None
    return hashlib.sha256(_reveal(value).encode()).hexdigest()[:16]


def assert_no_strings(text: str, secrets: Iterable[Secret | str], *, partial: bool = True) -> None:
    """No secret (with ``partial``, nor its first or last 30 characters) occurs in ``text``; a failure names indices
    only. ``partial=False`` where the text may hold the same key in another layout (GramJS and Telethon base64 of one
    auth key can share their last characters)."""
    leaked = [
        i
        for i, secret in enumerate(_reveal(s) for s in secrets)
        if secret in text or (partial and (secret[:30] in text or secret[-30:] in text))
    ]
    assert not leaked, f"session strings #{leaked} appear in the response"


def _summary(response: httpx.Response) -> str:
    """Status, error name and message of a response, long base64 runs (session strings) redacted."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:200]
    if isinstance(body, dict):
        body = {k: body.get(k) for k in ("statusCode", "error", "message") if k in body}
    return _LONG_BASE64.sub("<redacted>", f"{response.request.method} {response.request.url.path} -> "
                                          f"{response.status_code} {body}")  # fmt: skip


def expect(response: httpx.Response, status: int) -> Any:
    """The response has ``status``; returns its JSON body (None for an empty body, the text for a non-JSON one)."""
    assert response.status_code == status, _summary(response)
    if not response.content:
        return None
    if "json" not in response.headers.get("content-type", ""):
        return response.text
    return response.json()


# -- shapes ---------------------------------------------------------------------------------------------------------


def assert_iso(value: object, what: str = "timestamp") -> datetime:
    assert isinstance(value, str), f"{what}: {type(value).__name__}, not an ISO-8601 string"
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value), f"{what}: not ISO-8601: {value[:40]!r}"
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise AssertionError(f"{what}: not ISO-8601: {value[:40]!r}") from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def assert_history_entry(entry: object) -> None:
    assert isinstance(entry, dict), f"sessionHistory entry: {type(entry).__name__}"
    for key in ("session", "action", "timestamp", "status"):
        assert isinstance(entry.get(key), str), f"sessionHistory.{key}: {type(entry.get(key)).__name__}"
    assert_iso(entry["timestamp"], "sessionHistory.timestamp")
    if "source" in entry:
        assert isinstance(entry["source"], str), "sessionHistory.source"


def assert_record(body: object, *, strings: bool = True) -> dict[str, Any]:
    """The original's record: ``id, mobile, session, oldSessions, sessionHistory, createdAt, updatedAt`` (+ optional
    ``lastUpdated``/``lastCleanup``). Without ``strings`` (a key lacking sessions:read) there is no ``session`` key
    and ``oldSessions``, when present, is still a list. Extra keys are allowed."""
    assert isinstance(body, dict), f"record: {type(body).__name__}, not an object"
    for key in ("id", "mobile", "createdAt", "updatedAt"):
        assert isinstance(body.get(key), str), f"record.{key}: {type(body.get(key)).__name__}"
    assert body["id"], "record.id is empty"
    assert_iso(body["createdAt"], "record.createdAt")
    assert_iso(body["updatedAt"], "record.updatedAt")
    for key in ("lastUpdated", "lastCleanup"):
        if key in body:
            assert_iso(body[key], f"record.{key}")
    history = body.get("sessionHistory")
    assert isinstance(history, list), f"record.sessionHistory: {type(history).__name__}"
    for entry in history:
        assert_history_entry(entry)
    old = body.get("oldSessions")
    if strings:
        assert isinstance(body.get("session"), str), f"record.session: {type(body.get('session')).__name__}"
        assert isinstance(old, list), f"record.oldSessions: {type(old).__name__}"
        assert all(isinstance(s, str) for s in old), "record.oldSessions holds a non-string"
    else:
        assert "session" not in body, "record.session present for a key without sessions:read"
        if "oldSessions" in body:
            assert isinstance(old, list), f"record.oldSessions: {type(old).__name__}"
    return body


def message_text(body: dict[str, Any]) -> str:
    message = body["message"]
    return " | ".join(message) if isinstance(message, list) else message


def assert_error(response: httpx.Response, status: int, error: str | None = None) -> dict[str, Any]:
    """``{"statusCode": int == status, "message": str | list[str], "error": <NestJS exception name>}``."""
    body = expect(response, status)
    assert isinstance(body, dict), f"error body: {type(body).__name__}"
    assert _is_int(body.get("statusCode")), f"statusCode: {type(body.get('statusCode')).__name__}"
    assert body["statusCode"] == status, _summary(response)
    assert body.get("error") == (error or ERROR_NAMES[status]), _summary(response)
    message = body.get("message")
    assert isinstance(message, str) or (
        isinstance(message, list) and message and all(isinstance(m, str) for m in message)
    ), f"message: {type(message).__name__}"
    return body


def assert_validation(response: httpx.Response, *fields: str) -> list[str]:
    """400 BadRequestException whose ``message`` is a list of strings, one naming each of ``fields``."""
    body = assert_error(response, 400)
    message = body["message"]
    assert isinstance(message, list), f"validation message: {type(message).__name__}, not a list of strings"
    for name in fields:
        assert any(name in m for m in message), _LONG_BASE64.sub("<redacted>", f"no message names {name!r}: {message}")
    return message


# -- session strings -------------------------------------------------------------------------------------------------


def as_gramjs(string: Secret) -> str:
    """The same authorization as a simulated (Telethon) string, written by real GramJS."""
    telethon = StringSession(string.reveal())
    [text] = make_gramjs([Spec(telethon.dc_id, telethon.server_address, telethon.port, telethon.auth_key.key)])
    return text


def gramjs_is_alive(world: SimulatedTelegram, text: str) -> bool:
    """Real GramJS reads ``text`` and its auth key is a live authorization of the simulated Telegram."""
    [loaded] = load_gramjs([text])
    assert not isinstance(loaded, str), f"GramJS cannot read the string: {loaded}"
    return world.is_alive(simulated_strings.encode(loaded.dc_id, loaded.auth_key))


# -- the running app -------------------------------------------------------------------------------------------------


@dataclass
class CompatApi(Api):
    """The compat app; callers of the original send their key as ``x-api-key``."""

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"x-api-key": key or self.admin_key}

    async def key_without(self, scope: Scope) -> str:
        return await self.key(*(ALL_SCOPES - {scope}), name=f"no-{scope.value.replace(':', '-')}")

    async def handed_out(self, phone: str = PHONE) -> int:
        page = await self.runtime.factory.history(phone, limit=500)
        return sum(1 for e in page.events if e.action.value == "handed_out")

    async def seed_many(self, phones: Sequence[str]) -> list[Seeded]:
        return [await self.seed(p) for p in phones]

    def fresh(self, phone: str = PHONE, *, age: timedelta = timedelta(days=2)) -> Secret:
        """A new live authorization of ``phone`` in the simulated Telegram (the account is added when missing)."""
        if self.world.lookup_account(phone) is None:
            self.world.add_account(phone)
        return self.world.create_session(phone, age=age)


@contextlib.asynccontextmanager
async def running_compat_api(runtime: Runtime, world: SimulatedTelegram, clock: FakeClock) -> AsyncIterator[CompatApi]:
    app = create_app(opener(runtime), profile=ApiProfile.ORIGINAL)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            api = CompatApi(app, client, runtime, world, clock)
            api.admin_key = await api.key(name="all-scopes")
            yield api


# the HTTP contract is the same on every store: SQLite only; PostgreSQL end to end by the smoke path
database = database_fixture("sqlite")
sql_database = database_fixture("sqlite", name="sql_database")


@pytest.fixture
def world(clock: FakeClock) -> SimulatedTelegram:
    return SimulatedTelegram(clock, seed=11)


@pytest.fixture
async def compat_api(
    sql_database: Any, world: SimulatedTelegram, cipher: Cipher, clock: FakeClock
) -> AsyncIterator[CompatApi]:
    """The compat app on ``sql_database``: SQLite, or PostgreSQL where a module asks with
    ``on_backends("postgresql", fixture="sql_database")`` (the memory database adds nothing to an HTTP contract)."""
    async with running_compat_api(build_runtime(sql_database, world, cipher, clock), world, clock) as running:
        yield running


# -- the 15 endpoints, for the auth and scope matrices ----------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What an endpoint's request needs: the seeded account, a fresh live string of it, a fresh unstored account."""

    seeded: Seeded
    new_primary: Secret
    fresh_phone: str
    fresh_session: Secret


@dataclass(frozen=True)
class Endpoint:
    row: int
    method: str
    path: str
    scope: Scope
    success: int
    body: Callable[[Context], Any] | None = None

    @property
    def id(self) -> str:
        return f"row{self.row:02d}-{self.method}-{self.path}"

    def url(self, ctx: Context) -> str:
        return self.path.format(mobile=ctx.seeded.phone)


ENDPOINTS = [
    Endpoint(1, "POST", "/archived-clients", Scope.SESSIONS_WRITE, 201,
             lambda c: {"mobile": c.fresh_phone, "session": c.fresh_session.reveal()}),
    Endpoint(2, "GET", "/archived-clients/search?mobile={mobile}", Scope.STATUS_READ, 200),
    Endpoint(3, "GET", "/archived-clients", Scope.STATUS_READ, 200),
    Endpoint(4, "GET", "/archived-clients/maintenance/check-archived-clients", Scope.ADMIN, 200),
    Endpoint(5, "GET", "/archived-clients/{mobile}", Scope.STATUS_READ, 200),
    Endpoint(6, "GET", "/archived-clients/fetch/{mobile}", Scope.SESSIONS_READ, 200),
    Endpoint(7, "PATCH", "/archived-clients/{mobile}", Scope.SESSIONS_WRITE, 200,
             lambda c: {"session": c.new_primary.reveal()}),
    Endpoint(8, "DELETE", "/archived-clients/{mobile}", Scope.SESSIONS_WRITE, 200),
    Endpoint(9, "POST", "/archived-clients/query", Scope.STATUS_READ, 201, lambda c: {"mobile": c.seeded.phone}),
    Endpoint(10, "PUT", "/archived-clients/{mobile}/session", Scope.SESSIONS_WRITE, 200,
             lambda c: {"newSession": c.new_primary.reveal()}),
    Endpoint(11, "GET", "/archived-clients/{mobile}/old-sessions", Scope.SESSIONS_READ, 200),
    Endpoint(12, "POST", "/archived-clients/{mobile}/cleanup-sessions", Scope.SESSIONS_WRITE, 201,
             lambda c: {"maxSessions": 5}),
    Endpoint(13, "GET", "/archived-clients/{mobile}/session-status", Scope.STATUS_READ, 200),
    Endpoint(14, "POST", "/archived-clients/batch-fetch", Scope.SESSIONS_READ, 201,
             lambda c: {"mobiles": [c.seeded.phone]}),
    Endpoint(15, "GET", "/archived-clients/health/cache-stats", Scope.STATUS_READ, 200),
]  # fmt: skip


async def context_for(api: CompatApi) -> Context:
    seeded = await api.seed(PHONE)
    return Context(seeded, api.fresh(PHONE), FRESH, api.fresh(FRESH))


async def call(api: CompatApi, endpoint: Endpoint, ctx: Context, headers: dict[str, str]) -> httpx.Response:
    body = endpoint.body(ctx) if endpoint.body else None
    return await api.client.request(endpoint.method, endpoint.url(ctx), json=body, headers=headers)
