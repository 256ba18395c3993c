"""Which key ids the stored secrets are under: a count per kind and key id, read in pages (nothing decrypted)."""

from __future__ import annotations

from tgsessions.domain.errors import SecretUnreadable
from tgsessions.domain.key_rotation import KINDS, UNREADABLE, KeyRotationStore, KeyUsage
from tgsessions.domain.ports import Cipher


def check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")


def key_id_of(cipher: Cipher, blob: bytes) -> str:
    """The key id ``blob`` names, or UNREADABLE when its format is not recognised."""
    try:
        return cipher.key_id_of(bytes(blob))
    except SecretUnreadable:
        return UNREADABLE


async def count_key_usage(store: KeyRotationStore, cipher: Cipher, *, batch_size: int = 1000) -> KeyUsage:
    """Count the ciphertexts per kind and key id (a read of every ciphertext, in pages; no decryption)."""
    check_batch_size(batch_size)
    counts: dict[str, dict[str, int]] = {}
    for kind in KINDS:
        per_key: dict[str, int] = {}
        cursor = 0
        while True:
            rows = await store.ciphertexts(kind, after_id=cursor, limit=batch_size)
            for row in rows:
                key_id = key_id_of(cipher, row.blob)
                per_key[key_id] = per_key.get(key_id, 0) + 1
            if len(rows) < batch_size:
                break
            cursor = rows[-1].row_id
        counts[kind] = dict(sorted(per_key.items()))
    return KeyUsage(counts)
