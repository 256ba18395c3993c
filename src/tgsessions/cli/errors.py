"""One place that turns expected failures into one line on stderr and an exit code (see the package docstring)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from alembic.util.exc import CommandError
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from tgsessions.domain.errors import RetryLater, TgSessionsError

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
    except ValidationError as exc:
        fail(describe_settings_error(exc))
    except SQLAlchemyError as exc:
        fail(describe_database_error(exc))
    except CommandError as exc:
        fail(f"migration failed: {exc}")
    except OSError as exc:  # connection refused, unreadable files: the cause in one line
        fail(f"{type(exc).__name__}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        fail("interrupted", INTERRUPTED)


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run one command's async work in a fresh event loop, with the errors above reported."""
    with reported_errors():
        return asyncio.run(main)
    raise AssertionError("unreachable")  # pragma: no cover - reported_errors exits or returns
