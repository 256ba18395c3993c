"""AES-256-GCM implementation of the :class:`~tgsessions.domain.ports.Cipher` port.

Blob layout: ``version (1 byte) | key-id length (1 byte) | key id (ascii) | nonce (12 bytes) | ciphertext+tag``.
A fresh random nonce is drawn for every encryption. Decryption picks the key named in the blob, so data encrypted
under an older key stays readable after rotation. Any failure raises SecretUnreadable with a message that carries
no secret (at most a key id).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tgsessions.adapters.crypto.keyring import KeyRing
from tgsessions.domain.errors import SecretUnreadable

BLOB_VERSION = 1
NONCE_BYTES = 12


class AesGcmCipher:
    """Encrypts under the ring's active key; decrypts with whichever key the blob names."""

    __slots__ = ("_active", "_aeads", "_fingerprint_key")

    def __init__(self, ring: KeyRing) -> None:
        self._active = ring.active
        self._aeads = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}
        self._fingerprint_key = ring.fingerprint_key

    @property
    def active_key_id(self) -> str:
        return self._active

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._aeads)

    def encrypt(self, plaintext: str, *, aad: bytes) -> bytes:
        key_id = self._active.encode("ascii")
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aeads[self._active].encrypt(nonce, plaintext.encode("utf-8"), aad)
        return bytes([BLOB_VERSION, len(key_id)]) + key_id + nonce + sealed

    def decrypt(self, blob: bytes, *, aad: bytes) -> str:
        key_id, nonce, sealed = self._split(blob)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise SecretUnreadable(f"ciphertext was made with key {key_id!r}, which is not in the key file")
        try:
            return aead.decrypt(nonce, sealed, aad).decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise SecretUnreadable(
                f"ciphertext under key {key_id!r} does not authenticate (tampered, or moved from another row)"
            ) from None

    def key_id_of(self, blob: bytes) -> str:
        return self._split(blob)[0]

    def fingerprint(self, plaintext: str) -> str:
        digest = hmac.new(self._fingerprint_key, plaintext.encode("utf-8"), hashlib.sha256).hexdigest()
        return "s_" + digest[:32]

    def __repr__(self) -> str:
        return f"AesGcmCipher(active={self._active!r}, keys={self.key_ids!r})"

    @staticmethod
    def _split(blob: bytes) -> tuple[str, bytes, bytes]:
        blob = bytes(blob)
        if len(blob) < 2 or blob[0] != BLOB_VERSION:
            raise SecretUnreadable("ciphertext has an unknown format")
        id_end = 2 + blob[1]
        if len(blob) < id_end + NONCE_BYTES + 16:
            raise SecretUnreadable("ciphertext is truncated")
        try:
            key_id = blob[2:id_end].decode("ascii")
        except UnicodeDecodeError:
            raise SecretUnreadable("ciphertext has an unknown format") from None
        return key_id, blob[id_end : id_end + NONCE_BYTES], blob[id_end + NONCE_BYTES :]
