"""One table from domain error to HTTP status, and the handlers that render every error in one JSON shape.

Every error body reads ``{"error": code, "message": text, "mobile"?: phone, "retryAfter"?: seconds}``; request
validation adds ``details``. Under the ``original`` profile the shape is the replaced NestJS service's,
``{"statusCode": status, "message": text or [texts], "error": "NotFoundException"}``, and request validation (and
a session string refused at the door) is 400 with one message per field, as its ValidationPipe answered. Request
validation (field paths and messages only: the rejected input is never echoed, since it may be a
session string or a password). Anything unexpected becomes a bare 500 with nothing taken from the exception.
"""

from __future__ import annotations

import logging
import math
import traceback
from collections.abc import Mapping
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tgsessions.api.profiles import ApiProfile
from tgsessions.domain.errors import (
    AccountExists,
    AccountUnavailable,
    ConcurrentModification,
    ConfigurationError,
    Forbidden,
    FormatUnavailable,
    InvalidInput,
    LoginBudgetSpent,
    MaintenanceRunning,
    MintFailed,
    NotFound,
    RateLimited,
    RetryLater,
    SecretUnreadable,
    SessionRejected,
    StorageUnavailable,
    TelegramUnavailable,
    TgSessionsError,
    TwoFactorInvalid,
    Unauthenticated,
    UnknownPhone,
    UnknownSessionFormat,
)

log = logging.getLogger("tgsessions.api")

#: The status of each domain error; a subclass not listed takes its nearest listed base (see :func:`status_for`).
STATUS_BY_ERROR: Final[Mapping[type[TgSessionsError], int]] = {
    InvalidInput: 400,
    SessionRejected: 422,
    UnknownSessionFormat: 422,
    FormatUnavailable: 409,
    Unauthenticated: 401,
    Forbidden: 403,
    UnknownPhone: 404,
    NotFound: 404,
    AccountExists: 409,
    AccountUnavailable: 409,  # unrecoverable, banned, deactivated
    ConcurrentModification: 409,
    MaintenanceRunning: 409,
    MintFailed: 409,  # 503 when the failure is transient
    TwoFactorInvalid: 409,
    LoginBudgetSpent: 429,
    RateLimited: 429,
    RetryLater: 503,
    TelegramUnavailable: 503,
    StorageUnavailable: 503,
    SecretUnreadable: 503,
    ConfigurationError: 503,
}
TRANSIENT_MINT_STATUS: Final = 503
#: Every 409, 429 and 503 says when to come back. Errors that know it (RetryLater) say it themselves; for the others:
RETRY_AFTER_DEFAULTS: Final[Mapping[type[TgSessionsError], int]] = {
    ConcurrentModification: 5,  # another caller holds the phone: its lease is renewed or expires within 10 s
    MaintenanceRunning: 30,
    MintFailed: 60,
    ConfigurationError: 60,
    SecretUnreadable: 60,
}
RETRY_AFTER_OTHER: Final = 300  # a conflict that waiting alone will not clear (exists, banned): ask again later
MESSAGE_FIELDS: Final = 5  # a validation message names up to this many fields (details lists them all)
INTERNAL_ERROR: Final = {"error": "internal_error", "message": "internal error"}
HTTP_CODES: Final = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


NEST_ERRORS: Final = {
    400: "BadRequestException",
    401: "UnauthorizedException",
    403: "ForbiddenException",
    404: "NotFoundException",
    405: "MethodNotAllowedException",
    406: "NotAcceptableException",
    408: "RequestTimeoutException",
    409: "ConflictException",
    413: "PayloadTooLargeException",
    415: "UnsupportedMediaTypeException",
    422: "UnprocessableEntityException",
    429: "ThrottlerException",
    500: "InternalServerErrorException",
    503: "ServiceUnavailableException",
}


def nest_body(status: int, message: str | list[str], **extra: Any) -> dict[str, Any]:
    """An error as the replaced NestJS service wrote it (its ExceptionsFilter)."""
    body: dict[str, Any] = {"statusCode": status, "message": message, "error": NEST_ERRORS.get(status, "HttpException")}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def _original(app: Any) -> bool:
    state = getattr(app, "state", None)
    return getattr(state, "profile", ApiProfile.NATIVE) is ApiProfile.ORIGINAL


def status_for(exc: TgSessionsError) -> int:
    """The HTTP status of a domain error; 500 for one the table does not know."""
    if isinstance(exc, MintFailed) and exc.transient:
        return TRANSIENT_MINT_STATUS
    for cls in type(exc).__mro__:
        status = STATUS_BY_ERROR.get(cls)
        if status is not None:
            return int(status)
    return 500


def retry_after_seconds(seconds: float) -> int:
    """Retry-After in whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(seconds))


def error_body(code: str, message: str, *, mobile: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "message": message}
    if mobile is not None:
        body["mobile"] = mobile
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def domain_error_response(exc: TgSessionsError, *, original: bool = False) -> JSONResponse:
    status = status_for(exc)
    if status == 500:
        log.error("unmapped domain error %s", type(exc).__name__)
        return JSONResponse(nest_body(500, "Internal server error") if original else INTERNAL_ERROR, status_code=500)
    if original and status == 422:
        status = 400  # a string refused at the door: the original's ValidationPipe answered 400
    headers: dict[str, str] = {}
    retry_after = None
    if isinstance(exc, RetryLater):
        retry_after = retry_after_seconds(exc.retry_after)
    elif status in (409, 429, 503):
        retry_after = next((s for cls, s in RETRY_AFTER_DEFAULTS.items() if isinstance(exc, cls)), RETRY_AFTER_OTHER)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if original:  # a refused input reads as the ValidationPipe's answers did: a list of messages
        message: str | list[str] = [exc.message] if isinstance(exc, InvalidInput) else exc.message
        body = nest_body(status, message, code=exc.code, retryAfter=retry_after)
    else:
        body = error_body(exc.code, exc.message, mobile=exc.phone, retryAfter=retry_after)
    return JSONResponse(body, status_code=status, headers=headers)


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def validation_details(exc: RequestValidationError) -> list[dict[str, str]]:
    """Field paths and messages only: no ``input``, no ``ctx`` (either may hold a submitted secret)."""
    return [{"field": _field_path(tuple(err.get("loc", ()))), "message": str(err.get("msg", "invalid"))}
            for err in exc.errors()]  # fmt: skip


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TgSessionsError)
    return domain_error_response(exc, original=_original(request.app))


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = validation_details(exc)
    if _original(request.app):
        messages = [f"{d['field']}: {d['message']}" for d in details] or ["request validation failed"]
        return JSONResponse(nest_body(400, messages, code="validation_error"), status_code=400)
    shown = details[:MESSAGE_FIELDS] or [{"field": "request", "message": "invalid"}]
    message = "request validation failed at " + "; ".join(f"{d['field']}: {d['message']}" for d in shown)
    if len(details) > MESSAGE_FIELDS:
        message += f" (and {len(details) - MESSAGE_FIELDS} more)"
    return JSONResponse(error_body("validation_error", message, details=details), status_code=422)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = "no such route"
    body = nest_body(exc.status_code, message) if _original(request.app) else error_body(code, message)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TgSessionsError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_middleware(InternalErrorMiddleware)


class InternalErrorMiddleware:
    """Turns an unexpected exception into ``500 {"error": "internal_error"}`` without re-raising it. The log names
    the exception type and where it happened, never its message (driver messages may quote parameters)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("unexpected %s in %s %s\n%s", type(exc).__name__, scope.get("method"), scope.get("path"), frames)
            if started:
                raise
            body = nest_body(500, "Internal server error") if _original(scope.get("app")) else INTERNAL_ERROR
            await JSONResponse(body, status_code=500)(scope, receive, send)
