"""Bodies and answers of the ``original`` profile, named as the replaced service named them (camelCase).

Request bodies refuse unknown fields (400 naming them): a caller never loses data silently. They validate strictly:
no bool, float or string for a number, no number for a string (``{"maxSessions": false}`` is refused, not read as
0); the layout takes its JSON string."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tgsessions.api.schemas.sessions import FormatIn

SessionText = Annotated[SecretStr, Field(min_length=1, max_length=4096)]


class StrictBody(BaseModel):
    """Unknown fields refused; every value of its field's JSON type (strict: nothing is coerced)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class CreateBody(StrictBody):
    mobile: Annotated[str, Field(min_length=1, max_length=64)]
    session: SessionText = Field(description="The primary session, in any layout (GramJS, Telethon, Pyrogram).")
    oldSessions: list[SessionText] = Field(default_factory=list, max_length=50, description="Stored as the backups.")
    format: FormatIn | None = Field(None, description="Force the layout of every string; else detected.")


class NewSessionBody(StrictBody):
    newSession: SessionText = Field(description="Must be alive and of this phone (a tightening of the original).")


class PatchBody(StrictBody):
    session: SessionText = Field(description="The only field that can be changed: works as PUT .../session does.")


class CleanupBody(StrictBody):
    maxSessions: int = Field(5, ge=0, le=20)


class BatchBody(StrictBody):
    mobiles: list[Annotated[str, Field(max_length=64)]] | None = None


class HistoryEntry(BaseModel):
    session: str = Field(description="The session's non-secret session_id followed by `...` (never its string).")
    action: str
    timestamp: datetime
    status: str
    source: str | None = None


class Record(BaseModel):
    """The replaced service's archived-client document. ``session``/``oldSessions`` only for `sessions:read`."""

    id: str
    mobile: str
    session: str | None = Field(None, description="Absent without `sessions:read`.")
    oldSessions: list[str] | None = Field(None, description="Absent without `sessions:read`.")
    sessionId: str | None = None
    oldSessionIds: list[str]
    lastUpdated: datetime | None = None
    lastCleanup: datetime | None = None
    sessionHistory: list[HistoryEntry]
    createdAt: datetime
    updatedAt: datetime


class DeletedRecord(Record):
    deletedSessionIds: list[str]
    revokedSessionIds: list[str]


class BatchEntry(BaseModel):
    mobile: str
    client: Record | None
    error: str | None = None


class OriginalHealthMetrics(BaseModel):
    # published as "HealthMetrics" (component name and title), the name the replaced service gave it: the OpenAPI
    # component name is the class's __qualname__
    __qualname__ = "HealthMetrics"
    model_config = ConfigDict(title="HealthMetrics")

    activeOldSessions: int
    lastUpdated: datetime
    sessionAge: str = Field(description='The primary\'s age, e.g. "2 hours ago".')
    reliability: str = Field(description="high, medium or low.")


class SessionStatus(BaseModel):
    mobile: str
    isMainSessionActive: bool
    totalOldSessions: int
    lastChecked: datetime
    healthMetrics: OriginalHealthMetrics


class OriginalCacheStatsOut(BaseModel):
    __qualname__ = "CacheStatsOut"  # published as "CacheStatsOut", as OriginalHealthMetrics keeps its name
    model_config = ConfigDict(title="CacheStatsOut")

    totalEntries: int
    validEntries: int
    expiredEntries: int
    cacheHitRate: str = Field(description='e.g. "87%".')
    lastCleanup: datetime
