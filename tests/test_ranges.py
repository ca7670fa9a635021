"""Byte ranges of one file: every range starts at a record, or the file is not cut at all."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dfkit import ResultFileError, read_results
from dfkit.ranges import csv_ranges, json_ranges
from dfkit.resultfiles import read_result_batches, result_schema

# Top-level columns: a record per row, as in files that may be cut into ranges.
HEADER = ["id", "text", "rating", "postalCode"]


def _csv(rows: list[list[str]], bom: bool = False) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([HEADER, *rows])
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


def _ranged(path: Path, ranges: list[tuple[int, int]]) -> pa.Table:
    schema = result_schema([path])
    parts = [
        pa.Table.from_batches(list(read_result_batches(path, schema, byte_range=r)), schema=schema)
        for r in ranges
    ]
    return pa.concat_tables(parts)


def _whole(path: Path) -> pa.Table:
    schema = result_schema([path])
    return pa.Table.from_batches(list(read_result_batches(path, schema)), schema=schema)


# Review texts as Datafiniti writes them: line breaks, commas and quotes inside quoted values.
# (Not a lone "\r": the reader refuses it in a quoted value, cut or not.)
TEXT = st.lists(st.sampled_from([*'ab ,"\n\t', "é", "\r\n"]), max_size=30).map("".join)


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(TEXT, min_size=1, max_size=25),
    every=st.integers(min_value=1, max_value=200),
    bom=st.booleans(),
)
def test_csv_ranges_start_at_records_whatever_the_quoted_line_breaks(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str], every: int, bom: bool
) -> None:
    path = tmp_path_factory.mktemp("r") / "5_0.csv"
    path.write_bytes(_csv([[f"R{i}", t, str(i % 5), f"0{i}"] for i, t in enumerate(texts)], bom))
    size = path.stat().st_size
    with open(path, "rb") as f:
        ranges = csv_ranges(f, size, every)
    assert ranges[0][0] == 0 and ranges[-1][1] == size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert _ranged(path, ranges).equals(_whole(path))


def test_a_cut_inside_quotes_is_never_chosen(tmp_path: Path) -> None:
    body = _csv([["R1", "first line\nsecond, line", "5", "01"], ["R2", "ok", "4", "02"]])
    inside = body.index(b"\nsecond") + 1
    path = tmp_path / "5_0.csv"
    path.write_bytes(body)
    for every in range(1, len(body)):
        starts = [a for a, _ in csv_ranges(io.BytesIO(body), len(body), every)]
        assert inside not in starts
    assert csv_ranges(io.BytesIO(body), len(body), 50)[1][0] == body.index(b"R2")


@pytest.mark.parametrize(
    "line",
    [
        b'R9,5" screen,3,01\n',  # a quote inside an unquoted value: Arrow keeps it as text
        b'R9,"quoted"then text,3,01\n',  # text after a closing quote
        b'R9,say \\"hi\\",3,01\n',  # a backslash escape, not RFC 4180
    ],
)
def test_quotes_that_break_the_count_keep_the_file_whole(tmp_path: Path, line: bytes) -> None:
    body = (
        _csv([["R1", "a\nb", "5", "01"]])
        + line
        + _csv([["R3", "c\nd", "4", "02"]]).split(b"\n", 1)[1]
    )
    assert csv_ranges(io.BytesIO(body), len(body), 5) == [(0, len(body))]


def test_an_unclosed_quote_keeps_the_file_whole_for_the_reader_to_report() -> None:
    body = b'id,text\n1,"never closed\n2,x\n3,y\n'
    assert csv_ranges(io.BytesIO(body), len(body), 5) == [(0, len(body))]


def test_a_bad_value_in_a_later_range_names_its_line(tmp_path: Path) -> None:
    rows = [[f"R{i}", "two\nlines", "5", "01"] for i in range(20)]
    rows[15][2] = "five stars"
    path = tmp_path / "5_0.csv"
    path.write_bytes(_csv(rows))
    with pytest.raises(ResultFileError) as local:
        read_results(path)
    ranges = csv_ranges(open(path, "rb"), path.stat().st_size, 60)  # noqa: SIM115
    assert len(ranges) > 3
    with pytest.raises(ResultFileError) as ranged:
        _ranged(path, ranges)
    assert "line 32:" in str(local.value)
    assert str(ranged.value) == str(local.value)


def test_json_ranges_cover_the_file() -> None:
    assert json_ranges(10, 100) == [(0, 10)]
    assert json_ranges(0, 100) == [(0, 1)]
    lines = b"".join(json.dumps({"id": str(i)}).encode() + b"\n" for i in range(30))
    assert json_ranges(len(lines), 64)[-1][1] == len(lines)
