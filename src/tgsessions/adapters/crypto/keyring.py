"""The key file: data keys for AES-256-GCM plus one fingerprint key, stored as JSON with mode 0600.

Format::

    {"version": 1, "active": "k2", "keys": {"k1": "<base64 32 bytes>", "k2": "..."},
     "fingerprint_key": "<base64 32 bytes>"}

New secrets are encrypted under ``active``; older keys stay to decrypt what they encrypted. The fingerprint key never
rotates, so session ids (fingerprints) stay stable across data-key rotation. Error messages name the file, never
key material.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tgsessions.domain.errors import ConfigurationError

KEY_BYTES = 32
FORMAT_VERSION = 1
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@dataclass(slots=True)
class KeyRing:
    """Data keys by id, the id of the active one, and the fingerprint key. ``repr`` shows key ids only."""

    active: str
    keys: dict[str, bytes]
    fingerprint_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise ValueError("the active key id is not among the keys")

    @classmethod
    def generate(cls) -> KeyRing:
        """A fresh ring with one data key ``k1`` and a fresh fingerprint key."""
        return cls(active="k1", keys={"k1": secrets.token_bytes(KEY_BYTES)}, fingerprint_key=secrets.token_bytes(32))

    def add_key(self, *, activate: bool = True) -> str:
        """Add a fresh data key and return its id (``k<n+1>``); by default it becomes the active key."""
        numbers = [int(k[1:]) for k in self.keys if k.startswith("k") and k[1:].isdigit()]
        key_id = f"k{max(numbers, default=0) + 1}"
        self.keys[key_id] = secrets.token_bytes(KEY_BYTES)
        if activate:
            self.active = key_id
        return key_id

    def drop_inactive_keys(self) -> list[str]:
        """Remove every data key but the active one and return the removed ids (sorted). Only safe once no stored
        ciphertext uses them: see ``tgsessions keys rotate-encryption --drop-old-keys``."""
        dropped = sorted(key_id for key_id in self.keys if key_id != self.active)
        self.keys = {self.active: self.keys[self.active]}
        return dropped

    def to_json(self) -> str:
        document = {
            "version": FORMAT_VERSION,
            "active": self.active,
            "keys": {key_id: _b64(key) for key_id, key in self.keys.items()},
            "fingerprint_key": _b64(self.fingerprint_key),
        }
        return json.dumps(document, indent=2, sort_keys=True) + "\n"

    def __repr__(self) -> str:
        return f"KeyRing(active={self.active!r}, keys={sorted(self.keys)!r})"

    @classmethod
    def from_json(cls, text: str, *, source: str) -> KeyRing:
        """Parse a key file's text; ConfigurationError naming ``source`` (never the content) when malformed."""

        def bad(why: str) -> ConfigurationError:
            return ConfigurationError(f"key file {source} is malformed: {why}")

        try:
            document: Any = json.loads(text)
        except ValueError:
            raise bad("not valid JSON") from None
        if not isinstance(document, dict):
            raise bad("expected a JSON object")
        if document.get("version") != FORMAT_VERSION:
            raise bad(f"unsupported version (expected {FORMAT_VERSION})")
        active, raw_keys = document.get("active"), document.get("keys")
        if not isinstance(raw_keys, dict) or not raw_keys:
            raise bad("'keys' must be a non-empty object")
        keys: dict[str, bytes] = {}
        for key_id, encoded in raw_keys.items():
            if not _KEY_ID.match(key_id):
                raise bad("a key id is not a short name of letters, digits, '_' or '-'")
            keys[key_id] = _decode_key(encoded, f"key {key_id}", bad)
        if not isinstance(active, str) or active not in keys:
            raise bad("'active' must name one of the keys")
        fingerprint_key = _decode_key(document.get("fingerprint_key"), "fingerprint_key", bad)
        return cls(active=active, keys=keys, fingerprint_key=fingerprint_key)


def _decode_key(encoded: object, what: str, bad: Any) -> bytes:
    if not isinstance(encoded, str):
        raise bad(f"{what} must be a base64 string")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise bad(f"{what} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise bad(f"{what} must decode to {KEY_BYTES} bytes")
    return raw


def create_key_file(path: str | os.PathLike[str]) -> KeyRing:
    """Create a new key file (parents too) with mode 0600; refuse to overwrite an existing one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    ring = KeyRing.generate()
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigurationError(f"key file {target} already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot create key file {target}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(ring.to_json())
    return ring


def save_key_file(path: str | os.PathLike[str], ring: KeyRing) -> None:
    """Replace the key file atomically (temp file with mode 0600, then rename): for key rotation."""
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(ring.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def load_key_file(path: str | os.PathLike[str]) -> KeyRing:
    """Read a key file. ConfigurationError (naming the path) if it is missing, unreadable, malformed, or readable
    by anyone but its owner (permissions wider than 0600)."""
    target = Path(path)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        raise ConfigurationError(f"key file {target} does not exist; create it first") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read key file {target}: {exc.strerror}") from None
    if mode & 0o077:
        raise ConfigurationError(
            f"key file {target} has permissions {mode:04o}; it must be accessible by its owner only (chmod 600)"
        )
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise ConfigurationError(f"cannot read key file {target}") from None
    return KeyRing.from_json(text, source=str(target))
