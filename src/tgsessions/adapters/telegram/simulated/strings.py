"""Session strings in Telethon's ``StringSession`` format, so that simulated strings look exactly like real ones.

Format (Telethon 1.x): ``"1" + urlsafe_b64encode(struct.pack(">B{4|16}sH256s", dc_id, ip, port, auth_key))``.
Everyone outside this package treats the strings as opaque secrets.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import struct
from dataclasses import dataclass

VERSION = "1"
AUTH_KEY_BYTES = 256
PORT = 443

# Telethon's default production data centres.
DC_ADDRESSES: dict[int, str] = {
    1: "149.154.175.53",
    2: "149.154.167.51",
    3: "149.154.175.100",
    4: "149.154.167.91",
    5: "91.108.56.130",
}


@dataclass(frozen=True, slots=True)
class DecodedString:
    dc_id: int
    address: str
    port: int
    auth_key: bytes = b""

    def __repr__(self) -> str:  # the auth key is the credential: never show it
        return f"DecodedString(dc_id={self.dc_id}, address={self.address!r}, port={self.port})"


def encode(dc_id: int, auth_key: bytes, *, address: str | None = None, port: int = PORT) -> str:
    if len(auth_key) != AUTH_KEY_BYTES:
        raise ValueError("an auth key has 256 bytes")
    ip = ipaddress.ip_address(address or DC_ADDRESSES[dc_id]).packed
    packed = struct.pack(f">B{len(ip)}sH256s", dc_id, ip, port, auth_key)
    return VERSION + base64.urlsafe_b64encode(packed).decode("ascii")


def decode(string: str) -> DecodedString | None:
    """The parts of a session string, or None when it is not one (wrong version, length or encoding)."""
    if not string.startswith(VERSION):
        return None
    body = string[len(VERSION) :]
    try:
        raw = base64.urlsafe_b64decode(body.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    ip_len = {1 + 4 + 2 + AUTH_KEY_BYTES: 4, 1 + 16 + 2 + AUTH_KEY_BYTES: 16}.get(len(raw))
    if ip_len is None:
        return None
    dc_id, ip, port, key = struct.unpack(f">B{ip_len}sH256s", raw)
    if not any(key):
        return None
    return DecodedString(dc_id, ipaddress.ip_address(ip).compressed, port, key)
