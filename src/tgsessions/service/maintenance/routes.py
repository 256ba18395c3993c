"""Which way a Telegram call goes: through the account's proxy, or straight to the data centre of its session.

Maintenance paces its calls per route as well as overall and per account: a proxy is one address Telegram sees (its
calls to every data centre share it), and without a proxy each data centre is paced on its own, so the accounts of
one data centre never wait for another's. A route names no credential: a proxy is ``proxy:scheme://host:port``
(never its user name or password), a data centre ``dc:N`` (from the session string, which is read here and never
kept), and a string that does not parse ``dc:unknown``.
"""

from __future__ import annotations

from tgsessions.domain.errors import InvalidInput
from tgsessions.domain.ports import SessionAccess
from tgsessions.domain.secret import Secret
from tgsessions.domain.session_codec import SessionFormat, parse

UNKNOWN_DC = "dc:unknown"


def route_of(access: SessionAccess) -> str:
    """The route of a call made with ``access``."""
    proxy = access.proxy
    if proxy is not None:
        return f"proxy:{proxy.scheme}://{proxy.host}:{proxy.port}"
    dc_id = dc_of(access.string)
    return UNKNOWN_DC if dc_id is None else f"dc:{dc_id}"


def dc_of(string: Secret) -> int | None:
    """The data centre a session string connects to (the gateway is given the canonical Telethon layout; any other
    layout is read too), or None when it is no session string."""
    text = string.reveal()
    for layout in (SessionFormat.TELETHON, None):
        try:
            return parse(text, layout).data.dc_id
        except InvalidInput:
            continue
    return None
