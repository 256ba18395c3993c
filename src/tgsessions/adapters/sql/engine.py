"""Engine creation, only ever called at run time (never at import).

SQLite (``sqlite+aiosqlite:///path``) gets, on every connection: WAL, ``busy_timeout=10000``, foreign keys,
``synchronous=NORMAL``, and transactions that start with ``BEGIN IMMEDIATE`` (the driver's own deferred BEGIN is
disabled), so concurrent writers queue on the busy timeout instead of failing with "database is locked" when a
read transaction tries to upgrade. Inside one process the pool holds a single connection, so units of work queue
on the pool without spinning in SQLite's busy handler.
PostgreSQL (``postgresql+asyncpg://...``) uses the engine defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tgsessions.domain.errors import ConfigurationError

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)


def backend_of(url: str | URL) -> str:
    """``"sqlite"`` or ``"postgresql"``; ConfigurationError for anything else."""
    parsed = make_url(url)
    name = parsed.get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise ConfigurationError(f"unsupported database URL scheme {parsed.drivername!r}; use sqlite or postgresql")
    return name


def create_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """An async engine with ``hide_parameters=True`` (statements in errors never carry values)."""
    parsed = make_url(url)
    backend = backend_of(parsed)
    if backend == "sqlite":
        parsed = _sqlite_url(parsed)
        # One connection per process: SQLite has one writer at a time anyway, and waiting for the pool is an
        # asyncio wait, where waiting for the write lock is the busy handler's sleep loop (milliseconds per retry).
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", 60)
        kwargs.setdefault("pool_reset_on_return", None)  # _on_reset below rolls back only what is open
    engine = create_async_engine(parsed, hide_parameters=True, **kwargs)
    if backend == "sqlite":
        _install_sqlite_hooks(engine)
    return engine


def _sqlite_url(url: URL) -> URL:
    if url.get_driver_name() != "aiosqlite":
        raise ConfigurationError("SQLite URLs must use the async driver: sqlite+aiosqlite:///path/to/file.db")
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise ConfigurationError("SQLite needs a file path: sqlite+aiosqlite:///path/to/file.db")
    Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    return url


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver must not emit its own (deferred) BEGIN
        cursor = dbapi_connection.cursor()
        try:
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
                cursor.fetchall()
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_connection: Any, _record: Any, reset_state: Any) -> None:
        """The pool's reset of a returned connection, without a trip to aiosqlite's thread when no transaction is
        open (sqlite3 knows: ``in_transaction``); a connection being terminated needs none."""
        if reset_state.terminate_only:
            return
        raw = getattr(getattr(dbapi_connection, "_connection", None), "_connection", None)
        if raw is None or raw.in_transaction:
            dbapi_connection.rollback()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
