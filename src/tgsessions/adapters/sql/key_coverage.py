"""What the stored ciphertexts need from a key file, checked at start (bootstrap turns the answers into refusals).

:func:`count_ciphertexts` and :func:`key_coverage` tell how many rows hold a ciphertext, how many are under key ids
the ring does not hold, and which of the ring's keys decrypt none of a few sampled rows (a regenerated key file
reuses the id ``k1`` with another key). They count in SQL by the blob's key-id prefix, so no plaintext is ever
produced but for those few samples. :func:`stored_ciphertexts_if_any` counts without creating or migrating anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import LargeBinary, func, literal, not_, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tgsessions.adapters.sql.engine import create_engine
from tgsessions.adapters.sql.errors import translated
from tgsessions.adapters.sql.rotation import CIPHERTEXT_COLUMNS, CiphertextColumn
from tgsessions.domain.errors import SecretUnreadable
from tgsessions.domain.key_rotation import KeyCoverage
from tgsessions.domain.ports import Cipher

BLOB_VERSION = 1  # the AES-GCM blob layout (adapters/crypto/aesgcm.py): version | id length | id | nonce | sealed
SAMPLES = 5  # rows tried per key id when checking that a key decrypts what is stored under its id
UNKNOWN_SCAN = 200  # rows under no known id looked at to name their key ids
_KEY_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def key_prefix(key_id: str) -> bytes:
    """How every blob encrypted under ``key_id`` starts."""
    raw = key_id.encode("ascii")
    return bytes([BLOB_VERSION, len(raw)]) + raw


def _prefixed(spec: CiphertextColumn, key_id: str) -> Any:
    prefix = key_prefix(key_id)
    return func.substr(spec.column, 1, len(prefix)) == literal(prefix, LargeBinary)


def _named_key_id(blob: bytes) -> str | None:
    """The key id a blob names, when it has the blob layout and a key id of the key file's alphabet."""
    blob = bytes(blob)
    if len(blob) < 2 or blob[0] != BLOB_VERSION or not 1 <= blob[1] <= 32 or len(blob) < 2 + blob[1]:
        return None
    key_id = blob[2 : 2 + blob[1]].decode("latin-1")
    return key_id if set(key_id) <= _KEY_ID_CHARS else None


async def count_ciphertexts(engine: AsyncEngine) -> dict[str, int]:
    """Rows holding a ciphertext, per kind (one COUNT per column; nothing decrypted)."""
    counts: dict[str, int] = {}
    async with translated(), engine.connect() as conn:
        for spec in CIPHERTEXT_COLUMNS:
            counts[spec.kind] = int((await conn.execute(select(func.count(spec.column)))).scalar_one())
    return counts


def _no_sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).is_file())


async def stored_ciphertexts_if_any(url: str) -> dict[str, int]:
    """The ciphertexts a database holds, per kind, without creating or migrating anything (empty when the
    database or its tables do not exist, or it cannot be read: the caller refuses to start either way)."""
    if _no_sqlite_file(url):
        return {}
    engine = create_engine(url)
    try:
        return await count_ciphertexts(engine)
    except Exception:  # no tables yet, or unreachable: nothing to count
        return {}
    finally:
        await engine.dispose()


async def key_coverage(engine: AsyncEngine, cipher: Cipher, key_ids: Sequence[str]) -> KeyCoverage:
    """Count the stored ciphertexts under each of ``key_ids`` (the ring's) and under ids outside them, and try up
    to SAMPLES rows of each known id: a key none of whose samples decrypts is reported as undecryptable."""
    rows = await count_ciphertexts(engine)
    per_key: dict[str, int] = dict.fromkeys(key_ids, 0)
    unknown: dict[str, int] = {}
    decrypted: dict[str, bool] = {}
    async with translated(), engine.connect() as conn:
        for spec in CIPHERTEXT_COLUMNS:
            if not rows[spec.kind]:
                continue
            known = 0
            for key_id in key_ids:
                where = _prefixed(spec, key_id)
                count = int((await conn.execute(select(func.count()).where(where))).scalar_one())
                per_key[key_id] += count
                known += count
                if count and not decrypted.get(key_id):
                    decrypted[key_id] = await _samples_decrypt(conn, spec, where, cipher)
            if known == rows[spec.kind]:
                continue
            others = [_prefixed(spec, key_id) for key_id in key_ids]
            statement = select(spec.column).where(spec.column.is_not(None))
            if others:
                statement = statement.where(not_(or_(*others)))
            for blob in (await conn.execute(statement.limit(UNKNOWN_SCAN))).scalars():
                named = _named_key_id(blob)
                if named is not None and named not in unknown:
                    unknown[named] = 0
            for key_id in list(unknown):
                where = _prefixed(spec, key_id)
                unknown[key_id] += int((await conn.execute(select(func.count()).where(where))).scalar_one())
    undecryptable = {k: n for k, n in per_key.items() if n and not decrypted.get(k)}
    readable = sum(n for k, n in per_key.items() if k not in undecryptable)
    return KeyCoverage(rows, {k: n for k, n in sorted(unknown.items()) if n}, undecryptable, readable)


async def _samples_decrypt(conn: AsyncConnection, spec: CiphertextColumn, where: Any, cipher: Cipher) -> bool:
    """Whether one of the first SAMPLES rows matching ``where`` decrypts (the plaintext is dropped at once)."""
    statement = (
        select(spec.table.c.id, spec.column.label("blob"), *spec.aad_columns)
        .where(where)
        .order_by(spec.table.c.id)
        .limit(SAMPLES)
    )
    for row in (await conn.execute(statement)).mappings():
        try:
            cipher.decrypt(bytes(row["blob"]), aad=spec.aad(row))
        except SecretUnreadable:
            continue
        return True
    return False
