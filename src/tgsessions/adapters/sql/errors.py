"""Translation of "the database is not answering" into the domain's StorageUnavailable.

Integrity errors are translated where they happen (the stores); programming errors are bugs and stay as they are.
Messages name the exception type only: SQLAlchemy's texts can carry statements.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import exc as sa_exc

from tgsessions.domain.errors import StorageUnavailable

RETRY_AFTER = 5.0
_UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    OSError,
    ConnectionError,
)


def as_unavailable(error: BaseException) -> StorageUnavailable | None:
    """The domain error for ``error`` when it means the database is unreachable or too busy, else None."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return StorageUnavailable(f"the database connection was lost ({type(error).__name__})", retry_after=RETRY_AFTER)
    if isinstance(error, _UNAVAILABLE):
        return StorageUnavailable(f"the database is unavailable ({type(error).__name__})", retry_after=RETRY_AFTER)
    return None


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Re-raise database outages inside the block as StorageUnavailable (``from`` the original)."""
    try:
        yield
    except Exception as error:
        domain = as_unavailable(error)
        if domain is None:
            raise
        raise domain from error
