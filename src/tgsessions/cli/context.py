"""What every command needs: settings (read at run time, never at import) and how to name the database.

Commands open what they work on through the composition root: the runtime (:func:`tgsessions.bootstrap.open_runtime`),
or storage alone for key management and migrations, which do not talk to Telegram and so work without a Telegram
backend chosen (:func:`tgsessions.bootstrap.open_key_manager` and ``open_key_rotation`` open the database the same
way ``open_runtime`` does: the embedded default is migrated, any other database must be current; no gateway).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tgsessions.config import Settings
    from tgsessions.service.runtime import Runtime

CLI_ACTOR = "cli"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and ``.env``; options given on the command line win."""
    from tgsessions.config import Settings

    return Settings(**{name: value for name, value in overrides.items() if value is not None})


def cli_runtime() -> AbstractAsyncContextManager[Runtime]:
    """``open_runtime(load_settings())``, the composition root imported only when a command opens it."""
    from tgsessions.bootstrap import open_runtime

    return open_runtime(load_settings())


def describe_database(url: str) -> str:
    """The SQLite file, or the server (never a password)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    where = f"{parsed.host or 'localhost'}{f':{parsed.port}' if parsed.port else ''}/{parsed.database or ''}"
    return f"{parsed.get_backend_name()} ({where})"
