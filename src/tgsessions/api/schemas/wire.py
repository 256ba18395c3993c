"""How the native API's bodies look on the wire: the camelCase base models, plain-text fields and the error body.

The native API has one naming convention on the wire, camelCase (attributes stay snake_case in Python): responses
derive from :class:`CamelModel`, request bodies from :class:`RequestModel`, which refuses unknown fields and
snake_case spellings of known ones (422 naming the field), so a misspelt field is never silently dropped, and
validates strictly: no bool, float or string for a number, no number for a string (``{"maxSessions": false}`` is
refused, never read as 0). An enum field that must accept its JSON string carries ``Strict(False)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

V = TypeVar("V")


class CamelModel(BaseModel):
    """A response: fields are snake_case in Python and camelCase on the wire (built in Python by field name)."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )


class RequestModel(BaseModel):
    """A request body: camelCase names only; an unknown field, or a snake_case spelling of a known one, is refused;
    every value must have its field's JSON type (strict: nothing is coerced)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=False,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        strict=True,
    )


def camel_keys(mapping: Mapping[str, V]) -> dict[str, V]:
    """A free-form JSON object (a report, an event's detail) with its top-level keys in camelCase."""
    return {to_camel(key): value for key, value in mapping.items()}


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
