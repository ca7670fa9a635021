"""Result files: read_results, results_to_parquet (typed by the field catalog)."""

from __future__ import annotations

import errno
import gc
import gzip
import io
import json
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

import dfkit
from dfkit import DiskFullError, ResultFileError, read_results, results_to_parquet
from dfkit.catalog import TIMESTAMP
from dfkit.resultfiles import read_result_batches, result_schema
from dfkit.testing import FakeDatafiniti

TS = pd.Timestamp
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real-data"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or ".tmp" in p.name)


# --- read_results: catalog types, whatever the values --------------------------------------


def test_csv_fields_get_their_catalog_types(tmp_path: Path) -> None:
    (tmp_path / "9_0.csv").write_text(
        "id,postalCode,latitude,dateAdded,categories,sourceURLs,reviews.rating,reviews.text,"
        "reviews.doRecommend,reviews.dateSeen,upc\n"
        'a,02134,53.458395420,2017-03-02T00:00:00.000Z,"Health, Household & Baby Care,Food",'
        '"https://a.com/x?a=1,2,https://b.com",5,"Great, really",TRUE,'
        '"2016-03-31T02:19:42Z,2016-04-01T00:00:00Z",0123\n'
        'b,78701,30.2672,2015-10-20T04:15:41Z,Food,,4.5,"two\nlines",false,,8.49E+11\n'
    )
    (tmp_path / "9_1.csv").write_text("id,reviews.rating,brand\nc,3,Acme\n")
    (tmp_path / ".9_2.csv.123.tmp").write_text("garbage")  # a fetch in progress: ignored
    (tmp_path / "notes.md").write_text("ignored")
    df = read_results(tmp_path)
    assert df.columns.tolist() == [
        "id", "postalCode", "latitude", "dateAdded", "categories", "sourceURLs", "reviews",
        "upc", "brand", "download_id", "source_file",
    ]  # fmt: skip
    assert df["postalCode"].dtype == "string" and df["postalCode"][0] == "02134"
    assert df["latitude"].dtype == "Float64" and df["latitude"][0] == 53.45839542
    assert df["dateAdded"].tolist()[:2] == [TS("2017-03-02", tz="UTC"), TS("2015-10-20 04:15:41Z")]
    assert df["categories"][0] == ["Health, Household & Baby Care", "Food"]
    assert df["sourceURLs"][0] == ["https://a.com/x?a=1,2", "https://b.com"]
    assert [df["upc"][0], df["upc"][1]] == [["0123"], ["8.49E+11"]]  # codes stay text
    review = df["reviews"][0][0]
    assert review["rating"] == 5.0 and review["text"] == "Great, really"
    assert review["doRecommend"] is True  # TRUE, in any case
    assert [d.isoformat() for d in review["dateSeen"]] == [
        "2016-03-31T02:19:42+00:00",
        "2016-04-01T00:00:00+00:00",
    ]
    assert df["reviews"][1][0]["text"] == "two\nlines"
    assert df["reviews"][2][0]["rating"] == 3.0 and df["brand"][2] == "Acme"
    assert df["source_file"].tolist() == ["9_0.csv", "9_0.csv", "9_1.csv"]


def test_the_same_field_has_the_same_type_whatever_the_rows(tmp_path: Path) -> None:
    (tmp_path / "1_0.csv").write_text(
        "postalCode,prices.amountMax,isClosed\n01923-3619,892.70,TRUE\n"
    )
    (tmp_path / "2_0.csv").write_text("postalCode,prices.amountMax,isClosed\n78701,892,false\n")
    a = pq.read_schema(results_to_parquet(tmp_path / "1_0.csv", tmp_path / "a.parquet"))
    b = pq.read_schema(results_to_parquet(tmp_path / "2_0.csv", tmp_path / "b.parquet"))
    assert a.remove_metadata() == b.remove_metadata()
    assert a.field("postalCode").type == pa.string()
    assert a.field("isClosed").type == pa.bool_()
    both = pads.dataset([tmp_path / "a.parquet", tmp_path / "b.parquet"]).to_table()
    assert sorted(both.column("postalCode").to_pylist()) == ["01923-3619", "78701"]


def test_csv_and_json_of_the_same_data_give_the_same_columns(tmp_path: Path) -> None:
    (tmp_path / "1_0.csv").write_text(
        "id,dateAdded,prices.amountMax,prices.dateSeen,prices.isSale,categories\n"
        'a,2020-01-01T00:00:00Z,9.5,"2020-01-02T00:00:00Z,2020-01-03T00:00:00Z",true,"x,y"\n'
    )
    (tmp_path / "1_1.txt").write_text(
        '{"id": "b", "dateAdded": "2020-01-01T00:00:00Z", "categories": ["x"], '
        '"prices": [{"amountMax": 9, "dateSeen": "2020-01-02T00:00:00Z", "isSale": "false"}]}\n'
    )
    csv_schema = pq.read_schema(results_to_parquet(tmp_path / "1_0.csv", tmp_path / "c.parquet"))
    json_schema = pq.read_schema(results_to_parquet(tmp_path / "1_1.txt", tmp_path / "j.parquet"))
    assert set(csv_schema.names) == set(json_schema.names)
    for name in csv_schema.names:
        assert csv_schema.field(name).type == json_schema.field(name).type, name
    df = read_results(tmp_path)
    assert df["prices"][1][0]["dateSeen"] == [TS("2020-01-02", tz="UTC").to_pydatetime()]
    assert df["prices"][1][0]["isSale"] is False


def test_a_csv_record_written_over_several_rows_is_one_row(tmp_path: Path) -> None:
    # Datafiniti writes one row per review (or price), repeating the record's other cells.
    body = (
        "id,name,reviews.rating,reviews.text,prices.amountMax\n"
        "a,A,5,good,\n"
        "a,A,3,,9.5\n"
        "a,A,,,\n"  # a row with no element adds none
        "b,B,4,ok,\n"
        "b,B2,2,,\n"  # same id, another name: not merged, so nothing is lost
        "c,C,,,\n"
    )
    (tmp_path / "4_0.csv").write_text(body)
    df = read_results(tmp_path)
    assert df["id"].tolist() == ["a", "b", "b", "c"]
    assert df["name"].tolist() == ["A", "B", "B2", "C"]
    assert [r["rating"] for r in df["reviews"][0]] == [5.0, 3.0]
    assert df["reviews"][0][0]["text"] == "good" and df["reviews"][0][1]["text"] is None
    assert [p["amountMax"] for p in df["prices"][0]] == [9.5] and pd.isna(df["prices"][1])
    assert pd.isna(df["reviews"][3])
    by_review = read_results(tmp_path, per="reviews")
    assert by_review["id"].tolist() == ["a", "a", "b", "b"]
    assert by_review["reviews.rating"].tolist() == [5.0, 3.0, 4.0, 2.0]
    # The same records however the file falls into blocks (a record cut by a block's end is
    # held for the next), with one converting thread or several.
    rows = "".join(f"r{i // 7},N{i // 7},{i % 5},t{i},\n" for i in range(3000))
    (tmp_path / "4_0.csv").write_text(
        "id,name,reviews.rating,reviews.text,prices.amountMax\n" + rows
    )
    whole = read_results(tmp_path)
    assert len(whole) == 429 and whole["reviews"].map(len).tolist() == [7] * 428 + [4]
    path = tmp_path / "4_0.csv"
    schema = result_schema([path])
    one_block = pa.Table.from_batches(list(read_result_batches(path, schema)), schema=schema)
    assert one_block.num_rows == 429
    for threads in (1, 3):
        batches = list(read_result_batches(path, schema, block_size=500, threads=threads))
        assert len(batches) > 10  # of twelve blocks each (see _CSV_BLOCKS_PER_BATCH)
        assert pa.Table.from_batches(batches, schema=schema).equals(one_block)


def test_a_bad_value_in_a_record_held_over_blocks_names_its_line(tmp_path: Path) -> None:
    # One record of 600 rows, cut by many 2,000-byte blocks: the bad cell's own line.
    rows = [f"r1,N,{i % 5},t{i}\n" for i in range(600)]
    rows[450] = "r1,N,five,t450\n"
    path = tmp_path / "4_0.csv"
    path.write_text("id,name,reviews.rating,reviews.text\n" + "".join(rows) + "r2,M,1,x\n")
    schema = result_schema([path])
    with pytest.raises(ResultFileError, match=r"^4_0\.csv: line 452: reviews\.rating: 'five'"):
        list(read_result_batches(path, schema, block_size=2000))
    # An open file has no line to name: the CSV row (after the header), not the record.
    with open(path, "rb") as f, pytest.raises(ResultFileError, match=r"^4_0\.csv: row 451: "):
        list(read_result_batches(f, schema, name="4_0.csv", block_size=2000))


def test_a_record_s_repeated_cells_are_converted_once_and_checked_as_written(
    tmp_path: Path,
) -> None:
    # A record's repeated columns are converted from its first row (its rows agree on them):
    # the values are those of every row, and a bad one is named at the record's first line.
    rows = [f"r{i // 300},{i // 300 / 7},A{i // 300},{i % 5}\n" for i in range(900)]
    path = tmp_path / "4_0.csv"
    path.write_text("id,latitude,categories,reviews.rating\n" + "".join(rows))
    schema = result_schema([path])
    table = pa.Table.from_batches(list(read_result_batches(path, schema, block_size=500)))
    assert table.column("id").to_pylist() == ["r0", "r1", "r2"]
    assert table.column("latitude").to_pylist() == [0.0, 1 / 7, 2 / 7]
    assert table.column("categories").to_pylist() == [["A0"], ["A1"], ["A2"]]
    assert [len(r) for r in table.column("reviews").to_pylist()] == [300, 300, 300]
    bad = [f"r1,north,A1,{i % 5}\n" if r.startswith("r1,") else r for i, r in enumerate(rows)]
    path.write_text("id,latitude,categories,reviews.rating\n" + "".join(bad))
    with pytest.raises(ResultFileError, match=r"^4_0\.csv: line 302: latitude: 'north'"):
        list(read_result_batches(path, schema, block_size=500))


def test_blocks_read_through_python_are_whole_blocks() -> None:
    # The header's read-ahead (64 KB) used to come back as a short block of its own, which a
    # record could then straddle twice: "a record longer than the blocks", and wrong.
    path = REAL / "hotel_reviews_7282_1_subset_nonutf8.csv"
    if not path.exists():
        pytest.skip("real data file not present")
    schema = result_schema([path], encoding="latin-1")
    whole = pa.Table.from_batches(list(read_result_batches(path, schema, encoding="latin-1")))
    assert whole.num_rows == 46
    for block_size in (2107, 3637, 8172):
        for source in (path, io.BytesIO(path.read_bytes())):
            batches = read_result_batches(
                source, schema, encoding="latin-1", name=path.name, block_size=block_size
            )
            assert pa.Table.from_batches(list(batches)).equals(whole), block_size


def test_csv_and_json_results_of_the_same_records_give_the_same_frame(tmp_path: Path) -> None:
    for data_type in ("business", "product", "property", "people"):
        frames = []
        for fmt, ext in (("CSV", "csv"), ("JSON", "txt")):
            with FakeDatafiniti(records_per_file=60) as fake:
                fake.add_download(
                    {
                        "id": "7",
                        "status": "completed",
                        "format": fmt,
                        "data_type": data_type,
                        "num_records": 60,
                        "results": ["x"],
                    }
                )
                (tmp_path / f"7_0.{ext}").write_bytes(fake.result_body(7, 0))
            frames.append(read_results(tmp_path / f"7_0.{ext}").drop(columns="source_file"))
        from_csv, from_json = frames
        assert len(from_csv) == 60 and set(from_csv.columns) == set(from_json.columns)
        for col in from_csv.columns:
            assert from_csv[col].dtype == from_json[col].dtype, (data_type, col)
            # A CSV cannot tell a record's empty list from no list: both read as null.
            assert _nulled(from_csv[col]) == _nulled(from_json[col]), (data_type, col)


def _nulled(values: pd.Series) -> list[object]:
    return [None if v is pd.NA or (isinstance(v, list) and not v) else v for v in values]


def test_data_type_gives_the_same_columns_whatever_the_records(tmp_path: Path) -> None:
    (tmp_path / "1_0.txt").write_text('{"id": "a", "name": "Cafe", "zeta": "x"}\n')
    (tmp_path / "2_0.csv").write_text("postalCode,id,reviews.rating\n02134,b,5\n")
    one = read_results(tmp_path / "1_0.txt", data_type="business")
    two = read_results(tmp_path / "2_0.csv", data_type="businesses")  # the API's plural too
    catalogued = set(two.columns) - {"download_id", "source_file"}
    assert set(one.columns) == catalogued | {"zeta", "download_id", "source_file"}
    assert list(one.columns[-2:]) == ["download_id", "source_file"]
    assert one["postalCode"].dtype == two["postalCode"].dtype == "string"
    assert one["reviews"].dtype == two["reviews"].dtype and pd.isna(one["reviews"][0])
    assert two["postalCode"][0] == "02134" and two["reviews"][0][0]["rating"] == 5.0
    with pytest.raises(dfkit.ArgumentError, match="data_type must be one of business,"):
        read_results(tmp_path, data_type="cars")


def test_json_lines_keep_their_nesting_typed(tmp_path: Path) -> None:
    (tmp_path / "5_0.txt").write_text(
        '{"id": "a", "gtins": ["00123456789012"], "upc": 123456789012345678901, '
        '"reviews": [{"rating": 5, "date": "2017-03-02T00:00:00.000Z", "numHelpful": 3}], '
        '"mostRecentPriceIsSale": "TRUE"}\n'
        "\n"
        '{"id": "b", "reviews": [], "asins": "B0009XCFRE"}\n'
    )
    (tmp_path / "5_1.txt").write_text('{"id": "c", "reviews": null, "custom": {"a": [1]}}\n')
    df = read_results(tmp_path)
    assert df["upc"][0] == ["123456789012345678901"]  # exact, and a list
    assert df["asins"][1] == ["B0009XCFRE"]  # a lone value where the catalog keeps several
    review = df["reviews"][0][0]
    assert review["rating"] == 5.0 and review["numHelpful"] == 3
    assert review["date"] == TS("2017-03-02", tz="UTC").to_pydatetime()
    assert df["reviews"][1] == [] and pd.isna(df["reviews"][2])
    assert df["mostRecentPriceIsSale"].dtype == "boolean" and df["mostRecentPriceIsSale"][0]
    assert df["custom"].tolist()[2] == '{"a":[1]}'  # unknown nested value: JSON text


def test_per_gives_one_row_per_element_with_the_record_id(tmp_path: Path) -> None:
    (tmp_path / "5_0.txt").write_text(
        '{"id": "a", "reviews": [{"rating": 5}, {"rating": 3, "text": "meh"}]}\n'
        '{"id": "b", "reviews": []}\n{"id": "c", "reviews": [{"rating": 4}]}\n'
    )
    df = read_results(tmp_path, per="reviews")
    assert df["id"].tolist() == ["a", "a", "c"]
    assert df["reviews.rating"].tolist() == [5.0, 3.0, 4.0]
    assert df["reviews.text"].tolist()[1] == "meh"
    out = results_to_parquet(tmp_path, tmp_path / "r.parquet", per="reviews")
    assert pq.read_table(out).num_rows == 3
    with pytest.raises(ValueError, match="per must be"):
        read_results(tmp_path, per="prices")


def test_values_that_do_not_fit_their_type_name_the_field(tmp_path: Path) -> None:
    (tmp_path / "1_0.csv").write_text("id,reviews.rating\na,5\nb,five\n")
    with pytest.raises(
        ResultFileError, match=r"1_0\.csv: .*reviews\.rating: 'five' is not a number"
    ):
        read_results(tmp_path)


def test_dtype_overrides(tmp_path: Path) -> None:
    (tmp_path / "1_0.csv").write_text("zip,n\n02134,1\n78701,2\n")
    df = read_results(tmp_path, dtype={"zip": "Int64"})
    assert df["zip"].tolist() == [2134, 78701]
    with pytest.raises(dfkit.ArgumentError, match="dtype: no column 'missing'"):
        read_results(tmp_path, dtype={"zip": "Int64", "missing": int})
    (tmp_path / "1_0.csv").write_text("latitude,n\n44.10,1\n300.5,2\n")
    with pytest.raises(ResultFileError, match=r"column 'latitude'.*losing values: 44\.1 "):
        read_results(tmp_path, dtype={"latitude": "int8"})
    assert read_results(tmp_path, dtype={"n": "int8"})["n"].tolist() == [1, 2]
    with pytest.raises(ResultFileError, match="column 'n'"):
        read_results(tmp_path, dtype={"n": "datetime64[ns]"})


# --- files as they really come ------------------------------------------------------------


def test_encoding_bom_gzip_and_explicit_format(tmp_path: Path) -> None:
    (tmp_path / "1_0.csv").write_bytes(b"name,city\nCaf\xe9,K\xf6ln\n")
    with pytest.raises(ResultFileError, match=r"line 2: not valid UTF-8.*encoding=") as info:
        read_results(tmp_path)
    assert info.value.line == 2
    assert read_results(tmp_path, encoding="cp1252")["name"].tolist() == ["Café"]
    (tmp_path / "1_0.csv").write_bytes(b"\xef\xbb\xbfname\nA\n")
    assert read_results(tmp_path).columns[0] == "name"
    with gzip.open(tmp_path / "1_1.csv.gz", "wt") as f:
        f.write("name\nB\n")
    assert read_results(tmp_path)["name"].tolist() == ["A", "B"]
    (tmp_path / "3_1.data").write_text('{"name": "y"}\n')
    assert read_results(tmp_path / "3_1.data", format="json")["name"].tolist() == ["y"]
    with pytest.raises(ResultFileError, match="cannot tell the format"):
        read_results(tmp_path / "3_1.data")
    with pytest.raises(FileNotFoundError):
        read_results(tmp_path / "nope.csv")


def test_json_lines_that_are_not_utf8_are_refused_where_they_are(tmp_path: Path) -> None:
    # Arrow's JSON parser does not check UTF-8: the text would be written broken.
    (tmp_path / "9_1.txt").write_bytes(b'{"name": "ok"}\n{"name": "Caf\xe9"}\n')
    message = r"^9_1\.txt: line 2: not valid UTF-8 \(.* at byte 13\); pass encoding="
    with pytest.raises(ResultFileError, match=message) as info:
        read_results(tmp_path)
    assert info.value.line == 2
    with pytest.raises(ResultFileError, match=message):
        results_to_parquet(tmp_path, tmp_path / "o.parquet")
    assert not (tmp_path / "o.parquet").exists()
    assert read_results(tmp_path, encoding="cp1252")["name"].tolist() == ["ok", "Café"]
    (tmp_path / "9_1.txt").write_text('{"name": "Café ü"}\n', encoding="utf-8")
    assert read_results(tmp_path)["name"].tolist() == ["Café ü"]
    # A pretty-printed search answer too: one document, its bad byte named at its line.
    answer = b'{\n  "records": [\n    {"name": "ok"},\n    {"name": "Caf\xe9"}\n  ]\n}\n'
    (tmp_path / "9_1.txt").unlink()
    (tmp_path / "9_2.json").write_bytes(answer)
    with pytest.raises(ResultFileError, match=r"^9_2\.json: line 4: not valid UTF-8.*encoding="):
        read_results(tmp_path)
    assert read_results(tmp_path, encoding="cp1252")["name"].tolist() == ["ok", "Café"]


@pytest.mark.parametrize(
    "body", [b"id,name", b"\xef\xbb\xbfid,name", b"id,name\n", b"id,name\r\n", b"id,name\r"]
)
def test_a_csv_header_alone_is_no_records_with_its_columns(tmp_path: Path, body: bytes) -> None:
    # Without a line break after the header too (Arrow calls that an "Empty CSV file").
    (tmp_path / "2_0.csv").write_bytes(body)
    df = read_results(tmp_path / "2_0.csv")
    assert (len(df), list(df.columns)) == (0, ["id", "name", "download_id", "source_file"])
    out = results_to_parquet(tmp_path / "2_0.csv", tmp_path / "o.parquet")
    table = pq.read_table(out)
    assert (table.num_rows, table.schema.names) == (0, list(df.columns))
    schema = result_schema([io.BytesIO(body)], names=["2_0.csv"])
    batches = read_result_batches(io.BytesIO(body), schema, name="2_0.csv")
    assert sum(b.num_rows for b in batches) == 0


@pytest.mark.parametrize("name", ["3_0.csv", "3_1.txt"])
def test_an_empty_file_is_no_records_and_no_columns(tmp_path: Path, name: str) -> None:
    # Its fields cannot be known: alone it gives the columns dfkit adds, beside another file
    # nothing at all (the other file's columns and rows).
    (tmp_path / name).write_bytes(b"")
    df = read_results(tmp_path / name)
    assert (len(df), list(df.columns)) == (0, ["download_id", "source_file"])
    out = results_to_parquet(tmp_path / name, tmp_path / "o.parquet")
    assert pq.read_table(out).schema.names == ["download_id", "source_file"]
    (tmp_path / "3_2.csv").write_text("id,name\na,b\n")
    both = read_results([tmp_path / name, tmp_path / "3_2.csv"])
    assert both[["id", "name", "source_file"]].values.tolist() == [["a", "b", "3_2.csv"]]
    out = results_to_parquet([tmp_path / name, tmp_path / "3_2.csv"], tmp_path / "p.parquet")
    assert pq.read_table(out).num_rows == 1


def _suggested(error: ResultFileError) -> str:
    found = re.search(r"encoding='([^']+)'", str(error))
    assert found, str(error)
    return found.group(1)


@pytest.mark.parametrize("name", ["5_0.csv", "5_1.txt"])
@pytest.mark.parametrize(
    ("head", "tail", "suggested"),
    [
        (b"", b"", "cp1252"),
        (b"", b"\x90", "latin-1"),  # cp1252 has no 0x90: past the first bad line
        (b"\xc3\x81", b"", "latin-1"),  # UTF-8 "\u00c1" (0xc3 0x81) before the first bad line
    ],
)
def test_the_encoding_suggested_reads_the_file(
    tmp_path: Path, name: str, head: bytes, tail: bytes, suggested: str
) -> None:
    # cp1252 leaves 0x81, 0x8d, 0x8f, 0x90 and 0x9d undefined: a file holding one is read by
    # latin-1 (any bytes), and the encoding suggested must read the whole file.
    values = [b"A" + head, b"Caf\xe9", *[b"x"] * 3000, b"Z" + tail]
    if name.endswith(".csv"):
        body = b"name\n" + b"".join(v + b"\n" for v in values)
    else:
        body = b"".join(b'{"name": "' + v + b'"}\n' for v in values)
    (tmp_path / name).write_bytes(body)
    with pytest.raises(ResultFileError, match=r"line \d+: not valid UTF-8") as info:
        read_results(tmp_path / name)
    assert _suggested(info.value) == suggested
    assert len(read_results(tmp_path / name, encoding=suggested)) == len(values)


def test_bytes_the_encoding_lacks_name_their_line(tmp_path: Path) -> None:
    (tmp_path / "6_0.csv").write_bytes(b"name\r\n" + b"x\r\n" * 5000 + b"\x81\r\n")
    (tmp_path / "6_1.txt").write_bytes(b'{"name": "x"}\n' * 5000 + b'{"name": "\x8d"}\n')
    for name, line, byte in (("6_0.csv", 5002, "81"), ("6_1.txt", 5001, "8d")):
        message = rf"^{re.escape(name)}: line {line}: not valid cp1252 \(.*byte 0x{byte}\); "
        with pytest.raises(ResultFileError, match=message + ".*encoding='latin-1'") as info:
            read_results(tmp_path / name, encoding="cp1252")
        assert info.value.line == line
        assert len(read_results(tmp_path / name, encoding="latin-1")) == 5001


@pytest.mark.parametrize(
    ("name", "text", "field"),
    [
        ("1_0.csv", "id,dateAdded\nb,2017-03-02T00:00:00.123456789Z\n", "dateAdded"),
        ("1_0.csv", 'id,reviews.dateSeen\nb,"2017-03-02T00:00:00Z,2017-03-02T00:00:00.1234567Z"\n',
         "reviews.dateSeen"),
        ("1_0.txt", '{"id": "b", "dateAdded": "2017-03-02T00:00:00.123456789Z"}\n', "dateAdded"),
        ("1_0.txt", '{"id": "a", "reviews": [{"numHelpful": 1.5}]}\n', "reviews.numHelpful"),
    ],
)  # fmt: skip
def test_values_the_catalogs_types_cannot_hold_are_refused_not_truncated(
    tmp_path: Path, name: str, text: str, field: str
) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(
        ResultFileError, match=rf"^{re.escape(name)}: line \d: {field}: .* is not an? "
    ):
        read_results(tmp_path)
    exact = text.replace("1.5", "2.0").replace("123456789", "123456000").replace("1234567", "1")
    (tmp_path / name).write_text(exact)
    assert len(read_results(tmp_path)) == 1


def test_a_search_answer_is_read_and_other_documents_are_explained(tmp_path: Path) -> None:
    (tmp_path / "answer.json").write_text(
        '{\n  "num_found": 2,\n  "records": [\n    {"id": "a", "latitude": "53.1"},\n'
        '    {"id": "b", "numBedroom": 3}\n  ]\n}\n'
    )
    df = read_results(tmp_path / "answer.json")
    assert df["id"].tolist() == ["a", "b"] and df["latitude"][0] == 53.1
    (tmp_path / "other.json").write_text('{\n  "error": "nope"\n}\n')
    with pytest.raises(ResultFileError, match=r"other\.json: found one JSON document.*'records'"):
        read_results(tmp_path / "other.json")
    # The same answer written on one line (compact), with or without a BOM, is one too; a
    # file of one record on one line is a record.
    compact = json.dumps(json.loads((tmp_path / "answer.json").read_text()))
    for prefix in ("", "\ufeff"):
        (tmp_path / "answer.json").write_text(prefix + compact)
        assert read_results(tmp_path / "answer.json").equals(df)
    (tmp_path / "1_0.txt").write_text('\ufeff{"id": "a", "name": "' + "x" * 70_000 + '"}')
    assert read_results(tmp_path / "1_0.txt")["name"].str.len().tolist() == [70_000]
    # A long first line with more lines after it is read as JSON lines, line by line.
    (tmp_path / "1_0.txt").write_text('{"name": "' + "x" * 200_000 + '"}\n{"name": "y"}\n')
    assert read_results(tmp_path / "1_0.txt")["name"].str.len().tolist() == [200_000, 1]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"records": [1, 2]}', r"records\[0\]: expected a record \(a JSON object\), found a "
         r"number \(1\)"),
        ('{"records": [{"id": "a"}, "x"]}', r"records\[1\]: expected a record \(a JSON object\), "
         r'found a string \("x"\)'),
        ('{\n  "records": [\n    {"id": "a"},\n    [1]\n  ]\n}\n', r"records\[1\]: .*found a list"),
        ('[\n  {"id": "a"},\n  null\n]\n', r"\[1\]: expected a record \(a JSON object\), "
         r"found null"),
        ('{"records": {"id": "a"}}', r"records: expected a list of records \(JSON objects\), "
         r"found an object"),
    ],
)  # fmt: skip
def test_a_search_answer_holding_a_non_record_names_it(
    tmp_path: Path, body: str, message: str
) -> None:
    # Compact (one line) or pretty-printed: which record, what it is, what was expected. (A
    # compact one was read as one record with a 'records' text field.)
    (tmp_path / "answer.json").write_text(body)
    with pytest.raises(ResultFileError, match=r"^answer\.json: " + message):
        read_results(tmp_path / "answer.json")
    with pytest.raises(ResultFileError, match=r"^answer\.json: " + message):
        results_to_parquet(tmp_path / "answer.json", tmp_path / "o.parquet")


def test_empty_inputs(tmp_path: Path) -> None:
    with pytest.raises(ResultFileError, match="no result files in"):
        read_results(tmp_path)
    (tmp_path / "1_0.csv").write_text("a,b\n")
    (tmp_path / "1_1.txt").write_text("")
    df = read_results(tmp_path)
    assert df.columns.tolist() == ["a", "b", "download_id", "source_file"] and len(df) == 0


def test_cr_only_line_endings_are_read(tmp_path: Path) -> None:
    (tmp_path / "1_0.csv").write_bytes(b"id,name\r1,A\r2,B\r")
    assert read_results(tmp_path)["name"].tolist() == ["A", "B"]


@pytest.mark.parametrize(
    ("name", "text", "line", "what"),
    [
        ("1_0.csv", 'a,b\n1,2\n"x\ny",3\n4,5,6\n', 5, "expected 2 fields"),
        ("1_0.csv", "a,b\n1,2\n3\n", 3, "found 1"),
        ("1_0.csv", 'a,b,c\n1,"12in TV,02134\n2,Cafe,x\n3,y,z\n', 2, "never closed"),
        ("1_0.csv", "a,a\n1,2\n", 1, "appears twice"),
        ("1_0.txt", '{"a": 1}\n{"a": 2,}\n', 2, "not valid JSON"),
        ("1_0.txt", '{"a": 1}\n\n[1, 2]\n', 3, "expected a JSON object"),
    ],
)
def test_bad_lines_name_the_file_and_line(
    tmp_path: Path, name: str, text: str, line: int | None, what: str
) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(ResultFileError, match=what) as info:
        read_results(tmp_path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{name}: " + (f"line {line}: " if line else ""))
    with pytest.raises(ResultFileError, match=what):
        results_to_parquet(tmp_path, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_reserved_columns_are_refused(tmp_path: Path) -> None:
    (tmp_path / "1_0.txt").write_text('{"a": 1, "download_id": 2}\n')
    with pytest.raises(ResultFileError, match="dfkit adds itself"):
        read_results(tmp_path)


def test_a_list_written_both_as_json_and_as_dotted_columns_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_0.csv").write_text('id,prices,prices.amountMax\na,"[{""amountMax"": 5}]",6\n')
    with pytest.raises(
        ResultFileError,
        match=r"^1_0\.csv: line 1: both a 'prices' column .* \('prices\.amountMax'\)",
    ):
        read_results(tmp_path)
    (tmp_path / "1_0.csv").write_text("id,reviews.rating,reviews\na,5,[]\n")  # JSON column last
    with pytest.raises(ResultFileError, match=r"reviews\.\* columns \('reviews\.rating'\)"):
        read_results(tmp_path)


def test_a_header_longer_than_a_block_says_so(tmp_path: Path) -> None:
    path = tmp_path / "1_0.csv"
    path.write_text(",".join(f"field{i}" for i in range(40)) + "\n" + ",".join("x" * 40) + "\n")
    with pytest.raises(ResultFileError, match=r"^1_0\.csv: line 1: the header is longer than"):
        list(read_result_batches(path, result_schema([path]), block_size=100))


def test_truncated_and_oversized_gzip(tmp_path: Path) -> None:
    data = gzip.compress(b"id,name\n" + b"".join(b"%d,n%d\n" % (i, i) for i in range(50_000)))
    (tmp_path / "1_0.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ResultFileError, match=r"1_0\.csv\.gz: the gzip data is truncated"):
        read_results(tmp_path)
    bomb = tmp_path / "bomb"
    bomb.mkdir()
    (bomb / "1_0.txt.gz").write_bytes(gzip.compress(b'{"id": "a"}\n' + b" " * (80 << 20) + b"\n"))
    with pytest.raises(ResultFileError, match=r"decompression bomb.*max_expansion="):
        read_results(bomb)
    assert len(read_results(bomb, max_expansion=1e6)) == 1


def test_deeply_nested_values_are_stored_as_json_text(tmp_path: Path) -> None:
    deep = "[" * 60 + "1" + "]" * 60
    (tmp_path / "1_0.txt").write_text(
        f'{{"id": "a", "custom": {deep}, "reviews": [{{"rating": 1, "extra": {deep}}}]}}\n'
    )
    out = results_to_parquet(tmp_path, tmp_path / "o.parquet")
    t = pq.read_table(out)  # readable: nothing deeper than the catalog's lists
    assert t.column("custom").to_pylist() == [deep.replace(" ", "")]
    assert t.column("reviews").to_pylist()[0][0]["extra"] == deep


# --- results_to_parquet --------------------------------------------------------------------


def _mixed_folder(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "1_0.csv").write_text(
        "id,prices.amountMax,postalCode,dateAdded,reviews.numHelpful,isClosed\n"
        "a,1,02134,2025-01-01T00:00:00Z,1,true\nb,2,10001,,2,false\n"
    )
    (folder / "1_1.csv").write_text("id,prices.amountMax,postalCode,extra\nc,2.5,94105,e\n")
    (folder / "2_0.txt").write_text(
        '{"id": "d", "prices": [{"amountMax": 3}], "reviews": [{"rating": 5}]}\n'
        '{"id": "e", "reviews": [{"rating": 4.5, "text": "ok"}], "isClosed": false}\n'
    )
    return folder


def test_parquet_matches_read_results(tmp_path: Path) -> None:
    folder = _mixed_folder(tmp_path / "in")
    out = results_to_parquet(folder, tmp_path / "out.parquet")
    assert out == tmp_path / "out.parquet"
    expected = read_results(folder)
    got = pd.read_parquet(out, dtype_backend="pyarrow")
    assert got.columns.tolist() == expected.columns.tolist()
    assert len(got) == 5
    assert pq.read_schema(out).field("dateAdded").type == TIMESTAMP
    for name in ["id", "postalCode", "isClosed", "extra", "download_id", "source_file"]:
        assert got[name].astype(object).where(got[name].notna(), None).tolist() == (
            expected[name].astype(object).where(expected[name].notna(), None).tolist()
        ), name
    assert got["reviews"][4][0]["text"] == "ok"
    assert _leftovers(tmp_path) == []


def _latitudes(fmt: str, n: int, bad: bool = False) -> str:
    """``n`` records of ``i`` and ``latitude`` as CSV or JSON lines, a bad latitude last."""
    if fmt == "csv":
        return (
            "i,latitude\n"
            + "".join(f"{i},{i % 90}\n" for i in range(n))
            + ("9,north\n" if bad else "")
        )
    lines = "".join(f'{{"i": "{i}", "latitude": {i % 90}}}\n' for i in range(n))
    return lines + ('{"i": "9", "latitude": "north"}\n' if bad else "")


@pytest.mark.parametrize("fmt", ["csv", "txt"])
def test_parquet_is_written_in_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    for k in range(3):
        (tmp_path / f"1_{k}.{fmt}").write_text(_latitudes(fmt, 3000))
    monkeypatch.setattr(dfkit.results, "ROW_GROUP_BYTES", 40_000)
    monkeypatch.setitem(dfkit.resultfiles.BLOCK_BYTES, "json", 8192)
    out = results_to_parquet(tmp_path, tmp_path / "o.parquet")
    meta = pq.ParquetFile(out).metadata
    assert meta.num_rows == 9000
    assert meta.num_row_groups > 1
    assert meta.row_group(0).column(0).compression == "ZSTD"
    # Row groups are written on a thread of their own, in order (JSON lines' blocks converted
    # on several threads, in order too); a bad value after some of them were written fails
    # the whole file.
    assert pq.read_table(out).column("i").to_pylist() == [str(i) for i in range(3000)] * 3
    (tmp_path / f"1_2.{fmt}").write_text(_latitudes(fmt, 4000, bad=True))
    line = 4002 if fmt == "csv" else 4001  # CSV has its header line
    with pytest.raises(ResultFileError, match=rf"^1_2\.{fmt}: line {line}: latitude: 'north'"):
        results_to_parquet(tmp_path, tmp_path / "p.parquet")
    assert not (tmp_path / "p.parquet").exists()


@pytest.mark.parametrize("fmt", ["csv", "txt"])
def test_a_failed_row_group_write_is_the_error_and_stops_the_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    # The first row group's write fails (a full disk) while a later one holds a bad value:
    # the write's error is raised, and no reading or converting thread outlives the call (the
    # process would hang at exit), with no garbage collection needed. JSON lines are converted
    # on several threads: small blocks keep them all busy.
    (tmp_path / f"1_0.{fmt}").write_text(_latitudes(fmt, 3000))
    (tmp_path / f"1_1.{fmt}").write_text(_latitudes(fmt, 3000, bad=True))
    monkeypatch.setattr(dfkit.results, "ROW_GROUP_BYTES", 40_000)
    monkeypatch.setitem(dfkit.resultfiles.BLOCK_BYTES, "json", 8192)
    real = dfkit.results._flush

    def full_disk(*args: Any) -> None:
        time.sleep(0.3)  # the reader meets the bad value meanwhile
        real(*args)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dfkit.results, "_flush", full_disk)

    def fails_and_stops() -> None:
        gc.disable()
        try:
            with pytest.raises(DiskFullError, match="no space left on device writing"):
                results_to_parquet(tmp_path, tmp_path / "o.parquet")
            assert not [t for t in threading.enumerate() if t.name.startswith("dfkit-")]
        finally:
            gc.enable()
        assert sorted(p.name for p in tmp_path.iterdir()) == [f"1_0.{fmt}", f"1_1.{fmt}"]

    fails_and_stops()
    # The write fails while the reader is still rows ahead, waiting to hand them over.
    for k in range(2):
        (tmp_path / f"1_{k}.{fmt}").write_text(_latitudes(fmt, 30_000))
    fails_and_stops()


def test_parquet_failure_midway_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _mixed_folder(tmp_path / "in")
    out = tmp_path / "out.parquet"
    out.write_bytes(b"previous")
    calls = 0
    real = dfkit.results.read_result_batches

    def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(dfkit.results, "read_result_batches", flaky)
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


def test_refuses_to_replace_inputs_or_someone_elses_folder(tmp_path: Path) -> None:
    folder = _mixed_folder(tmp_path / "in")
    (folder / "thesis.docx").write_text("years of work")
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(dfkit.ExportError, match="replace the input"):
        results_to_parquet(folder, folder, partition_by="download_id")
    with pytest.raises(dfkit.ExportError, match="replace the input"):
        results_to_parquet(folder / "1_0.csv", folder / "1_0.csv")
    with pytest.raises(dfkit.ExportError, match="replace the input"):
        results_to_parquet(folder / "1_0.csv", tmp_path, partition_by="download_id")
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.docx").write_text("years of work")
    with pytest.raises(dfkit.ExportError, match="not a dfkit Parquet dataset"):
        results_to_parquet(folder, home, partition_by="download_id")
    with pytest.raises(dfkit.ExportError, match=f"{home} is a directory"):
        results_to_parquet(folder, home)
    assert sorted(p.name for p in folder.iterdir()) == before
    assert (home / "thesis.docx").read_text() == "years of work"
    # A previous output (and an empty folder) is replaced.
    empty = tmp_path / "empty"
    empty.mkdir()
    results_to_parquet(folder, empty, partition_by="download_id")
    results_to_parquet(folder, empty, partition_by="download_id")
    assert pads.dataset(empty, partitioning="hive").count_rows() == 5


def test_partition_by_download_id_needs_ids_in_the_names(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "products.csv").write_text("id\nA\n")
    (tmp_path / "in" / "7_0.csv").write_text("id\nB\n")
    with pytest.raises(dfkit.ArgumentError, match=r"products\.csv has no download id.*<n>"):
        results_to_parquet(tmp_path / "in", tmp_path / "ds", partition_by="download_id")
    assert not (tmp_path / "ds").exists()
    out = results_to_parquet(
        tmp_path / "in" / "7_0.csv", tmp_path / "ds", partition_by="download_id"
    )
    assert pd.read_parquet(out)["id"].tolist() == ["B"]


def test_partitioned_dataset_keeps_the_file_order(tmp_path: Path) -> None:
    # Written on several threads, this file's last record came first now and then.
    real = Path(__file__).resolve().parents[1].parent / "shared" / "real-data"
    src = real / "electronics_products_299678_1.txt"
    if not src.is_file():
        pytest.skip("the shared real result files are absent")
    want = read_results(src)["id"].tolist()
    for _ in range(4):
        out = results_to_parquet(src, tmp_path / "ds", partition_by="download_id")
        assert pd.read_parquet(out)["id"].tolist() == want


def test_progress_bar_counts_the_input_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _mixed_folder(tmp_path / "in")
    total = sum(p.stat().st_size for p in folder.iterdir())
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    results_to_parquet(folder, tmp_path / "o.parquet", progress=True)
    text = err.getvalue()
    assert "results" in text and "100%" in text
    assert f"{total}" in text.replace(".00", "") or "B/" in text


def test_a_json_field_first_seen_after_the_sample_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dfkit.results, "SAMPLE_BYTES", 100)
    (tmp_path / "1_0.txt").write_text(
        '{"id": "a"}\n' * 200
        + '{"id": "b", "brand": "x", "reviews": [{"rating": 1, "mood": "ok"}]}\n'
    )
    table = pq.read_table(results_to_parquet(tmp_path, tmp_path / "o.parquet"))
    assert table.column("brand").to_pylist()[-1] == "x"
    assert table.column("reviews").to_pylist()[-1] == [
        {
            **dict.fromkeys(f.name for f in table.schema.field("reviews").type.value_type),
            "rating": 1.0,
            "mood": "ok",
        }
    ]
    assert _leftovers(tmp_path) == []
