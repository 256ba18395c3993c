"""Data-key rotation over the stored ciphertexts: which key each row uses, and re-encryption to the active key.

Three columns hold ciphertext (see mapping.py for their AAD rules), each a *kind* here:

* ``session`` — ``sessions.string_ct``, bound to ``tgs:session:{account_id}:{session_id}``
* ``two_fa`` — ``accounts.two_fa_ct``, bound to ``tgs:2fa:{phone}``
* ``proxy`` — ``accounts.proxy_ct``, bound to ``tgs:proxy:{phone}``

Every blob names the key that made it (``cipher.key_id_of``), so no schema change is needed: the rows are read in
pages by primary key and the key ids are looked at in Python. Re-encryption decrypts a blob with the key it names
and encrypts the plaintext again under the cipher's active key *with the same AAD*, so the row binding is kept.

Each page is one transaction: read up to ``batch_size`` rows with ``id > cursor``, rewrite those not on the active
key, commit. The update is a compare-and-swap (``WHERE id = :id AND col = :old``): a row that the service rewrote
meanwhile is left as the service wrote it. An interruption at any point loses at most the page in flight (rolled
back): every row is either wholly under its old key or wholly under the new one, and both decrypt as long as the
key ring holds both. Running :meth:`SqlKeyRotation.reencrypt` again simply continues with whatever is left.

Nothing here prints or raises a plaintext, a ciphertext or key material: errors name the row (phone or session
id) and at most a key id.

At start, :func:`count_ciphertexts` and :func:`key_coverage` tell what the stored ciphertexts need from a key file
(see bootstrap.py): how many rows hold one, how many are under key ids the ring does not hold, and which of the
ring's keys decrypt none of a few sampled rows (a regenerated key file reuses the id ``k1`` with another key). They
count in SQL by the blob's key-id prefix, so no plaintext is ever produced but for those few samples.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Column, LargeBinary, Table, Update, bindparam, func, literal, not_, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tgsessions.adapters.sql.errors import translated
from tgsessions.adapters.sql.mapping import proxy_aad, session_aad, two_fa_aad
from tgsessions.adapters.sql.tables import accounts, sessions
from tgsessions.domain.errors import SecretUnreadable
from tgsessions.domain.ports import Cipher

UNREADABLE = "(unreadable)"  # the "key id" counted for a blob whose format is not recognised
BLOB_VERSION = 1  # the AES-GCM blob layout (adapters/crypto/aesgcm.py): version | id length | id | nonce | sealed
SAMPLES = 5  # rows tried per key id when checking that a key decrypts what is stored under its id
UNKNOWN_SCAN = 200  # rows under no known id looked at to name their key ids
_KEY_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class RotatingCipher(Cipher, Protocol):
    """A Cipher that also says which key it encrypts under (AesGcmCipher is one)."""

    @property
    def active_key_id(self) -> str: ...


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
KINDS = tuple(spec.kind for spec in CIPHERTEXT_COLUMNS)


@dataclass(frozen=True, slots=True)
class KeyUsage:
    """How many stored ciphertexts each key id encrypted, per kind: ``counts[kind][key_id]``."""

    counts: Mapping[str, Mapping[str, int]]

    def by_key(self) -> dict[str, int]:
        """Totals per key id over every kind."""
        totals: dict[str, int] = {}
        for per_key in self.counts.values():
            for key_id, count in per_key.items():
                totals[key_id] = totals.get(key_id, 0) + count
        return dict(sorted(totals.items()))

    def total(self) -> int:
        return sum(self.by_key().values())

    def not_on(self, key_id: str) -> int:
        """Rows whose ciphertext is under any key other than ``key_id`` (what a rotation to it has left to do)."""
        return sum(count for other, count in self.by_key().items() if other != key_id)

    def key_ids(self) -> set[str]:
        return set(self.by_key())


@dataclass(frozen=True, slots=True)
class BatchDone:
    """Reported after each committed batch."""

    kind: str
    scanned: int  # rows of this kind read so far in this run
    reencrypted: int  # rows rewritten so far in this run, over every kind


@dataclass(slots=True)
class RotationReport:
    target_key_id: str
    reencrypted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    batches: int = 0

    @property
    def total(self) -> int:
        return sum(self.reencrypted.values())


BatchHook = Callable[[BatchDone], Awaitable[None] | None]


class SqlKeyRotation:
    """Key usage and re-encryption over one engine, with a cipher whose ring holds every key in use."""

    def __init__(self, engine: AsyncEngine, cipher: RotatingCipher) -> None:
        self._engine = engine
        self._cipher = cipher

    async def usage(self, *, batch_size: int = 1000) -> KeyUsage:
        """Count the ciphertexts per kind and key id (a read of every ciphertext, in pages; no decryption)."""
        _check_batch_size(batch_size)
        counts: dict[str, dict[str, int]] = {}
        for spec in CIPHERTEXT_COLUMNS:
            per_key: dict[str, int] = {}
            cursor = 0
            while True:
                async with translated(), self._engine.connect() as conn:
                    rows = await _page(conn, spec, cursor, batch_size, with_aad=False)
                for row in rows:
                    key_id = self._key_id(row["blob"])
                    per_key[key_id] = per_key.get(key_id, 0) + 1
                if len(rows) < batch_size:
                    break
                cursor = rows[-1]["id"]
            counts[spec.kind] = dict(sorted(per_key.items()))
        return KeyUsage(counts)

    async def reencrypt(self, *, batch_size: int = 500, on_batch: BatchHook | None = None) -> RotationReport:
        """Rewrite every ciphertext that is not under the active key, one committed transaction per page.

        ``on_batch`` is called after each commit (an exception from it stops the run; what was committed stays).
        SecretUnreadable (naming the row and key id) when a blob does not decrypt with the ring: nothing of that
        page is written."""
        _check_batch_size(batch_size)
        report = RotationReport(self._cipher.active_key_id)
        for spec in CIPHERTEXT_COLUMNS:
            cursor, scanned = 0, 0
            while True:
                async with translated(), self._engine.begin() as conn:
                    rows = await _page(conn, spec, cursor, batch_size, with_aad=True)
                    changes = [self._reencrypted(spec, row) for row in rows if not self._on_active(row["blob"])]
                    if changes:
                        await conn.execute(_swap(spec), changes)
                report.reencrypted[spec.kind] += len(changes)
                report.batches += 1
                scanned += len(rows)
                if on_batch is not None:
                    outcome = on_batch(BatchDone(spec.kind, scanned, report.total))
                    if outcome is not None:
                        await outcome
                if len(rows) < batch_size:
                    break
                cursor = rows[-1]["id"]
        return report

    def _key_id(self, blob: bytes) -> str:
        try:
            return self._cipher.key_id_of(bytes(blob))
        except SecretUnreadable:
            return UNREADABLE

    def _on_active(self, blob: bytes) -> bool:
        return self._key_id(blob) == self._cipher.active_key_id

    def _reencrypted(self, spec: CiphertextColumn, row: RowMapping) -> dict[str, Any]:
        old = bytes(row["blob"])
        aad = spec.aad(row)
        try:
            plaintext = self._cipher.decrypt(old, aad=aad)
        except SecretUnreadable:
            raise SecretUnreadable(
                f"{spec.describe(row)} (key {self._key_id(old)}) cannot be decrypted with the key file's keys; "
                "nothing of its batch was written"
            ) from None
        return {"b_id": row["id"], "b_old": old, "b_new": self._cipher.encrypt(plaintext, aad=aad)}


def _check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")


async def _page(
    conn: AsyncConnection, spec: CiphertextColumn, after_id: int, limit: int, *, with_aad: bool
) -> list[RowMapping]:
    """Up to ``limit`` rows with a ciphertext in ``spec``'s column and ``id > after_id``, in id order."""
    id_column = spec.table.c.id
    columns = [id_column, spec.column.label("blob"), *(spec.aad_columns if with_aad else ())]
    statement = select(*columns).where(spec.column.is_not(None), id_column > after_id).order_by(id_column).limit(limit)
    return list((await conn.execute(statement)).mappings().all())


def _swap(spec: CiphertextColumn) -> Update:
    """Compare-and-swap of one ciphertext (executed for many rows at once)."""
    return (
        update(spec.table)
        .where(spec.table.c.id == bindparam("b_id"), spec.column == bindparam("b_old"))
        .values({spec.column.name: bindparam("b_new")})
    )


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


@dataclass(frozen=True, slots=True)
class KeyCoverage:
    """What the stored ciphertexts need from a key ring.

    ``rows`` counts the ciphertexts per kind; ``unknown`` the rows per key id the ring does not hold (only ids that
    look like key ids: a corrupted blob is left to the row's own handling); ``undecryptable`` the ring's key ids
    whose sampled rows all failed to decrypt (the right id, the wrong key); ``readable`` the rows under the ring's
    other ids."""

    rows: Mapping[str, int]
    unknown: Mapping[str, int]
    undecryptable: Mapping[str, int]
    readable: int

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    @property
    def unreadable(self) -> int:
        """Rows the ring cannot decrypt: under unknown ids, or under one of its keys that decrypts nothing."""
        return sum(self.unknown.values()) + sum(self.undecryptable.values())


async def count_ciphertexts(engine: AsyncEngine) -> dict[str, int]:
    """Rows holding a ciphertext, per kind (one COUNT per column; nothing decrypted)."""
    counts: dict[str, int] = {}
    async with translated(), engine.connect() as conn:
        for spec in CIPHERTEXT_COLUMNS:
            counts[spec.kind] = int((await conn.execute(select(func.count(spec.column)))).scalar_one())
    return counts


async def key_coverage(engine: AsyncEngine, cipher: RotatingCipher, key_ids: Sequence[str]) -> KeyCoverage:
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
