"""What commands open: settings (read at run time, never at import), the runtime, or storage alone.

Key management and migrations do not talk to Telegram, so they work without a Telegram backend chosen:
:func:`tgsessions.bootstrap.open_key_manager` opens the database the same way
:func:`tgsessions.bootstrap.open_runtime` does (the embedded default is migrated, any other database must be
current) but builds no gateway.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import make_url

from tgsessions.bootstrap import open_key_manager, prepare_database
from tgsessions.config import Settings

CLI_ACTOR = "cli"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and ``.env``; options given on the command line win."""
    return Settings(**{name: value for name, value in overrides.items() if value is not None})


def describe_database(url: str) -> str:
    """The SQLite file, or the server (never a password)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    where = f"{parsed.host or 'localhost'}{f':{parsed.port}' if parsed.port else ''}/{parsed.database or ''}"
    return f"{parsed.get_backend_name()} ({where})"


__all__ = ["CLI_ACTOR", "describe_database", "load_settings", "open_key_manager", "prepare_database"]
