"""The real Pyrogram (``pyrogram==2.0.106``, a dev dependency) making and loading session strings, for the tests.

What Pyrogram 2.0.106's ``pyrogram/storage`` does, read from its source:

* ``Storage.SESSION_STRING_FORMAT = ">BI?256sQ?"``: dc_id (u8), api_id (u32), test_mode (bool), auth_key (256
  bytes), user_id (u64), is_bot (bool): 271 bytes; ``export_session_string`` writes them URL-safe base64 with the
  ``=`` padding stripped: 362 characters.
* ``Storage.OLD_SESSION_STRING_FORMAT = ">B?256sI?"`` (Pyrogram 1.x, 32-bit user id: 263 bytes, 351 characters) and
  ``OLD_SESSION_STRING_FORMAT_64 = ">B?256sQ?"`` (64-bit user id: 267 bytes, 356 characters), with
  ``SESSION_STRING_SIZE = 351`` and ``SESSION_STRING_SIZE_64 = 356``. 2.0.106 defines the formats but has no code
  that writes them, so ``make_pyrogram_v1`` packs with those very constants and encodes the way 1.x's exporter did
  (URL-safe base64, padding stripped).
* ``MemoryStorage.open`` picks the layout from the string's length alone: 351 or 356 characters is the old layout,
  anything else is unpacked as the 2.x layout, which ``struct`` accepts only when it decodes to exactly 271 bytes.

Pyrogram is imported inside the functions: importing it calls ``asyncio.get_event_loop()`` (pyrogram/sync.py), which
outside a running loop would create and install a stray event loop. Inside a coroutine it only finds the running one.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyrogram.storage import MemoryStorage

__all__ = ["PyroLoaded", "load_pyrogram", "make_pyrogram", "make_pyrogram_v1"]

_NAME = "tgsessions-interop"


@dataclass(frozen=True)
class PyroLoaded:
    """What Pyrogram's MemoryStorage holds after opening a string. api_id is None for 1.x layouts (no such field)."""

    dc_id: int
    test_mode: bool
    auth_key: bytes = field(repr=False)
    user_id: int
    is_bot: bool
    api_id: int | None


async def make_pyrogram(
    dc_id: int,
    auth_key: bytes,
    user_id: int,
    *,
    test_mode: bool = False,
    api_id: int = 12345,
    is_bot: bool = False,
) -> str:
    """Pyrogram 2.x's own session string: values set on an in-memory MemoryStorage, then its export_session_string."""
    storage = await _open_storage(None)
    try:
        await storage.dc_id(dc_id)
        await storage.api_id(api_id)
        await storage.test_mode(test_mode)
        await storage.auth_key(auth_key)
        await storage.date(0)
        await storage.user_id(user_id)
        await storage.is_bot(is_bot)
        text: str = await storage.export_session_string()
    finally:
        await storage.close()
    return text


async def make_pyrogram_v1(
    dc_id: int,
    auth_key: bytes,
    user_id: int,
    *,
    test_mode: bool = False,
    bits64: bool = False,
    is_bot: bool = False,
) -> str:
    """A Pyrogram 1.x session string, packed with Pyrogram 2.0.106's own OLD_SESSION_STRING_FORMAT(_64) constants.

    2.0.106 keeps the formats (it still reads them) but not 1.x's writer, so only the base64 step is ours: URL-safe,
    padding stripped, as 1.x's ``export_session_string`` did. Async like the others, so Pyrogram is first imported
    inside a running loop.
    """
    from pyrogram.storage import Storage

    layout = Storage.OLD_SESSION_STRING_FORMAT_64 if bits64 else Storage.OLD_SESSION_STRING_FORMAT
    packed = struct.pack(layout, dc_id, test_mode, auth_key, user_id, is_bot)
    text = base64.urlsafe_b64encode(packed).decode().rstrip("=")
    expected = Storage.SESSION_STRING_SIZE_64 if bits64 else Storage.SESSION_STRING_SIZE
    if len(text) != expected:
        raise ValueError(f"a 1.x string must be {expected} characters for Pyrogram to read it as 1.x, not {len(text)}")
    return text


async def load_pyrogram(text: str) -> PyroLoaded:
    """What Pyrogram's own ``MemoryStorage(name, session_string=text)`` + ``await open()`` reads, via its getters.

    Pyrogram's own exceptions (struct.error, binascii.Error) propagate; their messages hold no part of the string.
    """
    storage = await _open_storage(text)
    try:
        api_id = await storage.api_id()
        return PyroLoaded(
            dc_id=int(await storage.dc_id()),
            test_mode=bool(await storage.test_mode()),
            auth_key=bytes(await storage.auth_key()),
            user_id=int(await storage.user_id()),
            is_bot=bool(await storage.is_bot()),
            api_id=None if api_id is None else int(api_id),
        )
    finally:
        await storage.close()


async def _open_storage(session_string: str | None) -> MemoryStorage:
    from pyrogram.storage import MemoryStorage

    storage = MemoryStorage(_NAME, session_string=session_string)
    try:
        await storage.open()
    except BaseException:
        if storage.conn is not None:
            storage.conn.close()
        raise
    return storage
