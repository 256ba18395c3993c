"""Shared pieces of the request/response schemas: the error body and the camelCase base model."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    """Fields are snake_case in Python and camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


def _plain_text(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must not contain control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


PlainText = AfterValidator(_plain_text)
Name = Annotated[str, Field(min_length=1, max_length=64), PlainText]
Host = Annotated[str, Field(min_length=1, max_length=253), PlainText]


class FieldError(BaseModel):
    field: str = Field(description="Where in the request, e.g. `body.newSession` or `path.mobile`.")
    message: str


class ErrorBody(BaseModel):
    """Every error response. The message never contains a session string, a password or an API key."""

    error: str = Field(description="A stable machine-readable code, e.g. `unknown_phone`.", examples=["unknown_phone"])
    message: str = Field(description="What went wrong, readable by a human.")
    mobile: str | None = Field(None, description="The phone number concerned, when there is one.")
    retryAfter: int | None = Field(None, description="Seconds to wait before retrying (also in `Retry-After`).")
    details: list[FieldError] | None = Field(None, description="Request validation: each rejected field.")
