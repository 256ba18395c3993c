"""The :class:`~tgsessions.domain.key_rotation.KeyRotationStore` port in SQL: the ciphertext columns, read in pages by
primary key, and a compare-and-swap of rewritten blobs. The rotation itself (batches, resume, reports, usage per key
id) is the keys wing's (service/keys/).

Three columns hold ciphertext (see mapping.py for their AAD rules), each a *kind*:

* ``session`` — ``sessions.string_ct``, bound to ``tgs:session:{account_id}:{session_id}``
* ``two_fa`` — ``accounts.two_fa_ct``, bound to ``tgs:2fa:{phone}``
* ``proxy`` — ``accounts.proxy_ct``, bound to ``tgs:proxy:{phone}``

Every blob names the key that made it, so no schema change is needed: the key ids are looked at in Python. The
update is a compare-and-swap (``WHERE id = :id AND col = :old``), all of a page in one transaction: a row that the
service rewrote meanwhile is left as the service wrote it, and an interruption loses at most the page in flight.
Nothing here reads or writes a plaintext; errors name a row (phone or session id), never its content.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table, Update, bindparam, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from tgsessions.adapters.sql.errors import translated
from tgsessions.adapters.sql.mapping import proxy_aad, session_aad, two_fa_aad
from tgsessions.adapters.sql.tables import accounts, sessions
from tgsessions.domain.key_rotation import (
    KINDS,
    BoundCiphertext,
    CiphertextSwap,
    KeyRotationStore,
    StoredCiphertext,
)


@dataclass(frozen=True, slots=True)
class CiphertextColumn:
    """One ciphertext column: its table, the columns its AAD is built from, and how to name a row in errors."""

    kind: str
    table: Table
    column: Column[Any]
    aad_columns: tuple[Column[Any], ...]
    aad: Callable[[RowMapping], bytes]
    describe: Callable[[RowMapping], str]


CIPHERTEXT_COLUMNS: tuple[CiphertextColumn, ...] = (
    CiphertextColumn(
        "session",
        sessions,
        sessions.c.string_ct,
        (sessions.c.account_id, sessions.c.session_id),
        lambda row: session_aad(row["account_id"], row["session_id"]),
        lambda row: f"session {row['session_id']} of account id {row['account_id']}",
    ),
    CiphertextColumn(
        "two_fa",
        accounts,
        accounts.c.two_fa_ct,
        (accounts.c.phone,),
        lambda row: two_fa_aad(row["phone"]),
        lambda row: f"the 2FA password of account {row['phone']}",
    ),
    CiphertextColumn(
        "proxy",
        accounts,
        accounts.c.proxy_ct,
        (accounts.c.phone,),
        lambda row: proxy_aad(row["phone"]),
        lambda row: f"the proxy of account {row['phone']}",
    ),
)
COLUMNS_BY_KIND = {spec.kind: spec for spec in CIPHERTEXT_COLUMNS}
assert tuple(COLUMNS_BY_KIND) == KINDS, "every kind of stored secret has exactly one ciphertext column"


class SqlKeyRotationStore:
    """The ciphertext columns of one engine's database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def ciphertexts(self, kind: str, *, after_id: int, limit: int) -> list[StoredCiphertext]:
        spec = COLUMNS_BY_KIND[kind]
        return [StoredCiphertext(row["id"], bytes(row["blob"])) for row in await self._page(spec, after_id, limit)]

    async def bound_ciphertexts(self, kind: str, *, after_id: int, limit: int) -> list[BoundCiphertext]:
        spec = COLUMNS_BY_KIND[kind]
        rows = await self._page(spec, after_id, limit, spec.aad_columns)
        return [BoundCiphertext(row["id"], bytes(row["blob"]), spec.aad(row), spec.describe(row)) for row in rows]

    async def swap(self, kind: str, swaps: Sequence[CiphertextSwap]) -> None:
        if not swaps:
            return
        changes = [{"b_id": swap.row_id, "b_old": swap.old, "b_new": swap.new} for swap in swaps]
        async with translated(), self._engine.begin() as conn:
            await conn.execute(_swap(COLUMNS_BY_KIND[kind]), changes)

    async def _page(
        self, spec: CiphertextColumn, after_id: int, limit: int, extra: tuple[Column[Any], ...] = ()
    ) -> list[RowMapping]:
        """Up to ``limit`` rows with a ciphertext in ``spec``'s column and ``id > after_id``, in id order."""
        id_column = spec.table.c.id
        statement = (
            select(id_column, spec.column.label("blob"), *extra)
            .where(spec.column.is_not(None), id_column > after_id)
            .order_by(id_column)
            .limit(limit)
        )
        async with translated(), self._engine.connect() as conn:
            return list((await conn.execute(statement)).mappings().all())


def _swap(spec: CiphertextColumn) -> Update:
    """Compare-and-swap of one ciphertext (executed for many rows at once)."""
    return (
        update(spec.table)
        .where(spec.table.c.id == bindparam("b_id"), spec.column == bindparam("b_old"))
        .values({spec.column.name: bindparam("b_new")})
    )


def _conforms(store: SqlKeyRotationStore) -> KeyRotationStore:
    """Checked by mypy: SqlKeyRotationStore implements the port."""
    return store
