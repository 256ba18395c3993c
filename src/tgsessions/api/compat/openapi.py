"""OpenAPI documentation of the ``original`` profile's error responses (the NestJS shape)."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, Field

from tgsessions.api.openapi import DESCRIPTIONS, RETRY_AFTER


class NestError(BaseModel):
    """Every error, as the replaced NestJS service's ExceptionsFilter wrote it."""

    statusCode: int = Field(description="The HTTP status.")
    message: str | list[str] = Field(description="What went wrong; request validation lists one line per field.")
    error: str = Field(description="The NestJS exception name, e.g. `NotFoundException`.")


AUTHENTICATED: Final = (400, 401, 403, 409, 429, 503)  # 409: a format that cannot be written, a conflict


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses) | set(AUTHENTICATED)):
        entry: dict[str, Any] = {"model": NestError, "description": DESCRIPTIONS[status]}
        if status in (429, 503):
            entry["headers"] = RETRY_AFTER
        out[status] = entry
    return out
