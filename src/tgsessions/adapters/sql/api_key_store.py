"""SqlApiKeyStore: the ApiKeyStore port over SQLAlchemy Core, inside one connection's transaction."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tgsessions.adapters.sql import mapping
from tgsessions.adapters.sql.integrity import violates_unique
from tgsessions.adapters.sql.tables import api_keys
from tgsessions.domain.access import ApiKey
from tgsessions.domain.errors import InvalidInput, NotFound

_UNIQUE_COLUMNS = ("name", "key_id", "key_hash")


def duplicate_key(name: str) -> InvalidInput:
    """The error for a key whose name, key_id (or, astronomically unlikely, hash) is already used."""
    return InvalidInput(f"an API key named {name} already exists", field="name")


class SqlApiKeyStore:
    """Keys in the ``api_keys`` table; only their keyed hash is stored. Returned keys are fresh objects.

    ``save_key`` writes what may change after creation (name, scopes, revoked_at, rate_limit_per_minute); key_id,
    key_hash and created_at are fixed at ``add_key``.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add_key(self, key: ApiKey) -> ApiKey:
        try:
            async with self._conn.begin_nested():  # a failed insert leaves the unit of work usable
                result = await self._conn.execute(
                    insert(api_keys).values(mapping.key_values(key)).returning(api_keys.c.id)
                )
                key.id = result.scalar_one()
        except IntegrityError as exc:
            if any(violates_unique(exc, "api_keys", column) for column in _UNIQUE_COLUMNS):
                raise duplicate_key(key.name) from None
            raise
        return key

    async def key_by_id(self, key_id: str) -> ApiKey | None:
        row = (await self._conn.execute(select(api_keys).where(api_keys.c.key_id == key_id))).mappings().first()
        return mapping.key_from_row(row) if row is not None else None

    async def keys(self) -> list[ApiKey]:
        rows = (await self._conn.execute(select(api_keys).order_by(api_keys.c.id))).mappings().all()
        return [mapping.key_from_row(row) for row in rows]

    async def save_key(self, key: ApiKey) -> None:
        """Raises InvalidInput when renamed to a name in use, NotFound when the key is not stored."""
        if key.id is None:
            raise ValueError("save_key needs a stored key (id is None)")
        values = mapping.key_values(key)
        changes = {column: values[column] for column in ("name", "scopes", "revoked_at", "rate_limit_per_minute")}
        try:
            async with self._conn.begin_nested():
                result = await self._conn.execute(update(api_keys).where(api_keys.c.id == key.id).values(changes))
        except IntegrityError as exc:
            if violates_unique(exc, "api_keys", "name"):
                raise duplicate_key(key.name) from None
            raise
        if result.rowcount != 1:
            raise NotFound(f"API key {key.key_id} is not stored")
