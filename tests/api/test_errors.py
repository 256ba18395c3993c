"""The error table, the one JSON shape for every error (unknown routes included), and the bare 500."""

from __future__ import annotations

import pytest

import tgsessions
from tests.api.conftest import Api
from tgsessions.api.errors import STATUS_BY_ERROR, domain_error_response, retry_after_seconds, status_for
from tgsessions.domain import errors as e


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (e.InvalidInput("bad"), 400),
        (e.SessionRejected("dead"), 422),
        (e.Unauthenticated("no key"), 401),
        (e.Forbidden("scope"), 403),
        (e.UnknownPhone("79161234567"), 404),
        (e.NotFound("run"), 404),
        (e.AccountExists("79161234567"), 409),
        (e.AccountUnrecoverable("79161234567"), 409),
        (e.AccountBanned("79161234567", "banned"), 409),
        (e.ConcurrentModification("held"), 409),
        (e.MaintenanceRunning("running"), 409),
        (e.TwoFactorInvalid("2fa"), 409),
        (e.MintFailed("no", reason="x", transient=False), 409),
        (e.MintFailed("later", reason="x", transient=True), 503),
        (e.LoginBudgetSpent("spent", retry_after=10), 429),
        (e.RateLimited("slow", retry_after=1), 429),
        (e.TelegramUnavailable("down", retry_after=3), 503),
        (e.StorageUnavailable("down", retry_after=3), 503),
        (e.SecretUnreadable("key"), 503),
        (e.ConfigurationError("settings"), 503),
        (e.TgSessionsError("unknown kind"), 500),
    ],
)
def test_status_table(error: e.TgSessionsError, status: int) -> None:
    assert status_for(error) == status


def test_every_error_class_has_a_status() -> None:
    def subclasses(cls: type[e.TgSessionsError]) -> list[type[e.TgSessionsError]]:
        return [cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))]

    for cls in subclasses(e.TgSessionsError)[1:]:
        assert any(base in STATUS_BY_ERROR for base in cls.__mro__), cls


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert [retry_after_seconds(s) for s in (0.0, 0.2, 1.0, 1.01, 59.5)] == [1, 1, 1, 2, 60]


async def test_unknown_route_and_method_use_the_error_shape(api: Api) -> None:
    missing = await api.client.get("/nowhere", headers=api.auth())
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "no such route"}
    wrong = await api.client.delete("/healthz")
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"
    assert "GET" in wrong.headers["Allow"]


async def test_unexpected_errors_are_a_bare_500(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async def explode() -> None:
        raise RuntimeError("session 1AbCdEfSECRET leaked into a message")

    monkeypatch.setattr(api.runtime.factory, "cache_stats", explode)
    response = await api.client.get("/archived-clients/health/cache-stats", headers=api.auth())
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "message": "internal error"}
    assert "SECRET" not in response.text


async def test_openapi_and_docs(api: Api) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    assert schema["info"] == {**schema["info"], "title": "tgsessions", "version": tgsessions.__version__}
    assert set(schema["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert len(operations) == 15  # the 14 of the issue, and /metrics
    for path, _method, op in operations:
        if path == "/healthz":
            assert "security" not in op
            continue
        assert op["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}]
        for status in ("400", "401", "403", "422", "429"):
            assert op["responses"][status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"
            }, (path, status)
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    docs = await api.client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


@pytest.mark.parametrize("original", [False, True], ids=["native", "original"])
def test_every_409_429_and_503_says_when_to_come_back(original: bool) -> None:
    errors = [e.AccountExists("79161234567"), e.ConcurrentModification("held"), e.MaintenanceRunning("running"),
              e.MintFailed("no", reason="x", transient=False), e.AccountBanned("79161234567", "banned"),
              e.LoginBudgetSpent("spent", retry_after=10), e.RateLimited("slow", retry_after=1),
              e.TelegramUnavailable("down", retry_after=3), e.SecretUnreadable("key"), e.ConfigurationError("x"),
              e.FormatUnavailable("pyrogram")]  # fmt: skip
    for error in errors:
        response = domain_error_response(error, original=original)
        assert response.status_code in (409, 429, 503)
        assert int(response.headers["Retry-After"]) >= 1, type(error).__name__
    assert domain_error_response(e.ConcurrentModification("held")).headers["Retry-After"] == "5"
    assert "Retry-After" not in domain_error_response(e.UnknownPhone("79161234567")).headers
