"""Extended JSON files as ``mongoexport`` writes them: one document per line (the default) or one array
(``--jsonArray``), with ``$oid``, ``$date`` (ISO 8601 or ``$numberLong`` milliseconds) and ``$numberLong`` values.

:class:`ExtendedJsonReader` detects the layout by the first non-space character of the file (``[`` is an array) and
streams it with constant memory: line by line, or item by item with ijson. Every document becomes a
:class:`~tgsessions.domain.migration.SourceRecord` of plain Python values (ObjectId → its hex string, Int64 → int,
dates → timezone-aware UTC datetimes). A document that cannot be read becomes a record with an ``error`` that names
what is wrong and where, never the document's text. A malformed line is skipped and reading goes on; inside an array
the parser cannot resynchronise, so a malformed item ends the reading (reported at that index).

:class:`ExtendedJsonWriter` writes documents back the same way (relaxed Extended JSON v2, like mongoexport).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import ijson
from bson import json_util
from bson.errors import BSONError
from bson.int64 import Int64
from bson.json_util import RELAXED_JSON_OPTIONS, JSONOptions
from bson.objectid import ObjectId

from tgsessions.domain.migration import PositionUnit, SourceRecord

_READ_OPTIONS = JSONOptions(tz_aware=True, tzinfo=UTC)
_WHITESPACE = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"
_DECODE_ERRORS = (ValueError, TypeError, KeyError, OverflowError, BSONError)


class _Unreadable(Exception):
    """A value with no plain equivalent (binary, regex, out-of-range date...)."""


def plain(value: object) -> object:
    """A parsed Extended JSON value as plain Python values (see the module docstring)."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, Int64 | int):
        return int(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, ObjectId):
        return str(value)
    raise _Unreadable(f"unsupported value type {type(value).__name__}")


def _hooked(value: Any) -> Any:
    """Apply json_util's object hook bottom-up to what ijson built (as json.loads would while parsing)."""
    if isinstance(value, dict):
        return json_util.object_hook({key: _hooked(item) for key, item in value.items()}, _READ_OPTIONS)
    if isinstance(value, list):
        return [_hooked(item) for item in value]
    return value


def _record(position: int, unit: PositionUnit, parsed: object) -> SourceRecord:
    if not isinstance(parsed, Mapping):
        return SourceRecord(position, unit, None, "malformed JSON: not an object")
    try:
        document = plain(parsed)
    except _Unreadable as exc:
        return SourceRecord(position, unit, None, f"malformed JSON: {exc}")
    assert isinstance(document, dict)
    return SourceRecord(position, unit, document)


def _describe(exc: Exception) -> str:
    """Why a document did not parse, without quoting it (the message of json's decoder quotes nothing)."""
    if isinstance(exc, json.JSONDecodeError):
        return f"malformed JSON: {exc.msg} (column {exc.colno})"
    if isinstance(exc, UnicodeDecodeError):
        return "malformed JSON: not UTF-8"
    return f"malformed JSON: an Extended JSON value does not decode ({type(exc).__name__})"


class ExtendedJsonReader:
    """``for record in ExtendedJsonReader(path).records(): ...`` — one record per document, in file order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self._file: IO[bytes] | None = None
        self._consumed = 0
        self.layout: str = "array" if self._first_character() == b"[" else "lines"

    def _first_character(self) -> bytes:
        with self.path.open("rb") as file:
            chunk = file.read(65536).removeprefix(_BOM)
            while chunk:
                if stripped := chunk.lstrip(_WHITESPACE):
                    return stripped[:1]
                chunk = file.read(65536)
        return b""

    @property
    def bytes_read(self) -> int:
        if self.layout == "array" and self._file is not None and not self._file.closed:
            return self._file.tell()
        return self._consumed

    def records(self) -> Iterator[SourceRecord]:
        with self.path.open("rb") as file:
            self._file = file
            if self.layout == "array":
                if file.read(len(_BOM)) != _BOM:
                    file.seek(0)
                yield from self._array_records(file)
            else:
                yield from self._line_records(file)
        self._consumed = self.size

    def _line_records(self, file: IO[bytes]) -> Iterator[SourceRecord]:
        for number, raw in enumerate(file, start=1):
            self._consumed += len(raw)
            line = raw.removeprefix(_BOM) if number == 1 else raw
            if not line.strip():
                continue
            try:
                parsed = json_util.loads(line.decode("utf-8"), json_options=_READ_OPTIONS)
            except _DECODE_ERRORS as exc:
                yield SourceRecord(number, "line", None, _describe(exc))
                continue
            yield _record(number, "line", parsed)

    def _array_records(self, file: IO[bytes]) -> Iterator[SourceRecord]:
        index = 0
        items = ijson.items(file, "item", use_float=True)
        while True:
            try:
                item = next(items)
            except StopIteration:
                return
            except (ijson.JSONError, UnicodeDecodeError) as exc:
                yield SourceRecord(index, "index", None, f"malformed JSON ({type(exc).__name__}); the rest of the "
                                   "array was not read")  # fmt: skip
                return
            try:
                parsed = _hooked(item)
            except _DECODE_ERRORS as exc:
                yield SourceRecord(index, "index", None, _describe(exc))
            else:
                yield _record(index, "index", parsed)
            index += 1


class ExtendedJsonWriter:
    """``with ExtendedJsonWriter(path, array=False) as out: out.write(document)``: relaxed Extended JSON v2, one
    document per line, or one array (``array=True``, like ``mongoexport --jsonArray``). The file is created 0600:
    an export may hold session strings."""

    def __init__(self, path: Path, *, array: bool = False) -> None:
        self.path = path
        self.array = array
        self.written = 0
        self._file: IO[str] | None = None

    def __enter__(self) -> Self:
        self.path.touch(mode=0o600, exist_ok=True)
        self.path.chmod(0o600)
        self._file = self.path.open("w", encoding="utf-8")
        if self.array:
            self._file.write("[")
        return self

    def write(self, document: Mapping[str, object]) -> None:
        assert self._file is not None, "use the writer as a context manager"
        text = json_util.dumps(document, json_options=RELAXED_JSON_OPTIONS)
        if self.array:
            self._file.write(("," if self.written else "") + "\n" + text)
        else:
            self._file.write(text + "\n")
        self.written += 1

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._file is None:
            return
        if self.array:
            self._file.write("\n]\n")
        self._file.close()
        self._file = None
