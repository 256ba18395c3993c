"""Printing: JSON for scripts, rich tables for people. Session strings are printed only by ``fetch``, plainly."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tgsessions.domain.secret import Secret


def jsonable(value: object) -> object:
    """Plain JSON values from results: dataclasses as objects, datetimes in ISO 8601, enums by value, sets sorted.
    A :class:`Secret` is masked; a caller that must print one reveals it explicitly."""
    if isinstance(value, Secret):
        return "***"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)  # type: ignore[type-var]
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def print_json(value: object) -> None:
    sys.stdout.write(json.dumps(jsonable(value), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def stdout() -> Console:
    """A console on the current stdout (built per call: tests and pipes swap sys.stdout)."""
    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def stderr() -> Console:
    return Console(file=sys.stderr, highlight=False)


def when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {rest // 60}m" if hours else f"{rest // 60}m {rest % 60}s"


def table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[object]]) -> Table:
    grid = Table(title=title, title_justify="left")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(Text("-" if cell is None else str(cell)) for cell in row))
    return grid


def pairs(title: str | None, rows: Iterable[tuple[str, object]]) -> Table:
    """A two-column table of facts (name, value)."""
    grid = Table(title=title, title_justify="left", show_header=False)
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for name, value in rows:
        grid.add_row(Text(name), Text("-" if value is None else str(value)))
    return grid


def info(message: str) -> None:
    """A human note on stderr, so stdout stays clean for scripts."""
    print(message, file=sys.stderr, flush=True)
