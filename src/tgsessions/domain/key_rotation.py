"""Data-key rotation: the ports a rotation works through and the plain values it reports.

Three kinds of stored secret are encrypted, each a *kind* here (:data:`KINDS`): session strings (``session``), 2FA
passwords (``two_fa``) and proxies (``proxy``). Every ciphertext names the key that made it (``Cipher.key_id_of``)
and is bound to its row by its AAD, so a rotation needs no schema of its own: it reads the ciphertexts of each kind
in pages by row id and rewrites those not under the active key, with the same AAD.

* :class:`KeyRotationStore` — the stored ciphertexts of each kind, in pages, and a compare-and-swap of rewritten ones
  (the SQL adapter implements it);
* :class:`KeyFile` — the key file's data keys, as a rotation changes them (key material never leaves it).

Nothing here holds a plaintext or key material; ``row`` names (a phone, a session id) are what errors may show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tgsessions.domain.ports import Cipher

KINDS = ("session", "two_fa", "proxy")
UNREADABLE = "(unreadable)"  # the "key id" counted for a blob whose format is not recognised


class RotatingCipher(Cipher, Protocol):
    """A Cipher that also says which key it encrypts under."""

    @property
    def active_key_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class StoredCiphertext:
    """One stored ciphertext, for counting: its row id and blob."""

    row_id: int
    blob: bytes


@dataclass(frozen=True, slots=True)
class BoundCiphertext:
    """One stored ciphertext with the AAD it is bound to, for re-encryption; ``row`` names it in errors."""

    row_id: int
    blob: bytes
    aad: bytes
    row: str


@dataclass(frozen=True, slots=True)
class CiphertextSwap:
    """A rewritten ciphertext: ``new`` replaces ``old`` in row ``row_id`` only if that row still holds ``old``."""

    row_id: int
    old: bytes
    new: bytes


class KeyRotationStore(Protocol):
    """The stored ciphertexts of each kind (:data:`KINDS`), in pages by row id (rows without one are skipped)."""

    async def ciphertexts(self, kind: str, *, after_id: int, limit: int) -> Sequence[StoredCiphertext]:
        """Up to ``limit`` ciphertexts of ``kind`` in rows with ``id > after_id``, in id order."""
        ...

    async def bound_ciphertexts(self, kind: str, *, after_id: int, limit: int) -> Sequence[BoundCiphertext]:
        """As :meth:`ciphertexts`, with the AAD each is bound to."""
        ...

    async def swap(self, kind: str, swaps: Sequence[CiphertextSwap]) -> None:
        """Write every swap in one transaction, each a compare-and-swap: a row that no longer holds ``old`` (the
        service rewrote it meanwhile) is left as it is."""
        ...


@dataclass(frozen=True, slots=True)
class KeyIds:
    """The key ids a key file holds and the active one (no key material)."""

    active: str
    held: frozenset[str]


class KeyFile(Protocol):
    """The key file's data keys, as a rotation changes them."""

    @property
    def location(self) -> str:
        """Where it is (for messages)."""
        ...

    def key_ids(self) -> KeyIds: ...

    def cipher(self) -> RotatingCipher:
        """A cipher over the keys it holds now, encrypting under its active key."""
        ...

    def add_active_key(self) -> str:
        """Add a fresh data key, make it active and save the file (atomically, owner-only) before returning its id."""
        ...

    def drop_inactive_keys(self) -> list[str]:
        """Remove every data key but the active one (saving the file when any went); the removed ids, sorted."""
        ...


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
