"""OpenAPI documentation of the error responses (every status a route can answer, with the one error schema) and of
the key each route needs (:func:`document_security`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from fastapi import APIRouter, FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute

from tgsessions.api.auth import KEY_SCHEMES, is_key_check
from tgsessions.api.schemas.wire import ErrorBody

DESCRIPTIONS: Final = {
    400: "Bad input (a malformed phone number, an argument out of range), or an API key in the query string.",
    401: "No API key, or one that is unknown or revoked.",
    403: "The API key lacks the scope this endpoint needs.",
    404: "No account with that phone number (or no such thing).",
    409: "The account cannot give a session (unrecoverable, banned), another caller holds it, or a conflict.",
    422: "The request does not match its schema, or a submitted session was rejected.",
    429: "The API key's rate limit or the account's login budget is spent; see `Retry-After`.",
    503: "Telegram or the database is unavailable now; see `Retry-After`.",
}
RETRY_AFTER: Final = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 1}}
}
AUTHENTICATED: Final = (400, 401, 403, 422, 429, 503)
WWW_AUTHENTICATE: Final = {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}}


def errors(*statuses: int, authenticated: bool = True) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: the given statuses (plus the ones every authenticated route can answer)."""
    chosen = sorted(set(statuses) | (set(AUTHENTICATED) if authenticated else set()))
    out: dict[int | str, dict[str, Any]] = {}
    for status in chosen:
        entry: dict[str, Any] = {"model": ErrorBody, "description": DESCRIPTIONS[status]}
        if status in (429, 503):
            entry["headers"] = RETRY_AFTER
        elif status == 401:
            entry["headers"] = WWW_AUTHENTICATE
        out[status] = entry
    return out


def document_security(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """The API-key header schemes in ``app``'s OpenAPI schema: under ``components.securitySchemes``, and as the
    ``security`` of each operation of ``routers`` whose route checks a key. The key checks read the headers
    themselves (see :mod:`tgsessions.api.auth`), so FastAPI does not see the schemes it would otherwise document."""
    generate = app.openapi
    schemes = {name: jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
               for name, scheme in KEY_SCHEMES.items()}  # fmt: skip
    security: list[dict[str, list[str]]] = [{name: []} for name in KEY_SCHEMES]
    guarded = [(route.path_format, method.lower()) for router in routers for route in router.routes
               if isinstance(route, APIRoute) and route.include_in_schema
               and any(is_key_check(dependency.call) for dependency in route.dependant.dependencies)
               for method in route.methods or ()]  # fmt: skip

    def openapi() -> dict[str, Any]:
        schema = generate()  # FastAPI's, generated once and cached
        schema.setdefault("components", {})["securitySchemes"] = schemes
        for path, method in guarded:
            schema["paths"][path][method]["security"] = security
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
