"""Path and query parameters shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from tgsessions.api.schemas.sessions import SessionFormatName

Mobile = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="The phone number in international format: digits, an optional leading `+`, separators allowed.",
        examples=["79990000001"],
    ),
]

OutputFormat = Annotated[
    SessionFormatName,
    Query(
        alias="format",
        description="The layout of the returned session string: `telethon` (default), `gramjs` (npm `telegram`) or "
        "`pyrogram` (needs the account's user id, learnt at the first validation; 409 until then).",
    ),
]
