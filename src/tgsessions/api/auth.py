"""API-key authentication and scope checks, as FastAPI dependencies.

Order: a key in the query string is refused (400: it would end up in access logs) — except ``?apiKey=`` under the
``original`` profile, whose callers send it (access logs never carry the query string, and the redaction step masks
keys); then the key from ``Authorization: Bearer``, ``X-API-Key`` (or that ``apiKey``) is authenticated (401 with
``WWW-Authenticate: Bearer``); then the scope is checked (403 naming it); then the key's rate limit is taken (429
with ``Retry-After``).

Each check is ONE dependency that reads the request itself: FastAPI solves every dependency (and its parameters)
anew on each request, so the header schemes are called here, not declared as sub-dependencies, and the OpenAPI
security they stand for is written by :func:`tgsessions.api.openapi.document_security` (:data:`KEY_SCHEMES`).
Every dependency is a coroutine: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop each.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer

from tgsessions.api.profiles import ApiProfile
from tgsessions.domain.access import ApiKey, Scope
from tgsessions.domain.errors import Forbidden, InvalidInput
from tgsessions.service.runtime import Runtime

QUERY_KEY_NAMES: Final = frozenset({"api_key", "apikey", "key", "token", "access_token"})
COMPAT_QUERY_KEY: Final = "apiKey"  # the replaced service's callers send their key so


def profile_of(request: Request) -> ApiProfile:
    profile: ApiProfile = getattr(request.app.state, "profile", ApiProfile.NATIVE)
    return profile


bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: <key>`")


async def get_runtime(request: Request) -> Runtime:
    """The app's runtime (a coroutine: see the module)."""
    return runtime_of(request)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def identify(request: Request) -> ApiKey:
    """The caller's active key (no scope checked, no rate limit taken yet)."""
    query_params = request.query_params
    query_key = query_params.get(COMPAT_QUERY_KEY) if profile_of(request) is ApiProfile.ORIGINAL else None
    allowed = {COMPAT_QUERY_KEY} if query_key is not None else set()
    if any(name.lower() in QUERY_KEY_NAMES and name not in allowed for name in query_params):
        raise InvalidInput("API keys are not accepted in the query string (it ends up in logs): send the key in a "
                           "header, 'Authorization: Bearer <key>' or 'X-API-Key: <key>'", field="query")  # fmt: skip
    credentials = await bearer(request)
    presented = credentials.credentials if credentials is not None else await api_key_header(request) or query_key
    return await runtime_of(request).keys.authenticate(presented)


async def any_key(request: Request) -> ApiKey:
    """Any valid key, whatever its scopes; its rate limit taken."""
    key = await identify(request)
    runtime = runtime_of(request)
    await runtime.limiter.check(key)
    return key


class RequireScope:
    """Dependency: a valid key that holds ``scope`` (scopes do not imply each other), its rate limit taken."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, request: Request) -> ApiKey:
        key = await identify(request)
        runtime = runtime_of(request)
        if not key.allows(self.scope):
            raise Forbidden(f"this API key lacks the scope {self.scope.value}")
        await runtime.limiter.check(key)
        return key


class RequireAnyScope:
    """Dependency: a valid key that holds one of ``scopes``, its rate limit taken."""

    def __init__(self, *scopes: Scope) -> None:
        self.scopes = scopes

    async def __call__(self, request: Request) -> ApiKey:
        key = await identify(request)
        runtime = runtime_of(request)
        if not any(key.allows(scope) for scope in self.scopes):
            names = " or ".join(scope.value for scope in self.scopes)
            raise Forbidden(f"this API key lacks the scope {names}")
        await runtime.limiter.check(key)
        return key


def is_key_check(call: object) -> bool:
    """Whether a dependency's callable is one of the key checks above (its route needs a key)."""
    return call is any_key or isinstance(call, RequireScope | RequireAnyScope)


#: The header schemes a key check reads, as OpenAPI security schemes (name -> scheme object).
KEY_SCHEMES: Final = {"HTTPBearer": bearer, "APIKeyHeader": api_key_header}

AnyKey = Annotated[ApiKey, Depends(any_key)]
MetricsRead = Annotated[ApiKey, Depends(RequireAnyScope(Scope.METRICS_READ, Scope.ADMIN))]
SessionsRead = Annotated[ApiKey, Depends(RequireScope(Scope.SESSIONS_READ))]
SessionsWrite = Annotated[ApiKey, Depends(RequireScope(Scope.SESSIONS_WRITE))]
StatusRead = Annotated[ApiKey, Depends(RequireScope(Scope.STATUS_READ))]
Admin = Annotated[ApiKey, Depends(RequireScope(Scope.ADMIN))]
