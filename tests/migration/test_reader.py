"""The Extended JSON reader and writer (adapters/mongo): layouts, value types, bad documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from bson import json_util
from bson.json_util import JSONOptions

from tests.migration import generator
from tgsessions.adapters.mongo import ExtendedJsonReader, ExtendedJsonWriter
from tgsessions.adapters.mongo.extended_json import plain

READ = JSONOptions(tz_aware=True, tzinfo=UTC)

DOC = {
    "_id": {"$oid": "5f1d7f1b2c3d4e5f6a7b8c9d"},
    "mobile": {"$numberLong": "79160000001"},
    "createdAt": {"$date": "2024-03-01T08:00:00.123Z"},
    "updatedAt": {"$date": {"$numberLong": "1709280000000"}},
    "sessionHistory": [{"date": {"$date": "2024-03-02T00:00:00Z"}, "count": {"$numberLong": "3"}}],
    "n": 1.5,
    "flag": True,
    "none": None,
}
PLAIN = {
    "_id": "5f1d7f1b2c3d4e5f6a7b8c9d",
    "mobile": 79160000001,
    "createdAt": datetime(2024, 3, 1, 8, 0, 0, 123000, tzinfo=UTC),
    "updatedAt": datetime(2024, 3, 1, 8, 0, tzinfo=UTC),
    "sessionHistory": [{"date": datetime(2024, 3, 2, tzinfo=UTC), "count": 3}],
    "n": 1.5,
    "flag": True,
    "none": None,
}


def test_lines_and_array_give_the_same_plain_values(tmp_path: Path) -> None:
    (tmp_path / "lines.json").write_text("\n" + json.dumps(DOC) + "\n\n  \n" + json.dumps(DOC) + "\n")
    (tmp_path / "array.json").write_text("\ufeff  \n [" + json.dumps(DOC) + ",\n" + json.dumps(DOC) + "]")
    lines = ExtendedJsonReader(tmp_path / "lines.json")
    array = ExtendedJsonReader(tmp_path / "array.json")
    assert (lines.layout, array.layout) == ("lines", "array")
    got_lines, got_array = list(lines.records()), list(array.records())
    assert [(r.position, r.unit) for r in got_lines] == [(2, "line"), (5, "line")]
    assert [(r.position, r.unit) for r in got_array] == [(0, "index"), (1, "index")]
    for record in got_lines + got_array:
        assert record.error is None
        assert record.document == PLAIN
    assert lines.bytes_read == lines.size and array.bytes_read == array.size


def test_bad_documents_are_reported_by_position_without_their_text(tmp_path: Path) -> None:
    secret = generator.session(1, 1)
    path = tmp_path / "bad.json"
    path.write_text("\n".join([
        json.dumps({"mobile": "1"}),
        '{"mobile": "2", "session": "' + secret,  # truncated
        "[1, 2]",
        json.dumps({"mobile": "3", "d": {"$date": secret}}),
        json.dumps({"mobile": "4"}),
    ]) + "\n")  # fmt: skip
    records = list(ExtendedJsonReader(path).records())
    assert [r.position for r in records] == [1, 2, 3, 4, 5]
    assert [r.error is None for r in records] == [True, False, False, False, True]
    for record in records[1:4]:
        assert record.error is not None and record.error.startswith("malformed JSON")
        assert secret not in record.error and secret[:20] not in record.error


def test_a_malformed_array_item_ends_the_reading(tmp_path: Path) -> None:
    path = tmp_path / "array.json"
    path.write_text('[{"mobile": "1"}, {"mobile": "2"}, {"mobile": , {"mobile": "4"}]')
    records = list(ExtendedJsonReader(path).records())
    assert [(r.position, r.error is None) for r in records] == [(0, True), (1, True), (2, False)]
    assert records[2].error is not None and "rest of the array was not read" in records[2].error


def test_writer_round_trips_both_layouts(tmp_path: Path) -> None:
    for array in (False, True):
        path = tmp_path / f"out-{array}.json"
        with ExtendedJsonWriter(path, array=array) as out:
            out.write(PLAIN)
            out.write({**PLAIN, "mobile": "x"})
        assert path.stat().st_mode & 0o777 == 0o600
        reader = ExtendedJsonReader(path)
        assert reader.layout == ("array" if array else "lines")
        docs = [r.document for r in reader.records()]
        assert docs == [PLAIN, {**PLAIN, "mobile": "x"}]
        if array:
            json.loads(path.read_text())  # a plain JSON array too


ODD_VALUES = [
    {"$date": "2024-03-01T08:00:00Z"},
    {"$date": "2024-03-01T08:00:00.1Z"},
    {"$date": "2024-03-01T08:00:00.1234567Z"},
    {"$date": "2024-03-01T08:00:00.999999999Z"},
    {"$date": "2024-03-01T08:00:00+01:00"},
    {"$date": "1969-12-31T23:59:59.999Z"},
    {"$date": {"$numberLong": "-1"}},
    {"$date": {"$numberLong": "253402300799999"}},
    {"$date": 1709280000123},
    {"$oid": "5F1D7F1B2C3D4E5F6A7B8C9D"},
    {"$numberLong": " 42 "},
    {"$numberLong": "-9223372036854775808"},
]
BAD_VALUES = [
    {"$date": "2024-02-30T00:00:00Z"},
    {"$date": {"$numberLong": "999999999999999999"}},
    {"$date": "2024-03-01T08:00:00Z", "extra": 1},
    {"$oid": "g" * 24},
    {"$oid": "abc"},
    {"$numberLong": "x"},
]


def test_extended_json_values_read_as_json_util_reads_them(tmp_path: Path) -> None:
    """The line reader converts the common wrappers itself: to json_util's values, and refuses what it refuses."""
    path = tmp_path / "odd.json"
    path.write_text("".join(json.dumps({"mobile": "1", "v": value}) + "\n" for value in ODD_VALUES + BAD_VALUES))
    records = list(ExtendedJsonReader(path).records())
    expected = [plain(json_util.loads(json.dumps(value), json_options=READ)) for value in ODD_VALUES]
    assert [r.document["v"] if r.document else None for r in records[: len(ODD_VALUES)]] == expected
    assert all(isinstance(v, datetime) and v.tzinfo is not None for v in expected[:9])
    assert [r.error is not None and r.error.startswith("malformed JSON") for r in records[len(ODD_VALUES) :]] == [
        True
    ] * len(BAD_VALUES)
