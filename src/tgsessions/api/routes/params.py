"""Path and query parameters shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

Mobile = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="The phone number in international format: digits, an optional leading `+`, separators allowed.",
        examples=["79990000001"],
    ),
]
