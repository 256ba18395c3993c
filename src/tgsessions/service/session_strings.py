"""Session strings at the service's edges: what arrives is read by the codec and stored in the canonical form; what
leaves is rendered in the layout the caller asks for.

* :func:`read_session` — a submitted string (any layout, or the one forced) as the canonical text, its layout and
  data. Refusals name the layouts tried and never contain the input.
* :func:`session_id_for` — a session's identity: the keyed fingerprint of its auth key, so the same authorization
  written by GramJS and by Telethon is one session.
* :func:`canonical_text` — a stored string as the Telegram gateway reads it. Rows written by 0.1 hold text in the
  layout it came in; they are read here in any layout (``repair-sessions`` rewrites them once and for all).
* :func:`render_session` — a stored string in the caller's layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tgsessions.domain.errors import InvalidInput, TgSessionsError
from tgsessions.domain.ports import Cipher
from tgsessions.domain.secret import Secret
from tgsessions.domain.session_codec import (
    SessionData,
    SessionFormat,
    canonical,
    parse,
    render,
)

MAX_SESSION_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class IncomingSession:
    string: Secret  # the canonical (Telethon) text
    format: SessionFormat  # the layout it arrived in
    data: SessionData = field(repr=False)

    @property
    def user_id(self) -> int | None:
        return self.data.user_id


def session_format(value: object, *, field: str = "format") -> SessionFormat | None:
    """A format name as given by a caller (None or "auto" for detection)."""
    if value is None or value == "auto":
        return None
    if isinstance(value, SessionFormat):
        return value
    try:
        return SessionFormat(str(value))
    except ValueError:
        names = ", ".join(["auto", *(f.value for f in SessionFormat)])
        raise InvalidInput(f"{field} must be one of {names}", field=field) from None


def read_session(value: object, *, field: str, fmt: SessionFormat | None = None) -> IncomingSession:
    """A submitted session string, checked and converted; InvalidInput (never echoing it) when it is not one."""
    if isinstance(value, IncomingSession):
        return value
    if isinstance(value, Secret):
        value = value.reveal()
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    text = value.strip()
    if not text:
        raise InvalidInput(f"{field} is empty", field=field)
    if len(text) > MAX_SESSION_LENGTH:
        raise InvalidInput(f"{field} is too long (at most {MAX_SESSION_LENGTH} characters)", field=field)
    parsed = parse(text, fmt, field=field)
    return from_data(parsed.data, parsed.format, field=field)


def from_data(data: SessionData, fmt: SessionFormat, *, field: str = "session") -> IncomingSession:
    """Session data read elsewhere (a ``.session`` file) as an incoming session."""
    try:
        string = canonical(data)
    except TgSessionsError:
        raise InvalidInput(
            f"{field} names its server by host name; tgsessions stores sessions whose server is an IP address",
            field=field,
        ) from None
    return IncomingSession(string, fmt, data)


def session_id_for(cipher: Cipher, data: SessionData) -> str:
    return cipher.fingerprint(data.identity())


def session_id_of(cipher: Cipher, string: Secret) -> str:
    """The identity of a string already in hand (minted, stored): its auth key's fingerprint; the text's only when
    it cannot be read (such a string is quarantined, never matched by key)."""
    data = stored_data(string)
    return session_id_for(cipher, data) if data is not None else cipher.fingerprint(string.reveal())


def stored_data(string: Secret) -> SessionData | None:
    """The data of a stored string, in any layout (canonical, or verbatim from 0.1); None when unreadable."""
    try:
        return parse(string.reveal()).data
    except InvalidInput:
        return None


def canonical_text(string: Secret) -> Secret:
    """What the gateway is given: the canonical text, or the stored text as it is when it cannot be read (the
    gateway then judges it malformed, which quarantines it)."""
    try:
        parsed = parse(string.reveal())
    except InvalidInput:
        return string
    if parsed.format is SessionFormat.TELETHON:
        return string
    try:
        return canonical(parsed.data)
    except TgSessionsError:
        return string


def render_session(
    string: Secret, fmt: SessionFormat, *, user_id: int | None = None, api_id: int | None = None
) -> Secret:
    """``string`` in the layout ``fmt``. FormatUnavailable when it cannot be written so (Pyrogram without a user
    id); InvalidInput when the stored string cannot be read at all."""
    data = stored_data(string)
    if data is None:
        raise InvalidInput("the stored session string cannot be read; it is quarantined", field="session")
    data = data.with_user(user_id)
    if api_id is not None and data.api_id is None:
        data = SessionData(data.dc_id, data.address, data.port, data.auth_key, data.user_id, data.test_mode, api_id)
    return render(data, fmt)


def as_arrived(session_format: SessionFormat | None) -> SessionFormat:
    """The layout a caller of the replaced service gets back: the one the session arrived in; sessions made here
    (minted) or stored by 0.1 without a layout, and .session files, come back as GramJS, the library those callers
    use."""
    if session_format is None or session_format is SessionFormat.TELETHON_FILE:
        return SessionFormat.GRAMJS
    return session_format


def render_stored(
    string: Secret, arrived: SessionFormat | None, fmt: SessionFormat | None, *, user_id: int | None, api_id: int | None
) -> Secret:
    """A stored string in ``fmt``, or (``fmt`` None) in the layout it arrived in, see :func:`as_arrived`."""
    return render_session(string, fmt or as_arrived(arrived), user_id=user_id, api_id=api_id)
