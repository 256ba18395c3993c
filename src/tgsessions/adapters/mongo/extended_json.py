"""Extended JSON files as ``mongoexport`` writes them: one document per line (the default) or one array
(``--jsonArray``), with ``$oid``, ``$date`` (ISO 8601 or ``$numberLong`` milliseconds) and ``$numberLong`` values.

:class:`ExtendedJsonReader` detects the layout by the first non-space character of the file (``[`` is an array) and
streams it with constant memory: line by line, or item by item with ijson. Every document becomes a
:class:`~tgsessions.domain.migration.SourceRecord` of plain Python values (ObjectId → its hex string, Int64 → int,
dates → timezone-aware UTC datetimes), made so while it is parsed: one object hook, applied bottom-up, converts
only the objects with a ``$`` key (the wrappers mongoexport writes most read directly, to the values json_util gives;
any other through json_util). A document that cannot be read becomes a record with an ``error`` that names
what is wrong and where, never the document's text. A malformed line is skipped and reading goes on; inside an array
the parser cannot resynchronise, so a malformed item ends the reading (reported at that index).

:class:`ExtendedJsonWriter` writes documents back the same way (relaxed Extended JSON v2, like mongoexport).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
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
_ISO_UTC = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?Z")


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


def _plain_hook(document: dict[str, Any]) -> object:
    """json.loads' object hook for one line: each object as plain values as soon as it is parsed (bottom-up, so its
    members already are). Only an object with a ``$`` key can be an Extended JSON value: the others are kept as they
    are, without json_util.object_hook's look at every key nor a second walk over the document. The wrappers
    mongoexport writes most (``$oid``, ``$numberLong``, ``$date``) are read here, to the values json_util gives;
    anything else, or anything unusual in them, goes through json_util (and its errors)."""
    for key in document:
        if key[:1] == "$":
            quick = _QUICK.get(key) if len(document) == 1 else None
            if quick is not None and (value := quick(document[key])) is not _UNHANDLED:
                return value
            return plain(json_util.object_hook(document, _READ_OPTIONS))
    return document


_UNHANDLED = object()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _quick_oid(value: object) -> object:
    """What ``str(ObjectId(value))`` is, for a 24-character text."""
    if not isinstance(value, str) or len(value) != 24:
        return _UNHANDLED
    try:
        return bytes.fromhex(value).hex()
    except ValueError:
        return _UNHANDLED


def _quick_long(value: object) -> object:
    return int(value) if isinstance(value, str) else _UNHANDLED  # Int64(value), an int


def _quick_date(value: object) -> object:
    """``$date`` as milliseconds since the epoch, or as mongoexport's ISO text ("2024-03-01T08:00:00.123Z":
    microseconds from the fraction as a float, as json_util reads it, without its strptime)."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return _EPOCH + timedelta(milliseconds=value)
        except OverflowError:
            return _UNHANDLED
    if not isinstance(value, str) or (match := _ISO_UTC.fullmatch(value)) is None:
        return _UNHANDLED
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction = match.group(7)
    microsecond = int(float(fraction) * 1000000) if fraction else 0
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


_QUICK = {"$oid": _quick_oid, "$numberLong": _quick_long, "$date": _quick_date}


def _hooked(value: Any) -> Any:
    """What ijson built as plain values: _plain_hook applied bottom-up (as json.loads applies it while parsing)."""
    if isinstance(value, dict):
        return _plain_hook({key: _hooked(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_hooked(item) for item in value]
    return value


def _record(position: int, unit: PositionUnit, parsed: object) -> SourceRecord:
    """The record of a parsed document, its values plain already (see _plain_hook)."""
    if not isinstance(parsed, dict):
        return SourceRecord(position, unit, None, "malformed JSON: not an object")
    return SourceRecord(position, unit, parsed)


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
                parsed = json.loads(line.decode("utf-8"), object_hook=_plain_hook)
            except _Unreadable as exc:
                yield SourceRecord(number, "line", None, f"malformed JSON: {exc}")
                continue
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
            except _Unreadable as exc:
                yield SourceRecord(index, "index", None, f"malformed JSON: {exc}")
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
