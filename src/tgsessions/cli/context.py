"""What every command needs: settings (read at run time, never at import) and how to name the database.

Commands open what they work on through the composition root: the runtime (:func:`tgsessions.bootstrap.open_runtime`),
or storage alone for key management and migrations, which do not talk to Telegram and so work without a Telegram
backend chosen (:func:`tgsessions.bootstrap.open_key_manager` and ``open_key_rotation`` open the database the same
way ``open_runtime`` does: the embedded default is migrated, any other database must be current; no gateway).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import make_url

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
