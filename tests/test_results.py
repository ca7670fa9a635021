"""Result files: read_results, results_to_parquet."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

import dfkit
from dfkit import (
    ResultFileError,
    read_results,
    results_to_parquet,
)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or ".tmp" in p.name)


# --- read_results --------------------------------------------------------------------------


def test_csv_files_with_schema_drift(tmp_path: Path) -> None:
    (tmp_path / "9_0.csv").write_text(
        "id,reviews.rating,reviews.text,postalCode\n"
        'a,5,"Great, really",02134\n'
        'b,4,"two\nlines",78701\n'
    )
    (tmp_path / "9_1.csv").write_text("id,reviews.rating,brand\nc,3.5,Acme\n")
    (tmp_path / "9_10.csv").write_text("id,reviews.rating\nd,2\n")  # natural order: after _1
    (tmp_path / ".9_2.csv.123.tmp").write_text("garbage")  # a fetch in progress: ignored
    (tmp_path / "notes.md").write_text("ignored")
    df = read_results(tmp_path)
    assert df.columns.tolist() == [
        "id",
        "reviews.rating",
        "reviews.text",
        "postalCode",
        "brand",
        "download_id",
        "source_file",
    ]
    assert df["id"].tolist() == ["a", "b", "c", "d"]
    assert df["reviews.rating"].dtype == "Float64"
    assert df["reviews.rating"].tolist() == [5.0, 4.0, 3.5, 2.0]
    assert df["reviews.text"][1] == "two\nlines"
    assert df["postalCode"].tolist()[:2] == ["02134", "78701"]
    assert df["postalCode"].isna().tolist() == [False, False, True, True]
    assert df["brand"].isna().tolist() == [True, True, False, True]
    assert df["source_file"].tolist() == ["9_0.csv", "9_0.csv", "9_1.csv", "9_10.csv"]


def test_json_lines_with_nested_lists_and_drift(tmp_path: Path) -> None:
    (tmp_path / "5_0.txt").write_text(
        '{"id": "a", "rating": 5, "gtin": 123456789012345678901, '
        '"reviews": [{"rating": 5, "text": "ok"}], "isSale": true}\n'
        "\n"
        '{"id": "b", "rating": 4, "reviews": [], "isSale": false}\n'
    )
    (tmp_path / "5_1.txt").write_text(
        '{"id": "c", "rating": 4.5, "categories": ["x", "y"], "reviews": null}\n'
    )
    df = read_results(tmp_path)
    assert df["rating"].dtype == "Float64"
    assert df["rating"].tolist() == [5.0, 4.0, 4.5]
    assert df["gtin"].dtype == "string"
    assert df["gtin"][0] == "123456789012345678901"  # exact, not 1.2345678901234568e+20
    assert df["reviews"].tolist() == [[{"rating": 5, "text": "ok"}], [], None]
    assert df["categories"].tolist() == [None, None, ["x", "y"]]
    assert df["isSale"].dtype == "boolean"
    assert df["isSale"].tolist()[:2] == [True, False]


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        (["1", "22", "-3"], "Int64"),
        (["1", "", "3"], "Int64"),
        (["01", "2"], "string"),  # leading zero: a postal code, not a number
        (["123456789012345", "1"], "Int64"),  # 15 digits: exact
        (["1234567890123456", "1"], "string"),  # 16 digits: GTIN-like, kept as text
        (["-0", "1"], "string"),
        (["-0.0", "1"], "Float64"),
        (["+5", "1"], "string"),
        (["1.5", "2"], "Float64"),
        (["4.0", "3.5"], "Float64"),
        (["1.50", "2"], "string"),  # "1.50" would come back as "1.5"
        (["0.30000000000000004", "1.25"], "Float64"),  # repr round-trips
        (["0.1000000000000000055511", "1"], "string"),
        (["1e-07", "2.5"], "Float64"),
        (["1E5", "2"], "string"),
        (["NaN", "1.5"], "string"),
        (["true", "false", ""], "boolean"),
        (["True", "false"], "string"),
        (["2025-03-17T20:03:55.926Z", "2017-11-16T17:46:06+02:00"], "datetime64[us, UTC]"),
        (["2025-03-17T20:03:55Z", "2017-11-16 17:46:06.0"], "string"),  # no zone: ambiguous
        (["2025-13-17T20:03:55Z"], "string"),  # month 13
        (["2025-03-17"], "string"),
        (["30.2672", "-97.7431"], "Float64"),
        (["30.2672", "-97.74310"], "string"),
        (["", ""], "string"),
    ],
)
def test_type_inference_never_loses_information(
    tmp_path: Path, values: list[str], dtype: str
) -> None:
    (tmp_path / "1_0.csv").write_text("x,y\n" + "".join(f"{v},z\n" for v in values))
    df = read_results(tmp_path)
    assert str(df["x"].dtype) == dtype
    if dtype == "string":
        assert df["x"].tolist() == [v if v else pd.NA for v in values]
    elif dtype == "datetime64[us, UTC]":
        assert df["x"][1] == pd.Timestamp("2017-11-16T15:46:06Z")


def test_dtype_overrides(tmp_path: Path) -> None:
    (tmp_path / "1_0.csv").write_text("zip,n,when\n02134,1,2025-01-01T00:00:00Z\n78701,2,\n")
    df = read_results(tmp_path, dtype={"zip": "Int64", "n": "string", "missing": int})
    assert df["zip"].tolist() == [2134, 78701]
    assert df["n"].tolist() == ["1", "2"]
    raw = read_results(tmp_path, dtype="string")
    assert raw["when"].tolist() == ["2025-01-01T00:00:00Z", pd.NA]
    with pytest.raises(ResultFileError, match="column 'when'"):
        read_results(tmp_path, dtype={"when": "Int64"})


def test_gzip_and_explicit_format(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "3_0.csv.gz", "wt") as f:
        f.write("a,b\n1,x\n")
    (tmp_path / "3_1.data").write_text('{"a": 2, "b": "y"}\n')
    assert read_results(tmp_path)["a"].tolist() == [1]
    assert read_results(tmp_path / "3_1.data", format="json")["b"].tolist() == ["y"]
    (tmp_path / "3_2.txt").write_text('{"a": 1, "tags": ["x"]}\n')
    raw = read_results(tmp_path / "3_2.txt", dtype="string")
    assert raw["a"].tolist() == ["1"] and raw["tags"].tolist() == [["x"]]
    with pytest.raises(ResultFileError, match="cannot tell the format"):
        read_results(tmp_path / "3_1.data")
    with pytest.raises(FileNotFoundError):
        read_results(tmp_path / "nope.csv")


def test_empty_inputs(tmp_path: Path) -> None:
    df = read_results(tmp_path)
    assert df.columns.tolist() == ["download_id", "source_file"] and len(df) == 0
    (tmp_path / "1_0.csv").write_text("a,b\n")
    (tmp_path / "1_1.txt").write_text("")
    df = read_results(tmp_path)
    assert df.columns.tolist() == ["a", "b", "download_id", "source_file"] and len(df) == 0


@pytest.mark.parametrize(
    ("name", "text", "line", "what"),
    [
        ("1_0.csv", 'a,b\n1,2\n"x\ny",3\n4,5,6\n', 5, "expected 2 fields"),
        ("1_0.csv", "a,b\n1,2\n3\n", 3, "found 1"),
        ("1_0.csv", "a,a\n1,2\n", 1, "appears twice"),
        ("1_0.txt", '{"a": 1}\n{"a": 2,}\n', 2, "not valid JSON"),
        ("1_0.txt", '{"a": 1}\n\n[1, 2]\n', 3, "expected a JSON object"),
        ("1_0.txt", '{"a": 1, "download_id": 2}\n', None, "dfkit adds itself"),
    ],
)
def test_bad_lines_name_the_file_and_line(
    tmp_path: Path, name: str, text: str, line: int | None, what: str
) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(ResultFileError, match=what) as info:
        read_results(tmp_path)
    assert info.value.line == line
    assert info.value.path == str(tmp_path / name)
    assert str(info.value).startswith(f"{name}: " + (f"line {line}: " if line else ""))
    with pytest.raises(ResultFileError, match=what):
        results_to_parquet(tmp_path, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "1_0.csv").write_bytes(b"a,b\n1,2\n3,\xff\xfe\n")
    with pytest.raises(ResultFileError, match="line 3: not valid UTF-8") as info:
        read_results(tmp_path)
    assert info.value.line == 3


# --- results_to_parquet --------------------------------------------------------------------


def _mixed_folder(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "1_0.csv").write_text(
        "id,price,zip,when,n,flag\na,1,02134,2025-01-01T00:00:00Z,1,true\nb,2,10001,,2,false\n"
    )
    (folder / "1_1.csv").write_text(
        "id,price,zip,when,n,extra\nc,2.5,94105,x,2025-01-01T00:00:00Z,e\n"
    )
    (folder / "2_0.txt").write_text(
        '{"id": "d", "price": 3, "reviews": [{"rating": 5}], "n": 7}\n'
        '{"id": "e", "reviews": [{"rating": 4.5, "text": "ok"}], "flag": false}\n'
    )
    return folder


def test_parquet_matches_read_results(tmp_path: Path) -> None:
    folder = _mixed_folder(tmp_path / "in")
    out = results_to_parquet(folder, tmp_path / "out.parquet")
    assert out == tmp_path / "out.parquet"
    schema = pq.read_schema(out)
    expected = read_results(folder)
    assert schema.names == expected.columns.tolist()
    types = dict(zip(schema.names, schema.types, strict=True))
    assert types["price"] == pa.float64()  # int and float widen
    assert types["zip"] == pa.string()  # leading zero
    assert types["when"] == pa.string()  # timestamp and text conflict
    assert types["n"] == pa.string()  # int and timestamp conflict
    assert types["flag"] == pa.bool_()
    assert pa.types.is_list(types["reviews"])
    got = pd.read_parquet(out)
    assert len(got) == 5
    for name in ["id", "price", "zip", "when", "n", "flag", "extra", "download_id", "source_file"]:
        assert got[name].astype(object).where(got[name].notna(), None).tolist() == (
            expected[name].astype(object).where(expected[name].notna(), None).tolist()
        ), name
    assert got["reviews"][3].tolist() == [{"rating": 5.0, "text": None}]
    assert _leftovers(tmp_path) == []


def test_nested_values_that_do_not_unify_become_json_text(tmp_path: Path) -> None:
    (tmp_path / "1_0.txt").write_text(
        '{"a": [1, 2], "b": [{"x": 1}]}\n{"a": "plain", "b": [{"x": "text"}]}\n'
    )
    out = results_to_parquet(tmp_path, tmp_path / "o.parquet")
    t = pq.read_table(out)
    assert t.schema.field("a").type == pa.string()
    assert t.column("a").to_pylist() == ["[1,2]", "plain"]
    assert t.column("b").to_pylist() == ['[{"x":1}]', '[{"x":"text"}]']


def test_parquet_is_written_in_row_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = "".join(f"{i},name {i}\n" for i in range(3000))
    for k in range(3):
        (tmp_path / f"1_{k}.csv").write_text("i,name\n" + rows)
    monkeypatch.setattr(dfkit.results, "ROW_GROUP_BYTES", 40_000)
    out = results_to_parquet(tmp_path, tmp_path / "o.parquet")
    meta = pq.ParquetFile(out).metadata
    assert meta.num_rows == 9000
    assert meta.num_row_groups > 1
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_parquet_failure_midway_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _mixed_folder(tmp_path / "in")
    out = tmp_path / "out.parquet"
    out.write_bytes(b"previous")
    calls = 0
    real = dfkit.results.file_columns

    def flaky(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk full")
        return real(*args)

    monkeypatch.setattr(dfkit.results, "file_columns", flaky)
    with pytest.raises(OSError, match="disk full"):
        results_to_parquet(folder, out)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out.parquet"]
    calls = 0
    with pytest.raises(OSError, match="disk full"):
        results_to_parquet(folder, tmp_path / "ds", partition_by="download_id")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out.parquet"]


def test_partitioned_dataset(tmp_path: Path) -> None:
    folder = _mixed_folder(tmp_path / "in")
    out = results_to_parquet(folder, tmp_path / "ds", partition_by="download_id")
    assert sorted(p.name for p in out.iterdir()) == ["download_id=1", "download_id=2"]
    assert [p.name for p in (out / "download_id=1").iterdir()] == ["part-0.parquet"]
    table = pads.dataset(out, partitioning="hive").to_table()
    assert table.num_rows == 5
    assert set(table.schema.names) == set(read_results(folder).columns)
    count = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{out}/**/*.parquet', hive_partitioning=true) "
        "WHERE download_id = 2"
    ).fetchall()
    assert count == [(2,)]
    # Written again: replaced whole, not merged.
    results_to_parquet(folder, out, partition_by=["download_id"])
    assert pads.dataset(out, partitioning="hive").count_rows() == 5
    with pytest.raises(ValueError, match="no column 'nope'"):
        results_to_parquet(folder, tmp_path / "x", partition_by="nope")
    with pytest.raises(ValueError, match="lists or objects"):
        results_to_parquet(folder, tmp_path / "x", partition_by="reviews")
