"""The API profiles one process can serve (``TGS_API_COMPAT``, ``tgsessions serve --compat``)."""

from __future__ import annotations

from enum import StrEnum


class ApiProfile(StrEnum):
    NATIVE = "native"  # tgsessions' own API (camelCase, richer)
    ORIGINAL = "original"  # a drop-in for the replaced NestJS service's callers (docs/compat-original.md)
