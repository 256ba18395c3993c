"""API-key authentication and scope checks, as FastAPI dependencies.

Order: a key in the query string is refused (400: it would end up in access logs) — except ``?apiKey=`` under the
``original`` profile, whose callers send it (access logs never carry the query string, and the redaction step masks
keys); then the key from ``Authorization: Bearer``, ``X-API-Key`` (or that ``apiKey``) is authenticated (401 with
``WWW-Authenticate: Bearer``); then the scope is checked (403 naming it); then the key's rate limit is taken (429
with ``Retry-After``).
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

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


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def identify(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header_key: Annotated[str | None, Depends(api_key_header)],
) -> ApiKey:
    """The caller's active key (no scope checked, no rate limit taken yet)."""
    query_key = request.query_params.get(COMPAT_QUERY_KEY) if profile_of(request) is ApiProfile.ORIGINAL else None
    allowed = {COMPAT_QUERY_KEY} if query_key is not None else set()
    if any(name.lower() in QUERY_KEY_NAMES and name not in allowed for name in request.query_params):
        raise InvalidInput("API keys are not accepted in the query string (it ends up in logs): send the key in a "
                           "header, 'Authorization: Bearer <key>' or 'X-API-Key: <key>'", field="query")  # fmt: skip
    presented = credentials.credentials if credentials is not None else header_key or query_key
    return await runtime.keys.authenticate(presented)


Identified = Annotated[ApiKey, Depends(identify)]


async def any_key(key: Identified, runtime: RuntimeDep) -> ApiKey:
    """Any valid key, whatever its scopes; its rate limit taken."""
    runtime.limiter.check(key)
    return key


class RequireScope:
    """Dependency: a valid key that holds ``scope`` (scopes do not imply each other), its rate limit taken."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, key: Identified, runtime: RuntimeDep) -> ApiKey:
        if not key.allows(self.scope):
            raise Forbidden(f"this API key lacks the scope {self.scope.value}")
        runtime.limiter.check(key)
        return key


class RequireAnyScope:
    """Dependency: a valid key that holds one of ``scopes``, its rate limit taken."""

    def __init__(self, *scopes: Scope) -> None:
        self.scopes = scopes

    async def __call__(self, key: Identified, runtime: RuntimeDep) -> ApiKey:
        if not any(key.allows(scope) for scope in self.scopes):
            names = " or ".join(scope.value for scope in self.scopes)
            raise Forbidden(f"this API key lacks the scope {names}")
        runtime.limiter.check(key)
        return key


AnyKey = Annotated[ApiKey, Depends(any_key)]
MetricsRead = Annotated[ApiKey, Depends(RequireAnyScope(Scope.METRICS_READ, Scope.ADMIN))]
SessionsRead = Annotated[ApiKey, Depends(RequireScope(Scope.SESSIONS_READ))]
SessionsWrite = Annotated[ApiKey, Depends(RequireScope(Scope.SESSIONS_WRITE))]
StatusRead = Annotated[ApiKey, Depends(RequireScope(Scope.STATUS_READ))]
Admin = Annotated[ApiKey, Depends(RequireScope(Scope.ADMIN))]
