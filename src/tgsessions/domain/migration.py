"""Records read from another service's export, as plain values: what the import use case consumes.

A reader adapter (``adapters/mongo``) turns each document of the file into a :class:`SourceRecord` holding only
plain Python values (``str``, ``int``, ``float``, ``bool``, ``None``, timezone-aware UTC ``datetime``, ``list`` and
``dict``), or, when the document could not be read, the reason — never the document's text, which may hold secrets.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

PositionUnit = Literal["line", "index"]  # a line number (1-based) or an array index (0-based)


@dataclass(frozen=True, slots=True)
class SourceRecord:
    position: int
    unit: PositionUnit
    document: Mapping[str, object] | None
    error: str | None = None  # why the document could not be read (malformed JSON); None when ``document`` is set


class RecordSource(Protocol):
    """A stream of records read from a file, one at a time (constant memory)."""

    @property
    def bytes_read(self) -> int:
        """How far into the file the reader is (for progress)."""
        ...

    def records(self) -> Iterator[SourceRecord]: ...
