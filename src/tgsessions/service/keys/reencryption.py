"""Re-encryption of every stored secret to the cipher's active key, in batches, through the KeyRotationStore port.

A blob is decrypted with the key it names and encrypted again under the active key *with the same AAD*, so the row
binding is kept. Each page (up to ``batch_size`` rows with ``id > cursor``) is read, the rows not on the active key
are re-encrypted, and the page's swaps are written in one transaction. The swap is a compare-and-swap: a row that
the service rewrote meanwhile is left as the service wrote it. An interruption at any point loses at most the page
in flight: every row is either wholly under its old key or wholly under the new one, and both decrypt as long as the
key ring holds both. Running :meth:`Reencryption.reencrypt` again simply continues with whatever is left.

Nothing here prints or raises a plaintext, a ciphertext or key material: errors name the row (phone or session id)
and at most a key id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tgsessions.domain.errors import SecretUnreadable
from tgsessions.domain.key_rotation import (
    KINDS,
    BatchDone,
    BoundCiphertext,
    CiphertextSwap,
    KeyRotationStore,
    KeyUsage,
    RotatingCipher,
    RotationReport,
)
from tgsessions.service.keys.usage import check_batch_size, count_key_usage, key_id_of

BatchHook = Callable[[BatchDone], Awaitable[None] | None]


class Reencryption:
    """Key usage and re-encryption over one store, with a cipher whose ring holds every key in use."""

    def __init__(self, store: KeyRotationStore, cipher: RotatingCipher) -> None:
        self._store = store
        self._cipher = cipher

    async def usage(self, *, batch_size: int = 1000) -> KeyUsage:
        """Count the ciphertexts per kind and key id (a read of every ciphertext, in pages; no decryption)."""
        return await count_key_usage(self._store, self._cipher, batch_size=batch_size)

    async def reencrypt(self, *, batch_size: int = 500, on_batch: BatchHook | None = None) -> RotationReport:
        """Rewrite every ciphertext that is not under the active key, one committed transaction per page.

        ``on_batch`` is called after each commit (an exception from it stops the run; what was committed stays).
        SecretUnreadable (naming the row and key id) when a blob does not decrypt with the ring: nothing of that
        page is written."""
        check_batch_size(batch_size)
        report = RotationReport(self._cipher.active_key_id)
        for kind in KINDS:
            cursor, scanned = 0, 0
            while True:
                rows = await self._store.bound_ciphertexts(kind, after_id=cursor, limit=batch_size)
                swaps = [self._reencrypted(row) for row in rows if not self._on_active(row.blob)]
                await self._store.swap(kind, swaps)
                report.reencrypted[kind] += len(swaps)
                report.batches += 1
                scanned += len(rows)
                if on_batch is not None:
                    outcome = on_batch(BatchDone(kind, scanned, report.total))
                    if outcome is not None:
                        await outcome
                if len(rows) < batch_size:
                    break
                cursor = rows[-1].row_id
        return report

    def _on_active(self, blob: bytes) -> bool:
        return key_id_of(self._cipher, blob) == self._cipher.active_key_id

    def _reencrypted(self, row: BoundCiphertext) -> CiphertextSwap:
        try:
            plaintext = self._cipher.decrypt(row.blob, aad=row.aad)
        except SecretUnreadable:
            raise SecretUnreadable(
                f"{row.row} (key {key_id_of(self._cipher, row.blob)}) cannot be decrypted with the key file's keys; "
                "nothing of its batch was written"
            ) from None
        return CiphertextSwap(row.row_id, row.blob, self._cipher.encrypt(plaintext, aad=row.aad))
