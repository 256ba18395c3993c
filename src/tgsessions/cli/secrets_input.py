"""Secrets from the command line: any secret option given as ``-`` is read from stdin, one line each, in this order:
--session, --keeper, each --backup, --proxy, then the 2FA password (--two-fa-stdin). This keeps them out of the shell
history and ``ps``. Nothing read here is ever echoed; on a terminal the prompt goes through :func:`getpass.getpass`.
Malformed input here (an empty line, a bad proxy URL) is a usage error (exit 2)."""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import typer

from tgsessions.domain.secret import Secret

if TYPE_CHECKING:
    from tgsessions.domain.model import Proxy

STDIN = "-"
PROXY_SCHEMES = ("socks5", "socks4", "http", "mtproxy")


def read_secret(what: str, option: str) -> str:
    """One line from stdin (without its line break); a usage error when stdin has nothing for it."""
    if sys.stdin.isatty():
        value = getpass.getpass(f"{what}: ")
    else:
        line = sys.stdin.readline()
        value = line.rstrip("\r\n")
    if not value.strip():
        raise typer.BadParameter(f"expected the {what} on stdin, got an empty line", param_hint=option)
    return value.strip()


def secret_option(value: str | None, what: str, option: str) -> str | None:
    """The option's value, or a line read from stdin when it is ``-``."""
    if value is None:
        return None
    return read_secret(what, option) if value == STDIN else value


def parse_proxy(url: str) -> Proxy:
    """``scheme://[user[:password]@]host:port`` with scheme socks5, socks4, http or mtproxy."""
    from tgsessions.domain.model import Proxy

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise typer.BadParameter(
            "not a proxy URL (scheme://[user[:password]@]host:port)", param_hint="--proxy"
        ) from None
    if parts.scheme not in PROXY_SCHEMES:
        raise typer.BadParameter(f"proxy scheme must be one of {', '.join(PROXY_SCHEMES)}", param_hint="--proxy")
    if not parts.hostname or port is None:
        raise typer.BadParameter("a proxy URL needs a host and a port", param_hint="--proxy")
    password = Secret(unquote(parts.password)) if parts.password else None
    username = unquote(parts.username) if parts.username else None
    return Proxy(parts.scheme, parts.hostname, port, username=username, password=password)
