"""One place that turns expected failures into one line on stderr and an exit code (see the package docstring).

The database, migration and settings errors are recognised without importing their libraries (see
:func:`loaded_class`): ``tgsessions --help`` stays off SQLAlchemy, Alembic and pydantic.
"""

from __future__ import annotations

import sys
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import typer

from tgsessions.domain.errors import RetryLater, TgSessionsError

if TYPE_CHECKING:
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

T = TypeVar("T")

DOMAIN_ERROR = 1
USAGE_ERROR = 2
INTERRUPTED = 130


def one_line(text: str) -> str:
    return " ".join(text.split())


def fail(message: str, code: int = DOMAIN_ERROR) -> NoReturn:
    print(f"error: {one_line(message)}", file=sys.stderr, flush=True)
    raise typer.Exit(code)


def describe_settings_error(exc: ValidationError) -> str:
    """Names the settings and what is wrong, never the submitted values (one may be a secret)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        name = "TGS_" + "_".join(str(p) for p in error["loc"]).upper() if error["loc"] else "settings"
        parts.append(f"{name}: {error['msg']}")
    return "invalid setting " + "; ".join(parts)


def describe_database_error(exc: SQLAlchemyError) -> str:
    """The driver's first line only: the statement and its parameters (ciphertexts) stay out."""
    cause = getattr(exc, "orig", None) or exc
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return f"database error ({type(cause).__name__}): {first}"


def loaded_class(module: str, name: str) -> type[BaseException] | None:
    """The exception class ``module.name`` when that module is imported already, else None. An exception of a class
    whose module was never imported cannot have been raised, so recognising it needs no import."""
    found = sys.modules.get(module)
    return cast("type[BaseException] | None", getattr(found, name, None)) if found is not None else None


def is_instance(exc: BaseException, module: str, name: str) -> bool:
    """``isinstance(exc, module.name)``, False while that module is not imported."""
    cls = loaded_class(module, name)
    return cls is not None and isinstance(exc, cls)


def describe_expected(exc: Exception) -> str | None:
    """The one line for a settings, database, migration or OS error; None for anything else (a bug)."""
    if is_instance(exc, "pydantic_core", "ValidationError"):
        return describe_settings_error(cast("ValidationError", exc))
    if is_instance(exc, "sqlalchemy.exc", "SQLAlchemyError"):
        return describe_database_error(cast("SQLAlchemyError", exc))
    if is_instance(exc, "alembic.util.exc", "CommandError"):
        return f"migration failed: {exc}"
    if isinstance(exc, OSError):  # connection refused, unreadable files: the cause in one line
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    return None


@contextmanager
def reported_errors() -> Iterator[None]:
    """Expected errors become ``error: <message>`` and exit 1 (130 for Ctrl-C); anything else is a bug and keeps
    its traceback."""
    try:
        yield
    except RetryLater as exc:
        fail(f"{exc.message} (retry after {exc.retry_after:.0f} s)")
    except TgSessionsError as exc:
        fail(exc.message)
    except KeyboardInterrupt:
        fail("interrupted", INTERRUPTED)
    except Exception as exc:
        message = describe_expected(exc)
        if message is None:
            raise
        fail(message)


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run one command's async work in a fresh event loop, with the errors above reported."""
    import asyncio  # here: `--help` needs no event loop

    with reported_errors():
        return asyncio.run(main)
    raise AssertionError("unreachable")  # pragma: no cover - reported_errors exits or returns
