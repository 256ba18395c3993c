"""The :class:`~tgsessions.domain.key_rotation.KeyFile` port over a key file on disk (see keyring.py)."""

from __future__ import annotations

from pathlib import Path

from tgsessions.adapters.crypto.aesgcm import AesGcmCipher
from tgsessions.adapters.crypto.keyring import KeyRing, save_key_file
from tgsessions.domain.key_rotation import KeyFile, KeyIds


class RotatableKeyFile:
    """A key file's ring as a rotation changes it: every change is saved (atomically, mode 0600) at once."""

    def __init__(self, path: Path, ring: KeyRing) -> None:
        self._path = path
        self._ring = ring

    @property
    def location(self) -> str:
        return str(self._path)

    def key_ids(self) -> KeyIds:
        return KeyIds(self._ring.active, frozenset(self._ring.keys))

    def cipher(self) -> AesGcmCipher:
        return AesGcmCipher(self._ring)

    def add_active_key(self) -> str:
        key_id = self._ring.add_key(activate=True)
        save_key_file(self._path, self._ring)  # before any row is written under the new key
        return key_id

    def drop_inactive_keys(self) -> list[str]:
        dropped = self._ring.drop_inactive_keys()
        if dropped:
            save_key_file(self._path, self._ring)
        return dropped

    def __repr__(self) -> str:
        return f"RotatableKeyFile({self.location!r}, {self._ring!r})"


def _conforms(key_file: RotatableKeyFile) -> KeyFile:
    """Checked by mypy: RotatableKeyFile implements the port."""
    return key_file
