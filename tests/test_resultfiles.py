"""The per-file reader other engines build on, and the real Datafiniti files."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dfkit import ArgumentError, ResultFileError, read_results, resultfiles, results_to_parquet
from dfkit.catalog import FIELDS, TIMESTAMP
from dfkit.resultfiles import memory_pool, read_result_batches, result_schema

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real-data"
CSVS = {
    "hotel_reviews_7282_1_subset_nonutf8.csv": "latin-1",
    "fast_food_restaurants_FastFoodRestaurants.csv": "utf-8",
    "pizza_menus_8358_1.csv": "utf-8",
    "amazon_reviews_May19_first999_bom.csv": "utf-8",
    "amazon_reviews_7817_1_first100.csv": "utf-8",
    "womens_shoes_Jun19_trimmed15cols.csv": "utf-8",
}


def _real(name: str) -> Path:
    path = REAL / name
    if not path.exists():
        pytest.skip(f"real data file {name} not present")
    return path


def _table(path: Path, schema: pa.Schema, **kwargs: object) -> pa.Table:
    return pa.Table.from_batches(list(read_result_batches(path, schema, **kwargs)), schema)  # type: ignore[arg-type]


# --- the seam ----------------------------------------------------------------------------


def test_open_files_and_byte_ranges_read_the_same_records(tmp_path: Path) -> None:
    lines = [json.dumps({"id": str(i), "reviews": [{"rating": i % 5}]}) for i in range(500)]
    path = tmp_path / "4_0.txt"
    path.write_text("\n".join(lines))  # no trailing newline, as Datafiniti writes them
    schema = result_schema([path])
    whole = _table(path, schema)
    with open(path, "rb") as f:
        assert result_schema([f], names=["4_0.txt"]) == schema
    with open(path, "rb") as f:
        assert _table(f, schema, name="4_0.txt").equals(whole)  # type: ignore[arg-type]
    size = path.stat().st_size
    cuts = [0, 1, 77, size // 3, size // 2, size - 5, size]
    parts = [
        _table(path, schema, byte_range=(a, b), block_size=1000)
        for a, b in itertools.pairwise(cuts)
    ]
    assert pa.concat_tables(parts).equals(whole)
    assert whole.column("download_id").unique().to_pylist() == ["4"]


def test_a_csv_whose_records_span_rows_is_never_read_in_ranges(tmp_path: Path) -> None:
    path = tmp_path / "4_0.csv"
    path.write_text("id,reviews.rating\na,5\na,4\nb,3\n")
    assert resultfiles.csv_records_span_rows(path)
    assert not resultfiles.csv_records_span_rows(io.BytesIO(b"id,rating\na,5\n"), name="4_0.csv")
    with pytest.raises(ArgumentError, match=r"^byte_range: 4_0\.csv's records span several rows"):
        _table(path, result_schema([path]), byte_range=(0, 20))


def test_byte_ranges_cut_at_any_byte_read_each_record_once(tmp_path: Path) -> None:
    # Cuts at line starts, just before and just after them (the Dask engine's ranges fall
    # anywhere): every record comes back exactly once, in order.
    path = tmp_path / "5_0.txt"
    path.write_text("\n".join(json.dumps({"id": "x" * i}) for i in range(1, 9)) + "\n")
    schema = result_schema([path])
    whole = _table(path, schema)
    size = path.stat().st_size
    for step in range(1, 40):
        cuts = [*range(0, size, step), size]
        parts = [_table(path, schema, byte_range=(a, b)) for a, b in itertools.pairwise(cuts)]
        assert pa.concat_tables(parts).equals(whole), step


def test_a_bom_belongs_to_the_first_line_whatever_the_first_range(tmp_path: Path) -> None:
    path = tmp_path / "6_0.txt"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"id": "a"}\n{"id": "b"}\n{"id": "c"}\n')
    schema = result_schema([path])
    whole = _table(path, schema)
    assert whole.column("id").to_pylist() == ["a", "b", "c"]
    size = path.stat().st_size
    for first in range(1, 8):  # a first range inside the BOM, at its end, just after it
        parts = [_table(path, schema, byte_range=r) for r in [(0, first), (first, size)]]
        assert pa.concat_tables(parts).equals(whole), first


def test_a_sampled_schema_says_when_a_field_was_missed(tmp_path: Path) -> None:
    path = tmp_path / "1_0.txt"
    path.write_text('{"id": "a"}\n' * 2000 + '{"id": "b", "brand": "x"}\n')
    schema = result_schema([path], sample_bytes=1000)
    assert "brand" not in schema.names
    with pytest.raises(Exception, match="'brand' is not in the schema"):
        _table(path, schema)
    assert "brand" in result_schema([path]).names


def test_the_memory_pool_is_chosen_without_changing_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reading never changes the process's default pool; a pool the user chose is kept, and a
    # pyarrow without jemalloc reads with its default pool.
    path = tmp_path / "9_0.csv"
    path.write_text("id,latitude\na,1.5\n")
    default = pa.default_memory_pool().backend_name
    assert read_results(path)["latitude"].tolist() == [1.5]
    assert pa.default_memory_pool().backend_name == default
    if default == "mimalloc":
        assert memory_pool().backend_name in ("jemalloc", "mimalloc")
    else:
        assert memory_pool().backend_name == default
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", default)
    assert memory_pool().backend_name == default
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL")

    def no_jemalloc() -> pa.MemoryPool:
        raise pa.ArrowNotImplementedError("this build of Arrow has no jemalloc")

    monkeypatch.setattr(pa, "jemalloc_memory_pool", no_jemalloc)
    assert memory_pool().backend_name == default
    assert read_results(path)["latitude"].tolist() == [1.5]


def test_blocks_converted_on_threads_keep_the_file_order(tmp_path: Path) -> None:
    # Many small blocks, converted on several threads: the same batches as on one, in order;
    # a bad value is raised where its rows would be, after every batch before it.
    csv_path = tmp_path / "8_0.csv"
    csv_path.write_text(
        "id,latitude,categories\n" + "".join(f'r{i},{i / 7},"A,B{i}"\n' for i in range(3000))
    )
    json_path = tmp_path / "8_1.txt"
    json_path.write_text(
        "".join(json.dumps({"id": f"r{i}", "latitude": i}) + "\n" for i in range(3000))
    )
    for path in (csv_path, json_path):
        schema = result_schema([path])
        # (CSV batches join twelve blocks: see _CSV_BLOCKS_PER_BATCH.)
        one = list(read_result_batches(path, schema, block_size=500, threads=1))
        four = list(read_result_batches(path, schema, block_size=500, threads=4))
        kept = list(read_result_batches(path, schema, block_size=500, release_memory=False))
        assert len(one) > 10 and [b.num_rows for b in one] == [b.num_rows for b in four]
        assert pa.Table.from_batches(four).equals(pa.Table.from_batches(one))
        assert pa.Table.from_batches(kept).equals(pa.Table.from_batches(one))
        assert pa.Table.from_batches(four).column("id").to_pylist() == [
            f"r{i}" for i in range(3000)
        ]
    lines = csv_path.read_text().splitlines()
    lines[2500] = "bad,north,A"
    csv_path.write_text("\n".join(lines) + "\n")
    rows: list[int] = []

    def read_all() -> None:
        for batch in read_result_batches(csv_path, result_schema([csv_path]), block_size=2000):
            rows.append(batch.num_rows)

    with pytest.raises(ResultFileError, match=r"^8_0\.csv: line 2501: latitude: 'north'"):
        read_all()
    assert 2000 < sum(rows) < 2500


# --- the real files ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CSVS))
def test_real_csv_values_are_kept_against_a_plain_string_read(name: str) -> None:
    path = _real(name)
    encoding = CSVS[name]
    with open(path, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as f:
        header = next(csv.reader(f))
    raw = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(encoding=encoding),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            strings_can_be_null=True,
            null_values=[""],
        ),
    )
    schema = result_schema([path], encoding=encoding)
    typed = iter(_table(path, schema, encoding=encoding).to_pylist())
    spread: dict[str, list[str]] = {}  # nested list -> its CSV columns, one element per row
    for col in raw.schema.names:
        parent, _, child = col.partition(".")
        if child and parent in schema.names and col not in schema.names:
            spread.setdefault(parent, []).append(col)
    own = [c for c in raw.schema.names if not any(c in cols for cols in spread.values())]
    texts = {c: raw.column(c).to_pylist() for c in raw.schema.names}
    # Each CSV row is a row of one record: the record's own cells (repeated on its rows) and
    # the next element of each nested list whose cells the row fills.
    record: dict[str, object] = {}
    used: dict[str, int] = {}
    before = None
    for i in range(raw.num_rows):
        mine = [texts[c][i] for c in own]
        if mine != before:
            assert all(n == len(record[p] or []) for p, n in used.items()), "elements left"
            record, used, before = next(typed), dict.fromkeys(spread, 0), mine
            for c in own:
                _same(c, texts[c][i], record[c])
        for parent, cols in spread.items():
            if all(texts[c][i] is None for c in cols):
                continue
            element = record[parent][used[parent]]  # type: ignore[index]
            used[parent] += 1
            for c in cols:
                _same(c, texts[c][i], element[c.partition(".")[2]])
    assert all(n == len(record[p] or []) for p, n in used.items()), "elements left"
    assert next(typed, None) is None, "a record no CSV row holds"


@pytest.mark.parametrize(
    "name", ["electronics_products_299678_1.txt", "property_search_response_rawdata.json"]
)
def test_real_json_values_are_kept_against_a_plain_json_read(name: str) -> None:
    path = _real(name)
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{") and '"records"' in text[:200]:
        written = json.loads(text)["records"]  # a search answer
    else:
        written = [json.loads(line) for line in text.splitlines() if line.strip()]
    typed = _table(path, result_schema([path])).to_pylist()
    assert len(typed) == len(written)
    checked = 0
    for record, row in zip(written, typed, strict=True):
        for key, value in row.items():
            if key in ("download_id", "source_file"):
                continue
            _same_json(key, record.get(key), value)  # a field it lacks: null
            checked += key in record
        assert set(record) <= set(row), set(record) - set(row)
    assert checked == sum(len(r) for r in written)


def _same(col: str, text: str | None, value: object) -> None:
    if text is None:
        assert value in (None, []), col
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        _same_json(col, json.loads(text), value)  # a JSON cell: parsed, typed by the catalog
    elif isinstance(value, list) and value and not isinstance(value[0], str):
        assert all(_equal(t, v) for t, v in zip(text.split(","), value, strict=True)), col
    elif isinstance(value, list):
        assert ",".join(value) == text, col
    else:
        assert _equal(text, value), (col, text, value)


def _same_json(col: str, written: object, value: object) -> None:
    """``value`` (typed) holds exactly what JSON ``written`` does (absent fields: null)."""
    if isinstance(written, dict):
        assert isinstance(value, dict), col
        for key, got in value.items():
            _same_json(f"{col}.{key}", written.get(key), got)
        assert set(written) <= set(value), (col, set(written) - set(value))
    elif isinstance(written, list):
        assert isinstance(value, list) and len(value) == len(written), (col, written, value)
        for w, v in zip(written, value, strict=True):
            _same_json(col, w, v)
    elif written is None:
        assert value in (None, []), (col, value)
    elif isinstance(value, list):  # one value where the catalog has several
        assert len(value) == 1, (col, written, value)
        _same_json(col, written, value[0])
    else:
        _same(col, written if isinstance(written, str) else json.dumps(written), value)


def _equal(text: str, value: object) -> bool:
    if isinstance(value, bool):
        return text.strip().lower() == str(value).lower()
    if isinstance(value, float):
        return float(text) == value
    if isinstance(value, int):
        return int(text) == value
    if hasattr(value, "isoformat"):
        return pd.Timestamp(text) == pd.Timestamp(value)  # type: ignore[arg-type]
    return text == value


def test_real_csv_types_field_by_field() -> None:
    df = read_results(_real("pizza_menus_8358_1.csv"))
    assert df["postalCode"].dtype == "string" and "2601" in set(df["postalCode"].dropna())
    assert df["latitude"].dtype == "Float64" and df["priceRangeMin"].dtype == "Float64"
    element = df["menus"].dtype.pyarrow_dtype.value_type
    assert element.field("amountMax").type == pa.float64()
    assert element.field("dateSeen").type == pa.list_(TIMESTAMP)
    several = [m[0]["dateSeen"] for m in df["menus"] if m and m[0]["dateSeen"]]
    assert max(len(s) for s in several) > 1  # comma-joined timestamps became a list
    shoes = read_results(_real("womens_shoes_Jun19_trimmed15cols.csv"))
    assert shoes["prices"][0][0]["amountMax"] == 29.95
    assert shoes["ean / upc"].dtype == "string" and shoes["ean / upc"][0] == "656000000000.00"
    amazon = read_results(_real("amazon_reviews_May19_first999_bom.csv"))
    assert amazon.columns[0] == "id"  # BOM stripped
    assert "Health, Household & Baby Care" in amazon["categories"][0]
    assert amazon["dateAdded"].dtype == "datetime64[us, UTC]" or "UTC" in str(
        amazon["dateAdded"].dtype
    )
    reviews = read_results(_real("amazon_reviews_7817_1_first100.csv"))
    prices = reviews["prices"][0]
    assert prices[0]["amountMax"] == 139.99 and prices[0]["isSale"] is False
    assert len(prices[0]["dateSeen"]) == 2


def test_real_json_lines_and_search_answer() -> None:
    df = read_results(_real("electronics_products_299678_1.txt"))
    assert len(df) == 10
    assert df["asins"].dtype.pyarrow_dtype == pa.list_(pa.string())
    assert df["mostRecentPriceAmount"].dtype == "Float64"
    element = df["prices"].dtype.pyarrow_dtype.value_type
    assert element.field("isSale").type == pa.bool_()
    assert element.field("dateSeen").type == pa.list_(TIMESTAMP)
    assert df["descriptions"].dtype.pyarrow_dtype.value_type.field("dateSeen").type == pa.list_(
        TIMESTAMP
    )
    prop = read_results(_real("property_search_response_rawdata.json"))
    assert len(prop) == 50
    assert prop["latitude"].dtype == "Float64"  # "53.5" strings in the JSON
    assert prop["postalCode"].dtype == "string"
    assert prop["numBedroom"].dtype == "Float64"
    assert prop["fees"].notna().sum() == 17


def test_the_real_hotel_file_reads_with_the_encoding_suggested() -> None:
    # Not UTF-8, and not cp1252 either: line 788 holds 0x81, which cp1252 leaves undefined.
    path = _real("hotel_reviews_7282_1_subset_nonutf8.csv")
    with pytest.raises(ResultFileError, match=r"line 4: not valid UTF-8.*'latin-1'"):
        read_results(path)
    with pytest.raises(ResultFileError, match=r"^hotel\S+\.csv: line 788: not valid cp1252"):
        read_results(path, encoding="cp1252")
    hotels = read_results(path, encoding="latin-1")  # its 1,628 review rows: 46 hotels
    assert len(hotels) == 46 and hotels["reviews"].map(len).sum() == 1628


def test_subsets_of_a_real_file_give_the_same_parquet_schema(tmp_path: Path) -> None:
    path = _real("fast_food_restaurants_FastFoodRestaurants.csv")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    province = header.index("province")
    for state in ("NY", "AZ"):
        subset = tmp_path / f"{state}_0.csv"
        with open(subset, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([header, *[r for r in body if r[province] == state]])
    schemas = [
        pq.read_schema(results_to_parquet(p, tmp_path / f"{p.stem}.parquet")).remove_metadata()
        for p in (path, tmp_path / "NY_0.csv", tmp_path / "AZ_0.csv")
    ]
    assert schemas[0] == schemas[1] == schemas[2]
    assert schemas[0].field("postalCode").type == pa.string()
    records = [json.loads(line) for line in _real("electronics_products_299678_1.txt").open()]
    (tmp_path / "some_0.txt").write_text("\n".join(json.dumps(r) for r in records[:3]))
    (tmp_path / "all_0.txt").write_text("\n".join(json.dumps(r) for r in records))
    a = pq.read_schema(results_to_parquet(tmp_path / "some_0.txt", tmp_path / "s.parquet"))
    b = pq.read_schema(results_to_parquet(tmp_path / "all_0.txt", tmp_path / "a.parquet"))
    for f in a:
        assert b.field(f.name).type == f.type, f.name
    assert set(a.names) < set(b.names)  # JSON lines name only the fields their records hold
    # With the data type, every catalogued field is a column: each record alone, the first
    # three and the whole file write exactly the same schema, and a dataset over them all
    # reads every field back.
    outs = []
    for i, record in enumerate(records):
        (tmp_path / f"one{i}_0.txt").write_text(json.dumps(record))
    for i, source in enumerate(
        [tmp_path / "all_0.txt", tmp_path / "some_0.txt"]
        + [tmp_path / f"one{i}_0.txt" for i in range(len(records))]
    ):
        outs.append(results_to_parquet(source, tmp_path / f"t{i}.parquet", data_type="product"))
    typed = [pq.read_schema(o).remove_metadata() for o in outs]
    assert all(s == typed[0] for s in typed)
    assert set(b.names) <= set(typed[0].names)
    dataset = pads.dataset([str(o) for o in outs[1:]]).to_table()
    assert dataset.num_rows == 13 and dataset.column("reviews").null_count < 13


REAL_TYPES = {
    "hotel_reviews_7282_1_subset_nonutf8.csv": "business",
    "fast_food_restaurants_FastFoodRestaurants.csv": "business",
    "pizza_menus_8358_1.csv": "business",
    "amazon_reviews_May19_first999_bom.csv": "product",
    "amazon_reviews_7817_1_first100.csv": "product",
    "womens_shoes_Jun19_trimmed15cols.csv": "product",
    "electronics_products_299678_1.txt": "product",
    "property_search_response_rawdata.json": "property",
}


@pytest.mark.parametrize("name", sorted(REAL_TYPES))
def test_every_field_of_the_real_files_is_catalogued_for_its_data_type(name: str) -> None:
    data_type, path = REAL_TYPES[name], _real(name)
    if name in CSVS:
        encoding = CSVS[name].replace("utf-8", "utf-8-sig")
        with open(path, newline="", encoding=encoding) as f:
            paths = set(next(csv.reader(f)))
    else:
        text = path.read_text()
        answer = json.loads(text) if text.startswith("{\n") else None
        records = answer["records"] if answer else [json.loads(x) for x in text.splitlines()]
        paths = {k for r in records for k in r}
        for r in records:  # the fields of nested records, dotted
            for k, v in r.items():
                if isinstance(v, list) and v and isinstance(v[0], dict):
                    paths |= {f"{k}.{child}" for item in v for child in item}
    unknown = sorted(p for p in paths if p not in FIELDS or data_type not in FIELDS[p].types)
    assert unknown == (["ean / upc"] if name.startswith("womens_shoes") else []), unknown


def test_real_property_answer_to_parquet_reads_back(tmp_path: Path) -> None:
    out = results_to_parquet(_real("property_search_response_rawdata.json"), tmp_path / "p.parquet")
    assert pq.read_table(out).num_rows == 50
    _ = io


#: A record whose typed fields, top-level and nested, all hold an empty or blank string.
BLANKS = {
    "latitude": "",
    "dateAdded": " ",
    "reviews": [{"rating": "", "numHelpful": "  ", "doRecommend": "", "date": "", "dateSeen": " "}],
    "menus": [{"dateSeen": ["", "2017-01-01T00:00:00Z"], "amountMax": "\t"}],
}


@pytest.mark.parametrize("path", ["fast", "slow"])
def test_an_empty_json_string_in_a_typed_field_is_null(tmp_path: Path, path: str) -> None:
    # As an empty CSV cell. The slow path (record by record) is taken for a block where a
    # field is a string in one record and a list in the next.
    other = {"id": "b", "sourceURLs": ["y"] if path == "slow" else "y"}
    lines = [{"id": "a", "sourceURLs": "x", **BLANKS}, other]
    (tmp_path / "e_0.txt").write_text("\n".join(json.dumps(r) for r in lines))
    df = read_results(tmp_path / "e_0.txt")
    assert pd.isna(df["latitude"][0]) and pd.isna(df["dateAdded"][0])
    review = df["reviews"][0][0]
    assert [review[k] for k in ("rating", "numHelpful", "doRecommend", "date")] == [None] * 4
    menu = df["menus"][0][0]
    assert menu["amountMax"] is None
    assert menu["dateSeen"] == [None, pd.Timestamp("2017-01-01", tz="UTC")]
    assert df["sourceURLs"].tolist() == [["x"], ["y"]]
    assert review["dateSeen"] is None  # a blank where several dates go: none, not [None]
    # A value that is not blank is still an error, on either path.
    lines[0]["latitude"] = "north"
    (tmp_path / "e_0.txt").write_text("\n".join(json.dumps(r) for r in lines))
    with pytest.raises(ResultFileError, match=r"^e_0\.txt: line 1: latitude: 'north' is not"):
        read_results(tmp_path / "e_0.txt")


def test_a_blank_csv_value_in_a_typed_field_is_null(tmp_path: Path) -> None:
    # Values are read trimmed (" 5" is 5): a blank one is empty, no value.
    (tmp_path / "b_0.csv").write_text(
        "id,latitude,dateAdded,reviews.doRecommend,reviews.numHelpful,reviews.dateSeen,name\n"
        "a, , ,  , , , \n"
        "b,5,2017-01-01T00:00:00Z,true,3,2017-01-02T00:00:00Z,x\n"
    )
    df = read_results(tmp_path / "b_0.csv")
    assert df[["latitude", "dateAdded"]].isna().values.tolist() == [[True, True], [False, False]]
    fields = ("doRecommend", "numHelpful", "dateSeen")
    assert [df["reviews"][0][0][k] for k in fields] == [None, None, None]  # not [None]
    assert df["name"].tolist() == [" ", "x"]  # text keeps its value
    # Python's float() reads "1_000"; Arrow's cast, which reads CSV, does not: neither does JSON.
    (tmp_path / "b_0.csv").unlink()
    (tmp_path / "u_0.txt").write_text('{"latitude": "1_000"}\n')
    with pytest.raises(ResultFileError, match=r"latitude: '1_000' is not a number"):
        read_results(tmp_path / "u_0.txt")


def test_a_bad_value_names_its_own_line_and_counts_the_others(tmp_path: Path) -> None:
    (tmp_path / "l_1.txt").write_text(
        '{"latitude": 1}\n{"latitude": "north"}\n{"latitude": 2}\n\n'
        '{"latitude": "south", "longitude": "x"}\n'
    )
    with pytest.raises(ResultFileError, match=r"^l_1\.txt: line 2: latitude: 'north' is not "
                       r"a number \(and 2 more bad values\)") as info:  # fmt: skip
        read_results(tmp_path / "l_1.txt")
    assert info.value.line == 2
    # CSV: the line an editor shows, past a value spanning two lines.
    (tmp_path / "c_1.csv").write_text('name,latitude\n"two\nlines",1\nb,north\nc,3\nd,south\n')
    with pytest.raises(ResultFileError, match=r"^c_1\.csv: line 4: latitude: 'north' is not "
                       r"a number \(and 1 more bad value\)") as info:  # fmt: skip
        read_results(tmp_path / "c_1.csv")
    assert info.value.line == 4


# An unclosed quote: Arrow keeps everything after it as the last value, without a word.
UNCLOSED = [
    (b'id,text\n1,a\n2,"b\n3,c\n4,d\n', 3),  # swallows the records after it
    (b'id,text\n1,a\n2,"hel', 3),  # a body cut inside a quoted value
    (b'\xef\xbb\xbfid,text\r\n1,a\r\n2,"x""y\r\n', 3),  # BOM, CRLF, a doubled quote before
    (b'id,text\n1,5" screen\n2,"', 3),  # an empty value opened, after an unquoted quote
    (b'id,text\n1,""""\n2,"""', 3),  # a quote, then an unclosed one holding a quote
]


@pytest.mark.parametrize(("body", "line"), UNCLOSED)
def test_a_csv_ending_inside_quotes_names_the_line_where_they_open(
    tmp_path: Path, body: bytes, line: int
) -> None:
    path = tmp_path / "5_0.csv"
    path.write_bytes(body)
    expected = (
        rf"^5_0\.csv: line {line}: a quoted value opens here and is never closed; .*cut short"
    )
    with pytest.raises(ResultFileError, match=expected) as info:
        read_results(path)
    assert info.value.line == line
    with pytest.raises(ResultFileError, match=expected):
        results_to_parquet(path, tmp_path / "out.parquet")
    schema = result_schema([path])
    with pytest.raises(ResultFileError, match=expected):
        _table(path, schema, byte_range=(0, len(body)))
    with pytest.raises(ResultFileError, match="never closed; the file looks cut short"):
        list(read_result_batches(io.BytesIO(body), schema, name="5_0.csv"))  # an open file
    with pytest.raises(ResultFileError, match="never closed; the file looks cut short"):
        read_results(path, engine="dask").compute()


def test_a_quote_opening_a_lone_line_break_after_a_closed_value_is_still_cut(
    tmp_path: Path,
) -> None:
    # Ends like a closed line-break value ('"\n"\n'), but the first quote closes "x".
    path = tmp_path / "5_0.csv"
    path.write_bytes(b'id,text\n1,"x"\n"\n')
    with pytest.raises(ResultFileError, match=r"^5_0\.csv: line 3: a quoted value opens here"):
        read_results(path)


def test_a_range_ending_inside_quotes_is_refused_from_any_source(tmp_path: Path) -> None:
    body = b'id,text\n1,a\n2,"b\n3,c\n'
    path = tmp_path / "5_0.csv"
    path.write_bytes(body)
    schema = result_schema([path])
    with pytest.raises(ResultFileError, match=r"^5_0\.csv: line 3: a quoted value opens"):
        _table(path, schema, byte_range=(12, len(body)))
    with pytest.raises(ResultFileError, match="never closed"):
        list(read_result_batches(io.BytesIO(body), schema, name="5_0.csv", byte_range=(12, 20)))


@pytest.mark.parametrize(
    ("body", "last"),
    [
        (b'id,text\n1,5" screen\n2,x', "x"),  # a quote inside an unquoted value is text
        (b'id,text\n1,x\n2,5" screen', '5" screen'),
        (b'id,text\n1,x\n2,""""', '"'),  # closed: a value of one quote
        (b'id,text\n1,x\n2,""', None),
        (b'id,text\n1,x\n2,"ab"cd"ef', 'abcd"ef'),  # Arrow: text after a closing quote
        (b'id,text\n1,x\n2,"a\nb"\n', "a\nb"),
        # A value that is just the line break that ends the file: closed, not cut.
        (b'id,text\n1,x\n2,"\n"\n', "\n"),
        (b'id,text\r\n1,x\r\n2,"\r\n"\r\n', "\r\n"),
    ],
)
def test_closed_or_unquoted_last_values_are_read_as_before(
    tmp_path: Path, body: bytes, last: str | None
) -> None:
    path = tmp_path / "5_0.csv"
    path.write_bytes(body)
    values = read_results(path)["text"].tolist()
    assert len(values) == 2
    assert (values[-1] if isinstance(values[-1], str) else None) == last
    schema = result_schema([path])
    rows = list(read_result_batches(io.BytesIO(body), schema, name="5_0.csv"))
    assert sum(b.num_rows for b in rows) == 2


def test_a_cell_holding_the_unit_separator_is_split_exactly(tmp_path: Path) -> None:
    # An earlier split marked commas with \x1f: a cell holding one is split like any other.
    (tmp_path / "8_0.csv").write_text(
        "id,categories,sourceURLs\n"
        'A,"Food\x1fDrink, Bars,Pubs","https://a.com/x\x1fy,https://b.com/?q=1,2"\n'
        'B,"x, y,z",https://c.com\n'
    )
    df = read_results(tmp_path)
    assert df["categories"].tolist() == [["Food\x1fDrink, Bars", "Pubs"], ["x, y", "z"]]
    assert df["sourceURLs"].tolist() == [
        ["https://a.com/x\x1fy", "https://b.com/?q=1,2"],
        ["https://c.com"],
    ]


#: The rules of the README ("Result records schema"), as regular expressions: URL lists split
#: where the next URL starts, other lists at a comma not followed by a space.
SPLIT_RULES = {"sourceURLs": re.compile(r",(?=https?://|//)"), "categories": re.compile(r",(?! )")}
#: Cells made of the pieces that matter to the rules (commas, spaces, URL starts), multibyte
#: UTF-8, quotes and line breaks (quoted in the CSV), and the old mark \x1f.
CELL = st.lists(
    st.sampled_from([",", ", ", " ", "a", "http://", "https://", "//", "http", "/", ":", "é",
                     "日本", "\x1f", '"', "\n", "\r", "s"]),
    max_size=8,
).map("".join)  # fmt: skip


@settings(max_examples=150, deadline=None)
# Alone in its file, this cell was once split at ",http" (every item started with "http").
@example(rows=[("a", "http://a.com,httpbin.org")], block=None)
# Blocks of 160 bytes: many boundaries, yet no record longer than a block (Arrow refuses one
# that straddles two boundaries).
@given(rows=st.lists(st.tuples(CELL, CELL), max_size=12), block=st.sampled_from([None, 160]))
def test_comma_lists_split_exactly_by_the_rules(
    rows: list[tuple[str, str]], block: int | None
) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["id", *SPLIT_RULES, "name"])
    writer.writerows([str(i), *cells, "x"] for i, cells in enumerate(rows))
    body = buffer.getvalue().encode()
    schema = result_schema([io.BytesIO(body)], names=["1_0.csv"])
    table = pa.Table.from_batches(
        list(read_result_batches(io.BytesIO(body), schema, name="1_0.csv", block_size=block)),
        schema,
    )
    for k, (field, rule) in enumerate(SPLIT_RULES.items()):
        # An empty cell is null (no value), as every empty CSV cell.
        expected = [rule.split(cells[k]) if cells[k] else None for cells in rows]
        assert table.column(field).to_pylist() == expected


#: The README's rule for ``keys``, as Python: split as a list, but within an address key
#: (``country/province/city/address...``, whose address keeps its commas) a comma splits only
#: where another address key starts.
ADDRESS_KEY = re.compile(r"[a-z]{2}/[^/,]*/[^/,]*/")


def _split_keys(cell: str) -> list[str]:
    keys: list[str] = []
    seen = False
    for piece in re.split(r",(?! )", cell):
        starts = ADDRESS_KEY.match(piece) is not None
        if keys and seen and not starts:
            keys[-1] += "," + piece
        else:
            keys.append(piece)
        seen |= starts
    return keys


def test_a_key_holding_a_comma_stays_whole(tmp_path: Path) -> None:
    # Real keys of the fast-food file: the address's comma is kept ("0 Randolph AFB,",
    # "3581 N Gloster St, Ste C"); a list of keys still splits, address keys or product ones.
    (tmp_path / "k_0.csv").write_text(
        "id,keys\n"
        'a,"us/tx/randolphafb/0randolphafb,/-2061630068"\n'
        'b,"us/ms/tupelo/3581nglosterst,stec/-1055723171,us/ms/tupelo/3581nglosterst/-1"\n'
        'c,"us/in/anderson/cccampanarvalencia3,manueldefalla,13/-2061630068"\n'
        'd,"amazonbasics/hl002619,0841710106442,walmart.com-142934664"\n'
        'e,"0841710106442,us/ny/nyc/1broadway,ste2/-5,us/ny/nyc/1broadway/-5"\n'
    )
    assert read_results(tmp_path / "k_0.csv")["keys"].tolist() == [
        ["us/tx/randolphafb/0randolphafb,/-2061630068"],
        ["us/ms/tupelo/3581nglosterst,stec/-1055723171", "us/ms/tupelo/3581nglosterst/-1"],
        ["us/in/anderson/cccampanarvalencia3,manueldefalla,13/-2061630068"],
        ["amazonbasics/hl002619", "0841710106442", "walmart.com-142934664"],
        ["0841710106442", "us/ny/nyc/1broadway,ste2/-5", "us/ny/nyc/1broadway/-5"],
    ]


KEY_CELL = st.lists(
    st.sampled_from([",", ", ", "us/", "a/", "/", "b", "-1", "ab", "é", "\n"]), max_size=10
).map("".join)


@settings(max_examples=150, deadline=None)
@given(cells=st.lists(KEY_CELL, max_size=12), block=st.sampled_from([None, 96]))
def test_keys_split_exactly_by_the_rule(cells: list[str], block: int | None) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([["id", "keys"], *([str(i), c] for i, c in enumerate(cells))])
    body = buffer.getvalue().encode()
    schema = result_schema([io.BytesIO(body)], names=["1_0.csv"])
    batches = read_result_batches(io.BytesIO(body), schema, name="1_0.csv", block_size=block)
    keys = pa.Table.from_batches(list(batches), schema).column("keys").to_pylist()
    assert keys == [_split_keys(c) if c else None for c in cells]


@pytest.mark.parametrize(
    "name",
    [
        "fast_food_restaurants_FastFoodRestaurants.csv",
        "pizza_menus_8358_1.csv",
        "amazon_reviews_7817_1_first100.csv",
        "amazon_reviews_May19_first999_bom.csv",
    ],
)
def test_real_keys_split_into_whole_keys(name: str) -> None:
    # Business files hold address keys only: every value starts one (none is the tail of
    # an address cut at its comma). Product keys ("brand/number", UPCs) hold no comma.
    path = _real(name)
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    # A record's rows (one per review or menu item, in a run of its id) repeat its keys.
    firsts = [r for i, r in enumerate(rows) if i == 0 or r.get("id") != rows[i - 1].get("id")]
    cells = [row["keys"] for row in (firsts if "id" in rows[0] else rows)]
    keys = read_results(path)["keys"].tolist()
    assert [list(k) for k in keys] == [_split_keys(c) for c in cells]
    values = [v for k in keys for v in k]
    if name.startswith(("fast_food", "pizza")):
        assert all(ADDRESS_KEY.match(v) for v in values)
    else:
        assert all(re.fullmatch(r"[^/,]+/[^/,]+|[0-9]+", v) for v in values)
    if name.startswith("fast_food"):
        assert ["us/tx/randolphafb/0randolphafb,/-2061630068"] in [list(k) for k in keys]
        assert sum("," in v for v in values) == 7  # the seven addresses with a comma


def test_a_quoted_crlf_cut_by_a_block_boundary_keeps_its_lf(tmp_path: Path) -> None:
    # Arrow drops the LF after a CR that ends one of its buffers, inside quotes too
    # (apache/arrow#51368): the CRLF in "p\r\nq" is moved across every block boundary.
    path = tmp_path / "1_0.csv"
    for pad in range(70):
        body = ("id,name\r\n1," + "x" * pad + '\r\n2,"p\r\nq"\r\n' + "3,z\r\n" * 8).encode()
        path.write_bytes(body)
        schema = result_schema([io.BytesIO(body)], names=["1_0.csv"])
        for source in (path, io.BytesIO(body)):
            batches = read_result_batches(source, schema, name="1_0.csv", block_size=64)
            names = pa.Table.from_batches(list(batches), schema).column("name").to_pylist()
            assert names == ["x" * pad or None, "p\r\nq", *["z"] * 8], pad


def test_utf8_is_checked_across_block_boundaries(tmp_path: Path) -> None:
    # dfkit checks UTF-8 itself, piece by piece as Arrow reads (Arrow's check is off): a
    # character cut between two pieces is whole, a bad byte past the first blocks is named
    # at its line, and a file ending inside a character is not UTF-8.
    path = tmp_path / "7_0.csv"
    names = ["Café ü", "日本語", "plain"] * 40
    body = ("name\n" + "".join(n + "\n" for n in names)).encode()
    for pad in range(1, 5):  # moves each character across the 64-byte pieces
        good = body.replace(b"name\n", b"name\n" + b"x" * pad + b"\n", 1)
        path.write_bytes(good)
        for source in (path, io.BytesIO(good)):
            got = read_result_batches(source, result_schema([path]), name="7_0.csv", block_size=64)
            table = pa.Table.from_batches(list(got))
            assert table.column("name").to_pylist() == ["x" * pad, *names], pad
    # (An open file cannot be read again to find the line: its error names none.)
    for tail in (b"Caf\xe9\nok\n", b"end\xe6\x97"):
        path.write_bytes(body + tail)
        for source, line in ((path, len(names) + 2), (io.BytesIO(body + tail), None)):
            schema = result_schema([path])
            with pytest.raises(ResultFileError, match=r"^7_0\.csv: .*not valid UTF-8") as e:
                list(read_result_batches(source, schema, name="7_0.csv", block_size=64))
            assert e.value.line == line


@pytest.mark.parametrize(
    ("body", "block", "records"),
    [
        (b"id,name\r", None, 0),  # a header alone, ending in a lone CR
        (b"id," + b"n" * 60 + b"\r\na,b\r\n", 64, 1),  # a header's CR ends the first block
    ],
)
def test_a_header_ending_a_block_with_cr_is_read(
    tmp_path: Path, body: bytes, block: int | None, records: int
) -> None:
    # The CR that ends the first line is never held back: Arrow needs it in its first buffer.
    path = tmp_path / "1_0.csv"
    path.write_bytes(body)
    rows = list(read_result_batches(path, result_schema([path]), block_size=block))
    assert sum(b.num_rows for b in rows) == records


def test_a_bad_date_in_a_list_names_its_line(tmp_path: Path) -> None:
    # The bad value is found row by row (on slices of the batch): its own line is named.
    (tmp_path / "d_1.csv").write_text(
        "id,menus.dateSeen\n"
        'a,"2017-01-01T00:00:00Z,2018-01-01T00:00:00Z"\n'
        "b,2019-01-01T00:00:00Z\n"
        'c,"2019-01-01T00:00:00Z,soon"\n'
    )
    with pytest.raises(ResultFileError, match=r"^d_1\.csv: line 4: menus\.dateSeen: 'soon'"):
        read_results(tmp_path / "d_1.csv")


def test_a_bad_value_is_named_not_a_padded_good_one(tmp_path: Path) -> None:
    # " 5" converts (blanks are trimmed), so the value named is "five".
    path = tmp_path / "2_0.csv"
    path.write_text("id,latitude\na, 5\nb,five\n")
    with pytest.raises(ResultFileError, match=r"^2_0\.csv: line 3: latitude: 'five' is not"):
        read_results(path)
    path.write_text("id,latitude\na, 5\nb,6 \n")
    assert read_results(path)["latitude"].tolist() == [5.0, 6.0]


def test_a_record_longer_than_the_blocks_is_read_in_larger_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrow reads no record that spans two block boundaries: a file with one is read again from
    # its start in blocks larger than its longest record, the rows already yielded skipped
    # (records over several rows included) and its bytes counted once.
    path = tmp_path / "3_0.csv"
    rows = ["id,name,reviews.text"]
    for i in range(3000):
        text = "word " * 1500 if i == 2000 else f"review {i}"  # 7.5 KB in record 2000
        rows += [f"r{i},shop {i},first", f'r{i},shop {i},"{text}"', f"r{i},shop {i},last"]
    path.write_text("\n".join(rows) + "\n")
    schema = result_schema([path])
    whole = pa.Table.from_batches(list(read_result_batches(path, schema)), schema=schema)
    assert whole.num_rows == 3000
    monkeypatch.setitem(resultfiles.BLOCK_BYTES, "csv", 1000)
    for threads in (1, 3):
        counted: list[int] = []
        batches = list(read_result_batches(path, schema, threads=threads, on_bytes=counted.append))
        assert len(batches) > 10  # a dozen were yielded before the long record
        assert pa.Table.from_batches(batches, schema=schema).equals(whole)
        assert sum(counted) == path.stat().st_size
    frame = read_results(path)
    assert frame["id"].tolist() == [f"r{i}" for i in range(3000)]
    assert frame["reviews"].iloc[2000][1]["text"] == "word " * 1500
    results_to_parquet(path, tmp_path / "out.parquet")
    assert pq.read_table(tmp_path / "out.parquet").equals(whole)
    per = read_results(path, per="reviews")
    assert len(per) == 9000 and per["reviews.text"].iloc[6001] == "word " * 1500


def test_a_quote_inside_an_unquoted_value_is_text_when_a_record_is_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrow reads a quote that does not start a field as text; so does the rescan that looks
    # for an unclosed quote before the blocks grow (it took 5" for an opening quote).
    path = tmp_path / "5_0.csv"
    path.write_text('id,name\n1,5" screen\n2,ok\n3,' + "x" * 3000 + '\n4,"a ""b"", c"\n')
    monkeypatch.setitem(resultfiles.BLOCK_BYTES, "csv", 1000)
    frame = read_results(path)
    assert frame["name"].tolist() == ['5" screen', "ok", "x" * 3000, 'a "b", c']


def test_a_record_too_long_for_any_block_names_the_longest(tmp_path: Path) -> None:
    # Blocks grow to 16 MB at most (Arrow's parser takes many times its block): a longer
    # record is an error naming the longest one, its line and size, and the setting to raise.
    path = tmp_path / "4_0.csv"
    path.write_text(f'id,text\na,"{"x" * 1200}"\nb,short\nc,"{"y" * 17_000_000}"\nd,end\n')
    with pytest.raises(
        ResultFileError, match=r"^4_0\.csv: line 4: a record of 17,000,005 bytes"
    ) as e:
        read_results(path)
    assert e.value.line == 4 and "raise dfkit.resultfiles.BLOCK_BYTES['csv']" in str(e.value)
    assert type(e.value) is ResultFileError
    schema = result_schema([path])
    # A caller's own block size is kept: the error names it.
    with pytest.raises(ResultFileError, match=r"^4_0\.csv: line 4: .*raise block_size above"):
        list(read_result_batches(path, schema, block_size=900))
    # An open file is not read twice: the error says so, without a line.
    with pytest.raises(ResultFileError, match=r"^4_0\.csv: a record is longer than the 524,288"):
        list(read_result_batches(io.BytesIO(path.read_bytes()), schema, name="4_0.csv"))


def test_a_field_over_the_csv_modules_limit_is_read(tmp_path: Path) -> None:
    # 5 MB in one field (Python's csv module refuses fields over 128 KB; the scan does not).
    path = tmp_path / "4_0.csv"
    path.write_text(f'id,text\na,short\nb,"{"y" * 5_000_000}"\n')
    assert read_results(path)["text"].str.len().tolist() == [5, 5_000_000]
