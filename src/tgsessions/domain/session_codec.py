"""One codec for session strings: what a session *is* (:class:`SessionData`) and the texts libraries write for it.

Every library stores the same things — data-centre id, server address, port, the 256-byte auth key — and some add
the user id, the api_id and a test-server flag. The texts differ, and a text read with the wrong layout is garbage
that looks valid (a GramJS string for DC 2 has exactly the length of a Telethon IPv6 string). So detection is
structural: every layout below is checked against the decoded bytes, all of them, and a text is accepted only when
exactly one layout fits. Nothing here tries a parser and keeps whatever it returns.

========================  ===================================================================================
layout                    text
========================  ===================================================================================
``telethon``              ``"1"`` + URL-safe base64 of ``>B4sH256s`` (IPv4, 263 bytes) or ``>B16sH256s`` (IPv6)
``gramjs``                ``"1"`` + standard base64 of dc u8, address length u16 BE, address as ASCII text,
                          port u16 BE, key (261 + length bytes)
``pyrogram``              URL-safe base64 (no padding, no version) of ``>BI?256sQ?`` (2.x: dc, api_id, test
                          mode, key, user id, is_bot), ``>B?256sI?`` / ``>B?256sQ?`` (1.x, 32/64-bit user id)
``telethon-file``         a Telethon ``.session`` SQLite file (read by an adapter, see :func:`from_file_row`)
========================  ===================================================================================

The canonical form the service stores and hands to its Telegram gateway is the Telethon text. A session's identity
is its auth key (:meth:`SessionData.identity`), never its text. Errors are :class:`InvalidInput` whose message names
the layouts tried and never contains the input.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import re
import struct
from dataclasses import dataclass, field, replace
from enum import StrEnum

from tgsessions.domain.errors import FormatUnavailable, InvalidInput, UnknownSessionFormat
from tgsessions.domain.secret import Secret

AUTH_KEY_BYTES = 256
DEFAULT_PORT = 443
VERSION = "1"

PRODUCTION_DCS: dict[int, str] = {
    1: "149.154.175.53",
    2: "149.154.167.51",
    3: "149.154.175.100",
    4: "149.154.167.91",
    5: "91.108.56.130",
}
TEST_DCS: dict[int, str] = {1: "149.154.175.10", 2: "149.154.167.40", 3: "149.154.175.117"}

TELETHON_V4 = ">B4sH256s"
TELETHON_V6 = ">B16sH256s"
PYROGRAM_V2 = ">BI?256sQ?"
PYROGRAM_V1 = ">B?256sI?"
PYROGRAM_V1_64 = ">B?256sQ?"
_GRAMJS_HEAD = ">BH"
_MAX_DC_ID = 1000  # Telegram's DC ids are small; test DCs are 1..3 (some libraries add 10000 for test DCs: refused)
_MAX_TEXT = 4096
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


class SessionFormat(StrEnum):
    TELETHON = "telethon"
    GRAMJS = "gramjs"
    PYROGRAM = "pyrogram"
    TELETHON_FILE = "telethon-file"


STRING_FORMATS = (SessionFormat.TELETHON, SessionFormat.GRAMJS, SessionFormat.PYROGRAM)


@dataclass(frozen=True, slots=True)
class SessionData:
    """One authorization as data. ``auth_key`` is the credential: it never appears in a repr."""

    dc_id: int
    address: str
    port: int
    auth_key: bytes = field(repr=False)
    user_id: int | None = None
    test_mode: bool = False
    api_id: int | None = None

    def __post_init__(self) -> None:
        if len(self.auth_key) != AUTH_KEY_BYTES or not any(self.auth_key):
            raise InvalidInput("a session needs a 256-byte auth key", field="session")
        if not 0 < self.dc_id <= _MAX_DC_ID:
            raise InvalidInput(f"data-centre id {self.dc_id} is out of range", field="session")
        if not 0 < self.port < 65536:
            raise InvalidInput(f"port {self.port} is out of range", field="session")
        object.__setattr__(self, "address", _server_address(self.address))

    def identity(self) -> str:
        """What makes two texts one session: the auth key (to be passed through a keyed fingerprint)."""
        return "auth-key:" + self.auth_key.hex()

    def with_user(self, user_id: int | None) -> SessionData:
        return self if user_id is None or user_id == self.user_id else replace(self, user_id=user_id)


@dataclass(frozen=True, slots=True)
class ParsedSession:
    data: SessionData
    format: SessionFormat


# -- detection ----------------------------------------------------------------------------------------------------


def parse(text: str, fmt: SessionFormat | None = None, *, field: str = "session") -> ParsedSession:
    """The session in ``text``. With ``fmt`` only that layout is checked; without, exactly one must fit."""
    text = text.strip()
    if not text or len(text) > _MAX_TEXT or not _BASE64.fullmatch(text):
        raise UnknownSessionFormat(f"{field} is not a session string (it is not base64 text)", field=field)
    wanted = (fmt,) if fmt is not None else STRING_FORMATS
    if SessionFormat.TELETHON_FILE in wanted:
        raise InvalidInput(f"{field}: a Telethon .session file is read from a file, not from text", field=field)
    versioned = _b64(text[1:]) if text.startswith(VERSION) else None  # decoded once for the two layouts reading it
    bodies = {SessionFormat.TELETHON: versioned, SessionFormat.GRAMJS: versioned, SessionFormat.PYROGRAM: _b64(text)}
    fits = [found for f in wanted if (raw := bodies[f]) is not None and (found := _READERS[f](raw)) is not None]
    if len(fits) == 1:
        return fits[0]
    tried = ", ".join(f.value for f in wanted)
    if not fits:
        raise UnknownSessionFormat(f"{field} fits no session layout (tried: {tried})", field=field)
    both = " and ".join(f.format.value for f in fits)
    raise UnknownSessionFormat(
        f"{field} fits more than one session layout ({both}); name its format to choose", field=field
    )


def detect(text: str) -> SessionFormat:
    return parse(text).format


def _b64(body: str) -> bytes | None:
    if ("+" in body or "/" in body) and ("-" in body or "_" in body):
        return None
    normal = body.replace("-", "+").replace("_", "/").rstrip("=")
    if len(normal) % 4 == 1:
        return None
    try:
        return base64.b64decode(normal + "=" * (-len(normal) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _server_address(address: str) -> str:
    """``address`` as a server's address: an IP address in its compressed form, or a DNS host name.

    An IP address whose first byte is zero (``0.x.x.x``, ``::/8`` with ``::`` and ``::1``) is no server's. Refusing
    it is also what keeps the layouts apart: a GramJS string read as Telethon's, or the other way round, yields
    exactly such an address (GramJS's 16-bit address length stands where the IP's first bytes are)."""
    address, _packed, refusal = _checked_address(address)
    if refusal:
        raise InvalidInput(refusal, field="session")
    return address


@functools.lru_cache(maxsize=1024)
def _checked_address(address: str) -> tuple[str, bytes | None, str]:
    """``(address, its IP packed or None for a host name, "")``, or ``("", None, why it is refused)``. Cached:
    sessions name a handful of servers, and ``ipaddress`` is a good part of reading or writing a string."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        if _HOST_NAME.fullmatch(address):
            return address, None, ""
        return "", None, "a session's server address is neither an IP address nor a host name"
    if ip.packed[0] == 0:
        return "", None, "a session's server address is not a server's (it starts with a zero byte)"
    return ip.compressed, ip.packed, ""


@functools.lru_cache(maxsize=1024)
def _unpacked_address(packed: bytes) -> str:
    return ipaddress.ip_address(packed).compressed


_HOST_NAME = re.compile(r"(?=.{4,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
_TELETHON_LAYOUTS = {struct.calcsize(f): f for f in (TELETHON_V4, TELETHON_V6)}


def _read_telethon(raw: bytes) -> ParsedSession | None:
    if (layout := _TELETHON_LAYOUTS.get(len(raw))) is None:
        return None
    dc_id, packed, port, key = struct.unpack(layout, raw)
    data = _data(dc_id, _unpacked_address(packed), port, key)
    return None if data is None else ParsedSession(data, SessionFormat.TELETHON)


def _read_gramjs(raw: bytes) -> ParsedSession | None:
    if len(raw) < 3:
        return None
    dc_id, length = struct.unpack_from(_GRAMJS_HEAD, raw)
    if length == 0 or len(raw) != 1 + 2 + length + 2 + AUTH_KEY_BYTES:
        return None
    try:
        address = raw[3 : 3 + length].decode("ascii")
    except UnicodeDecodeError:
        return None
    (port,) = struct.unpack_from(">H", raw, 3 + length)
    key = raw[5 + length :]
    data = _data(dc_id, address, port, key)
    return None if data is None else ParsedSession(data, SessionFormat.GRAMJS)


_PYROGRAM_LAYOUTS = {struct.calcsize(f): f for f in (PYROGRAM_V2, PYROGRAM_V1, PYROGRAM_V1_64)}


def _read_pyrogram(raw: bytes) -> ParsedSession | None:
    if (layout := _PYROGRAM_LAYOUTS.get(len(raw))) is None:
        return None
    api_id: int | None = None
    if layout == PYROGRAM_V2:
        if raw[5] > 1 or raw[-1] > 1:
            return None
        dc_id, api_id, test_mode, key, user_id, is_bot = struct.unpack(layout, raw)
    else:
        if raw[1] > 1 or raw[-1] > 1:
            return None
        dc_id, test_mode, key, user_id, is_bot = struct.unpack(layout, raw)
    table = TEST_DCS if test_mode else PRODUCTION_DCS
    if is_bot or dc_id not in table:
        return None
    data = _data(dc_id, table[dc_id], DEFAULT_PORT, key, user_id=user_id or None, test_mode=bool(test_mode))
    return None if data is None else ParsedSession(replace(data, api_id=api_id or None), SessionFormat.PYROGRAM)


def _data(
    dc_id: int, address: str, port: int, key: bytes, *, user_id: int | None = None, test_mode: bool | None = None
) -> SessionData | None:
    """The data, or None when a field is out of range (then the layout does not fit)."""
    test = address in TEST_DCS.values() if test_mode is None else test_mode
    try:
        return SessionData(dc_id, address, port, key, user_id=user_id, test_mode=test)
    except InvalidInput:
        return None


_READERS = {
    SessionFormat.TELETHON: _read_telethon,
    SessionFormat.GRAMJS: _read_gramjs,
    SessionFormat.PYROGRAM: _read_pyrogram,
}


def from_file_row(dc_id: object, address: object, port: object, key: object) -> SessionData:
    """A row of a Telethon ``.session`` file's ``sessions`` table (dc_id, server_address, port, auth_key)."""
    if not isinstance(key, bytes) or not key:
        raise InvalidInput("the session file holds no logged-in session", field="file")
    if not (isinstance(dc_id, int) and isinstance(port, int) and isinstance(address, str)):
        raise InvalidInput("the session file's sessions table has unexpected columns", field="file")
    if len(key) != AUTH_KEY_BYTES:
        raise InvalidInput("the session file holds a malformed auth key", field="file")
    return SessionData(dc_id, address, port, key, test_mode=address in TEST_DCS.values())


# -- rendering ----------------------------------------------------------------------------------------------------


def render(data: SessionData, fmt: SessionFormat) -> Secret:
    if fmt is SessionFormat.TELETHON:
        return Secret(_telethon(data))
    if fmt is SessionFormat.GRAMJS:
        return Secret(_gramjs(data))
    if fmt is SessionFormat.PYROGRAM:
        return Secret(_pyrogram(data))
    raise FormatUnavailable(f"sessions are not rendered as {fmt.value}")


def canonical(data: SessionData) -> Secret:
    """The stored form: the Telethon text (what the Telegram gateway reads)."""
    return Secret(_telethon(data))


def _telethon(data: SessionData) -> str:
    packed = _checked_address(data.address)[1]
    if packed is None:
        raise FormatUnavailable("a Telethon session string holds an IP address; this session names a host")
    raw = struct.pack(f">B{len(packed)}sH256s", data.dc_id, packed, data.port, data.auth_key)
    return VERSION + base64.urlsafe_b64encode(raw).decode("ascii")


def _gramjs(data: SessionData) -> str:
    address = data.address.encode("ascii")
    raw = struct.pack(f">BH{len(address)}sH256s", data.dc_id, len(address), address, data.port, data.auth_key)
    return VERSION + base64.b64encode(raw).decode("ascii")


def _pyrogram(data: SessionData) -> str:
    if data.user_id is None:
        raise FormatUnavailable(
            "a Pyrogram session string needs the account's user id, which is not known yet "
            "(it is learnt when the session is validated)"
        )
    raw = struct.pack(PYROGRAM_V2, data.dc_id, data.api_id or 0, data.test_mode, data.auth_key, data.user_id, False)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
