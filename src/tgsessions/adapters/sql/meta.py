"""The ``meta`` table: facts about the database itself, one value per name (see migration 0006).

``telegram_backend`` names the Telegram backend that wrote the database; bootstrap.check_backend_record reads and
writes it at start. Nothing secret is ever stored here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tgsessions.adapters.sql.errors import translated
from tgsessions.adapters.sql.tables import meta, sessions

TELEGRAM_BACKEND = "telegram_backend"


async def read(engine: AsyncEngine, name: str) -> str | None:
    async with translated(), engine.connect() as conn:
        value = (await conn.execute(select(meta.c.value).where(meta.c.name == name))).scalar_one_or_none()
    return None if value is None else str(value)


async def write(engine: AsyncEngine, name: str, value: str, now: datetime) -> None:
    """Set ``name`` to ``value`` (insert or update; two starts racing on a new database both end with a row)."""
    async with translated(), engine.begin() as conn:
        changed = await conn.execute(update(meta).where(meta.c.name == name).values(value=value, updated_at=now))
        if changed.rowcount:
            return
        try:
            async with conn.begin_nested():
                await conn.execute(insert(meta).values(name=name, value=value, updated_at=now))
        except IntegrityError:  # inserted meanwhile by another start
            await conn.execute(update(meta).where(meta.c.name == name).values(value=value, updated_at=now))


async def stored_sessions(engine: AsyncEngine) -> int:
    """How many session rows the database holds (retired ones included)."""
    async with translated(), engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(sessions))).scalar_one())
