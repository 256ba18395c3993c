"""Owner-only modes for what the service keeps on disk: the data directory 0700, the SQLite database (and its
``-wal``/``-shm``/``-journal`` files) 0600, whatever exists already.

:func:`restrict` narrows a path it owns to the mode; a path it cannot narrow (another user's, or a refused chmod)
that group or others can read or write is logged as one warning naming the path and its mode, nothing else.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Final

from sqlalchemy.engine import make_url

log = logging.getLogger("tgsessions.files")

OWNER_ONLY_DIR: Final = 0o700
OWNER_ONLY_FILE: Final = 0o600
SQLITE_COMPANIONS: Final = ("-wal", "-shm", "-journal")


def restrict(path: Path, mode: int) -> bool:
    """Make an existing ``path`` no wider than ``mode``; False (and a warning) when group or others keep access.
    A missing path is fine (True)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return True
    except OSError as exc:
        log.warning("cannot check the mode of %s: %s", path, exc.strerror or type(exc).__name__)
        return False
    current, owner = stat.S_IMODE(info.st_mode), info.st_uid
    if not current & ~mode:
        return True
    why = "it belongs to another user"
    if owner == os.geteuid():
        try:
            os.chmod(path, current & mode)
        except OSError as exc:
            why = f"chmod failed: {exc.strerror or type(exc).__name__}"
        else:
            return True
    if current & 0o077:
        log.warning("%s has mode %04o: group or others may read or write it, and it cannot be made %04o (%s)",
                    path, current, mode, why)  # fmt: skip
        return False
    return True


def sqlite_files(url: str) -> list[Path]:
    """The files of a SQLite database URL (the database and its companions); none for another database."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return []
    main = Path(database).expanduser().resolve()
    return [main, *(main.with_name(main.name + suffix) for suffix in SQLITE_COMPANIONS)]


def restrict_sqlite_files(url: str) -> bool:
    """Every existing file of a SQLite database 0600 (SQLite gives new ``-wal``/``-shm`` files the database's
    mode); False when one stays open to group or others."""
    results = [restrict(path, OWNER_ONLY_FILE) for path in sqlite_files(url)]
    return all(results)
