"""AES-256-GCM implementation of the :class:`~tgsessions.domain.ports.Cipher` port.

Blob layout: ``version (1 byte) | key-id length (1 byte) | key id (ascii) | nonce (12 bytes) | ciphertext+tag``.
A fresh random nonce is drawn for every encryption. Decryption picks the key named in the blob, so data encrypted
under an older key stays readable after rotation. Any failure raises SecretUnreadable with a message that carries
no secret (at most a key id).

Rotation without restart: a cipher built with ``reload`` (a function that reads the key file again) meets a blob
under a key id it does not hold by reloading the key file once, under a lock: keys it did not hold are added (keys
it holds are kept as they are), and the file's active key becomes the one new secrets are encrypted under. An id
the reloaded file does not hold either is remembered and never reloaded for again, and reloads are at least
``reload_interval`` seconds apart, so unreadable rows cannot make it read the file over and over. A reloaded file
with another fingerprint key is a different key file: it is ignored (with a warning).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tgsessions.adapters.crypto.keyring import KeyRing
from tgsessions.domain.errors import ConfigurationError, SecretUnreadable

BLOB_VERSION = 1
NONCE_BYTES = 12
RELOAD_INTERVAL = 1.0  # seconds between two reloads of the key file, at least
MAX_MISSING_IDS = 1000  # unknown key ids remembered (a bound against corrupted blobs naming random ids)

log = logging.getLogger("tgsessions.crypto")


class AesGcmCipher:
    """Encrypts under the ring's active key; decrypts with whichever key the blob names."""

    __slots__ = ("_active", "_aeads", "_fingerprint_key", "_last_reload", "_lock", "_missing", "_monotonic",
                 "_reload", "_reload_interval")  # fmt: skip

    def __init__(
        self,
        ring: KeyRing,
        *,
        reload: Callable[[], KeyRing] | None = None,
        reload_interval: float = RELOAD_INTERVAL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``reload`` reads the key file again (see the module docstring); without it the ring is fixed."""
        self._active = ring.active
        self._aeads = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}
        self._fingerprint_key = ring.fingerprint_key
        self._reload = reload
        self._reload_interval = reload_interval
        self._monotonic = monotonic
        self._last_reload: float | None = None
        self._missing: set[str] = set()
        self._lock = threading.Lock()

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
        aead = self._aeads.get(key_id) or self._reloaded_for(key_id)
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

    def _reloaded_for(self, key_id: str) -> AESGCM | None:
        """The key ``key_id`` after reloading the key file (once per unknown id, rate-limited); None without it."""
        if self._reload is None:
            return None
        with self._lock:
            aead = self._aeads.get(key_id)
            if aead is not None or key_id in self._missing:  # another caller reloaded meanwhile / tried already
                return aead
            now = self._monotonic()
            if self._last_reload is not None and now - self._last_reload < self._reload_interval:
                return None  # not remembered as missing: a later read may reload for it
            self._last_reload = now
            try:
                ring = self._reload()
            except ConfigurationError as exc:
                log.warning("key file reload for key id %r failed: %s", key_id, exc.message)
                ring = None
            if ring is not None and not hmac.compare_digest(ring.fingerprint_key, self._fingerprint_key):
                log.warning("key file reload for key id %r ignored: the file now holds another fingerprint key "
                            "(a different key file)", key_id)  # fmt: skip
                ring = None
            if ring is not None:
                added = {k: AESGCM(key) for k, key in ring.keys.items() if k not in self._aeads}
                if added:
                    self._aeads = {**self._aeads, **added}  # replaced, never mutated: readers need no lock
                    log.info("key file reloaded: added key ids %s, active key %s", sorted(added), ring.active)
                if ring.active in self._aeads:
                    self._active = ring.active
            aead = self._aeads.get(key_id)
            if aead is None and len(self._missing) < MAX_MISSING_IDS:
                self._missing.add(key_id)
            return aead

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
