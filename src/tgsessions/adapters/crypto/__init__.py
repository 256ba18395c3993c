"""Encryption at rest: a key file (:mod:`.keyring`) and the AES-256-GCM :class:`~.aesgcm.AesGcmCipher`."""

from __future__ import annotations

from tgsessions.adapters.crypto.aesgcm import AesGcmCipher
from tgsessions.adapters.crypto.keyring import KeyRing, create_key_file, load_key_file, save_key_file

__all__ = ["AesGcmCipher", "KeyRing", "create_key_file", "load_key_file", "save_key_file"]
