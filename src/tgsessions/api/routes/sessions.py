"""Adding accounts, replacing the primary session, and cleaning up backups (scope ``sessions:write``)."""

from __future__ import annotations

from fastapi import APIRouter, status

from tgsessions.api.auth import RuntimeDep, SessionsWrite
from tgsessions.api.openapi import errors
from tgsessions.api.presenters import cleanup_out, session_meta
from tgsessions.api.routes.params import Mobile
from tgsessions.api.schemas.sessions import (
    AccountOut,
    AddAccountRequest,
    CleanupOut,
    CleanupRequest,
    SessionMeta,
    UpdateSessionRequest,
)
from tgsessions.domain.errors import InvalidInput
from tgsessions.domain.model import ClientIdentity, Proxy
from tgsessions.domain.secret import Secret
from tgsessions.domain.session_codec import SessionFormat

router = APIRouter(prefix="/archived-clients", tags=["sessions"])


@router.post(
    "",
    summary="Add an account with its sessions",
    description="Sessions are stored as given (fetch and maintenance validate them); the response lists them by "
    "sessionId, without strings.",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountOut,
    responses=errors(409),
)
async def add_account(body: AddAccountRequest, key: SessionsWrite, runtime: RuntimeDep) -> AccountOut:
    identity = None
    if body.identity is not None:
        i = body.identity
        identity = ClientIdentity(i.api_id, i.device_model, i.system_version, i.app_version, i.lang_code,
                                  i.system_lang_code)  # fmt: skip
    proxy = None
    if body.proxy is not None:
        p = body.proxy
        password = Secret(p.password.get_secret_value()) if p.password is not None else None
        proxy = Proxy(p.scheme, p.host, p.port, p.username, password)
    if body.old_sessions is not None and body.backups:
        raise InvalidInput("give the backups as backups or as oldSessions, not both", field="oldSessions")
    added = await runtime.factory.add_account(
        body.mobile,
        primary=body.session.get_secret_value() if body.session is not None else None,
        keeper=body.keeper_session.get_secret_value() if body.keeper_session is not None else None,
        backups=[b.get_secret_value() for b in (body.old_sessions or body.backups)],
        fmt=SessionFormat(body.format.value) if body.format is not None else None,
        two_fa=body.two_factor_password.get_secret_value() if body.two_factor_password is not None else None,
        identity=identity,
        proxy=proxy,
        actor=key.actor,
    )
    return AccountOut(mobile=added.phone, sessions=[session_meta(s) for s in added.sessions])


@router.put(
    "/{mobile}/session",
    summary="Replace the primary session",
    description="The new session must be alive and belong to this phone, else 422. The old primary, unless dead, "
    "becomes the newest backup.",
    response_model=SessionMeta,
    responses=errors(404, 409),
)
async def update_session(
    mobile: Mobile, body: UpdateSessionRequest, key: SessionsWrite, runtime: RuntimeDep
) -> SessionMeta:
    fmt = SessionFormat(body.format.value) if body.format is not None else None
    info = await runtime.factory.update_session(mobile, body.new_session.get_secret_value(), actor=key.actor, fmt=fmt)
    return session_meta(info)


@router.post(
    "/{mobile}/cleanup-sessions",
    summary="Retire dead backups and revoke live ones beyond the limit",
    description="The primary, the keeper and the last live session are never touched.",
    response_model=CleanupOut,
    responses=errors(404, 409),
)
async def cleanup_sessions(
    mobile: Mobile, key: SessionsWrite, runtime: RuntimeDep, body: CleanupRequest | None = None
) -> CleanupOut:
    limit = body.max_sessions if body is not None else None  # None: the factory default (5)
    report = await runtime.factory.cleanup_sessions(mobile, limit, actor=key.actor)
    return cleanup_out(report)
