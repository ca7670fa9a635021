"""to_parquet / read_parquet: exact round trips, warehouse types, partitioning, atomic writes."""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dfkit
from dfkit import DfkitWarning, ExportError, downloads_frame, read_parquet, to_parquet
from dfkit.parquet import COMMON_METADATA, METADATA_KEY, ROW_ORDER
from dfkit.schema import STATUSES, columns, empty_frame

PARTITIONS: list[Any] = [None, "status", "created_month", ["data_type", "format"], "num_records"]


@pytest.fixture(scope="module", params=["result", "download"])
def sample(request: pytest.FixtureRequest) -> pd.DataFrame:
    return downloads_frame(dfkit.sample_downloads(), per=request.param)


def listing(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones included) with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def dfkit_meta(schema: pa.Schema) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(schema.metadata[METADATA_KEY.encode()])
    return meta


# ---------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("partition_by", PARTITIONS)
def test_round_trip_is_exact(sample: pd.DataFrame, tmp_path: Path, partition_by: Any) -> None:
    out = to_parquet(sample, tmp_path / "out", partition_by=partition_by)
    assert out == tmp_path / "out"
    assert out.is_dir() == (partition_by is not None)
    pd.testing.assert_frame_equal(read_parquet(out), sample)


@pytest.mark.parametrize("per", ["result", "download"])
@pytest.mark.parametrize("partition_by", [None, "status", "created_month"])
def test_empty_frame_round_trip(tmp_path: Path, per: str, partition_by: Any) -> None:
    empty = empty_frame(per)  # type: ignore[arg-type]
    out = to_parquet(empty, tmp_path / "e", partition_by=partition_by)
    pd.testing.assert_frame_equal(read_parquet(out), empty)


def test_empty_frame_keeps_full_schema(tmp_path: Path) -> None:
    empty = downloads_frame([], per="result")
    out = to_parquet(empty, tmp_path / "e.parquet")
    schema = pq.read_schema(out)
    assert schema.names == [c.name for c in columns("result", optional=())]
    assert not any(pa.types.is_null(f.type) for f in schema)
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")


def test_partitioned_rows_come_back_in_original_order(tmp_path: Path) -> None:
    df = downloads_frame(dfkit.sample_downloads(), per="download")
    shuffled = df.sample(frac=1, random_state=7).reset_index(drop=True)
    out = to_parquet(shuffled, tmp_path / "ds", partition_by="status")
    pd.testing.assert_frame_equal(read_parquet(out), shuffled)


def test_unused_and_unknown_categories_restored(tmp_path: Path) -> None:
    with pytest.warns(DfkitWarning):
        df = downloads_frame(
            [
                {"id": 1, "status": "zombie", "num_records": 1, "created_at": "2025-01-01"},
                {"id": 2, "status": "completed", "num_records": 2, "created_at": "2025-01-02"},
            ]
        )
    df = df[df["status"] == "completed"].reset_index(drop=True)  # "zombie" now unused
    for partition_by in (None, "status"):
        back = read_parquet(to_parquet(df, tmp_path / str(partition_by), partition_by=partition_by))
        assert list(back["status"].cat.categories) == [*STATUSES, "zombie"]
        pd.testing.assert_frame_equal(back, df)


def test_extra_columns_round_trip(tmp_path: Path) -> None:
    df = downloads_frame(dfkit.sample_downloads()[:20], per="download")
    df["priority"] = pd.Categorical(["low", "high"] * 10, categories=["low", "high"], ordered=True)
    df["batch"] = pd.array(range(20), dtype="Int64")
    df["score"] = np.linspace(0.0, 1.0, 20)
    for partition_by in (None, "priority"):
        out = to_parquet(df, tmp_path / str(partition_by), partition_by=partition_by)
        pd.testing.assert_frame_equal(read_parquet(out), df)


def test_index_is_not_written(tmp_path: Path) -> None:
    df = downloads_frame(dfkit.sample_downloads()[:10], per="download")
    subset = df[df["status"] == "completed"]
    back = read_parquet(to_parquet(subset, tmp_path / "s.parquet"))
    assert isinstance(back.index, pd.RangeIndex)
    pd.testing.assert_frame_equal(back, subset.reset_index(drop=True))


RECORDS = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.one_of(st.integers(0, 50), st.text("abcxyz-_ é/", min_size=1, max_size=6)),
            "status": st.sampled_from(["queued", "running", "completed", "cancelled", "odd"]),
            "num_records": st.one_of(st.none(), st.integers(0, 2**63 - 1)),
            "created_at": st.one_of(
                st.none(),
                st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)).map(
                    lambda d: d.isoformat() + "Z"
                ),
            ),
            "results": st.lists(st.text(min_size=1, max_size=8).map("https://x/".__add__)),
        },
        optional={
            "data_type": st.sampled_from(["product", "people", "weird"]),
            "total_cost": st.floats(allow_nan=False, allow_infinity=False),
            "query": st.text(max_size=10),
        },
    ),
    max_size=12,
)


@settings(max_examples=30, deadline=None)
@given(
    RECORDS,
    st.sampled_from(["result", "download"]),
    st.sampled_from([None, "status", "created_month"]),
)
def test_round_trip_property(records: list[dict[str, Any]], per: str, partition_by: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DfkitWarning)
        df = downloads_frame(records, per=per)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        out = to_parquet(df, Path(tmp) / "x", partition_by=partition_by)
        pd.testing.assert_frame_equal(read_parquet(out), df)
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["x"]  # nothing left beside it


# ---------------------------------------------------------------------------- warehouse types


def test_arrow_types_and_metadata(sample: pd.DataFrame, tmp_path: Path) -> None:
    out = to_parquet(sample, tmp_path / "d.parquet")
    schema = pq.read_schema(out)
    assert schema.field("id").type == pa.string()
    assert schema.field("status").type == pa.string()  # a plain string, not a dictionary
    assert schema.field("num_records").type == pa.int64()
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("total_cost").type == pa.float64()
    meta = dfkit_meta(schema)
    assert meta["version"] == dfkit.__version__
    assert meta["per"] == ("download" if "num_results" in sample.columns else "result")
    assert datetime.fromisoformat(meta["written_at"]).utcoffset() is not None
    assert meta["categories"]["status"] == list(sample["status"].cat.categories)
    assert meta["categories"]["data_type"][:4] == ["business", "product", "property", "people"]


def test_parquet_physical_types(tmp_path: Path) -> None:
    df = downloads_frame(dfkit.sample_downloads(), per="download")
    out = to_parquet(df, tmp_path / "d.parquet")
    parquet_schema = pq.ParquetFile(out).schema
    created = parquet_schema.column(parquet_schema.names.index("created_at"))
    assert created.physical_type == "INT64"  # never INT96
    logical = json.loads(created.logical_type.to_json())
    assert logical["Type"] == "Timestamp"
    assert logical["timeUnit"] == "microseconds"
    assert logical["isAdjustedToUTC"] is True
    num_records = parquet_schema.column(parquet_schema.names.index("num_records"))
    assert num_records.physical_type == "INT64"
    status = parquet_schema.column(parquet_schema.names.index("status"))
    assert status.logical_type.type == "STRING"


def test_nullable_integers_written_with_nulls(tmp_path: Path) -> None:
    df = downloads_frame(
        [
            {"id": 1, "status": "queued", "num_records": None, "created_at": "2025-01-01"},
            {"id": 2, "status": "queued", "num_records": 2**62, "created_at": None},
        ]
    )
    table = pq.read_table(to_parquet(df, tmp_path / "n.parquet"))
    assert table.column("num_records").to_pylist() == [None, 2**62]
    assert table.column("created_at").null_count == 1


def test_compression_is_applied(tmp_path: Path) -> None:
    df = downloads_frame(dfkit.sample_downloads(), per="download")
    zstd = pq.ParquetFile(to_parquet(df, tmp_path / "z.parquet")).metadata
    assert zstd.row_group(0).column(0).compression == "ZSTD"
    plain = pq.ParquetFile(to_parquet(df, tmp_path / "p.parquet", compression=None)).metadata
    assert plain.row_group(0).column(0).compression == "UNCOMPRESSED"


DUCK_TYPES = {
    "id": "VARCHAR",
    "status": "VARCHAR",
    "num_records": "BIGINT",
    "created_at": "TIMESTAMP WITH TIME ZONE",
    "updated_at": "TIMESTAMP WITH TIME ZONE",
    "data_type": "VARCHAR",
    "total_cost": "DOUBLE",
}


def duck_types(relation: duckdb.DuckDBPyRelation) -> dict[str, str]:
    return dict(zip(relation.columns, map(str, relation.types), strict=True))


def test_duckdb_reads_a_file_with_warehouse_types(tmp_path: Path) -> None:
    df = downloads_frame(dfkit.sample_downloads(), per="download")
    out = to_parquet(df, tmp_path / "d.parquet")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    relation = con.sql(f"SELECT * FROM read_parquet('{out}')")
    types = duck_types(relation)
    for name, expected in DUCK_TYPES.items():
        assert types[name] == expected, name
    counts = dict(
        con.sql(f"SELECT status, count(*) FROM read_parquet('{out}') GROUP BY 1").fetchall()
    )
    assert counts == {k: v for k, v in dfkit.status_counts(df).items() if v}
    first = con.execute(f"SELECT min(created_at) FROM read_parquet('{out}')").fetchall()
    assert pd.Timestamp(first[0][0]) == df["created_at"].min()


def test_duckdb_reads_a_hive_dataset(tmp_path: Path) -> None:
    df = downloads_frame(dfkit.sample_downloads(), per="result")
    out = to_parquet(df, tmp_path / "ds", partition_by="created_month")
    con = duckdb.connect()
    relation = con.sql(
        f"SELECT * FROM read_parquet('{out}/**/*.parquet', hive_partitioning = true)"
    )
    types = duck_types(relation)
    for name, expected in DUCK_TYPES.items():
        assert types[name] == expected, name
    assert types["created_month"] == "VARCHAR"
    assert types[ROW_ORDER] == "BIGINT"
    months = con.sql(
        f"SELECT DISTINCT created_month FROM read_parquet('{out}/**/*.parquet', "
        f"hive_partitioning = true) ORDER BY 1"
    ).fetchall()
    expected = sorted(df["created_at"].dt.strftime("%Y-%m").unique())
    assert [m[0] for m in months] == expected
    total = con.sql(
        f"SELECT count(*) FROM read_parquet('{out}/**/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert total == [(len(df),)]


def test_dataset_layout(tmp_path: Path) -> None:
    df = downloads_frame(dfkit.sample_downloads(), per="download")
    out = to_parquet(df, tmp_path / "ds", partition_by="status")
    names = sorted(p.name for p in out.iterdir())
    assert names == [COMMON_METADATA, "status=cancelled", "status=completed",
                     "status=in_progress", "status=queued"]  # fmt: skip
    common = pq.read_schema(out / COMMON_METADATA)
    assert dfkit_meta(common)["partition_by"] == ["status"]
    part = next((out / "status=completed").glob("*.parquet"))
    assert "status" not in pq.read_schema(part).names  # hive: the value lives in the path
    # pyarrow's own reader sees the same rows
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == len(df)


# ---------------------------------------------------------------------------- atomicity


def failing_after(real: Callable[..., Any]) -> Callable[..., Any]:
    """A writer that does its job, then fails: the worst moment, with temp files on disk."""

    def write(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        raise OSError(28, "No space left on device")

    return write


def test_failed_file_write_leaves_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = downloads_frame(dfkit.sample_downloads()[:5], per="download")
    new = downloads_frame(dfkit.sample_downloads(), per="download")
    path = to_parquet(old, tmp_path / "d.parquet")
    before = listing(tmp_path)
    monkeypatch.setattr(pq, "write_table", failing_after(pq.write_table))
    with pytest.raises(ExportError, match=r"no space left on device writing .*d\.parquet"):
        to_parquet(new, path)
    assert listing(tmp_path) == before  # same bytes, no temporary file
    monkeypatch.undo()
    pd.testing.assert_frame_equal(read_parquet(path), old)


@pytest.mark.parametrize("target", ["write_dataset", "write_metadata"])
def test_failed_dataset_write_leaves_old_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    old = downloads_frame(dfkit.sample_downloads()[:5], per="download")
    new = downloads_frame(dfkit.sample_downloads(), per="download")
    path = to_parquet(old, tmp_path / "ds", partition_by="status")
    before = listing(tmp_path)
    module = ds if target == "write_dataset" else pq
    monkeypatch.setattr(module, target, failing_after(getattr(module, target)))
    with pytest.raises(ExportError):
        to_parquet(new, path, partition_by="status")
    assert listing(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    monkeypatch.undo()
    pd.testing.assert_frame_equal(read_parquet(path), old)


def test_replacing_a_dataset_swaps_it(tmp_path: Path) -> None:
    df = downloads_frame(dfkit.sample_downloads(), per="download")
    path = to_parquet(df, tmp_path / "ds", partition_by="status")
    smaller = df[df["status"] == "completed"].reset_index(drop=True)
    to_parquet(smaller, path, partition_by="data_type")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # old one removed
    assert not list(path.glob("status=*"))
    pd.testing.assert_frame_equal(read_parquet(path), smaller)
    # A dfkit file can be replaced by a dataset of the same name.
    file = to_parquet(df, tmp_path / "f.parquet")
    to_parquet(df, file, partition_by="status")
    pd.testing.assert_frame_equal(read_parquet(file), df)


def test_refuses_to_replace_a_foreign_directory(tmp_path: Path) -> None:
    df = downloads_frame(dfkit.sample_downloads()[:3], per="download")
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(ExportError, match="not a dfkit Parquet dataset"):
        to_parquet(df, precious, partition_by="status")
    with pytest.raises(ExportError, match="is a directory"):
        to_parquet(df, precious)
    assert (precious / "thesis.tex").read_text() == "years of work"
    empty = tmp_path / "empty"
    empty.mkdir()
    to_parquet(df, empty, partition_by="status")  # an empty directory is fine
    pd.testing.assert_frame_equal(read_parquet(empty), df)


# ---------------------------------------------------------------------------- errors


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no such file"):
        read_parquet(tmp_path / "missing.parquet")
    text = tmp_path / "notes.parquet"
    text.write_text("hello")
    with pytest.raises(ExportError, match="not a readable Parquet file"):
        read_parquet(text)
    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), foreign)
    with pytest.raises(ExportError, match="not a dfkit Parquet file"):
        read_parquet(foreign)
    plain_dir = tmp_path / "dir"
    plain_dir.mkdir()
    with pytest.raises(ExportError, match="not a dfkit Parquet dataset"):
        read_parquet(plain_dir)


def test_reading_one_file_of_a_dataset_points_to_the_directory(tmp_path: Path) -> None:
    df = downloads_frame(dfkit.sample_downloads(), per="download")
    out = to_parquet(df, tmp_path / "ds", partition_by="status")
    part = next(out.rglob("*.parquet"))
    with pytest.raises(ExportError, match="read the dataset directory"):
        read_parquet(part)


def test_write_errors(tmp_path: Path) -> None:
    df = downloads_frame(dfkit.sample_downloads()[:3], per="download")
    with pytest.raises(ValueError, match="not a column"):
        to_parquet(df, tmp_path / "x", partition_by="nope")
    with pytest.raises(TypeError):
        to_parquet([1, 2], tmp_path / "x")  # type: ignore[arg-type]
    with pytest.raises(ExportError, match="column names must be strings"):
        to_parquet(pd.DataFrame({0: [1]}), tmp_path / "x")
    bad = df.assign(num_records=df["num_records"].astype("Float64") + 0.5)
    with pytest.raises(ExportError, match="'num_records'"):
        to_parquet(bad, tmp_path / "x")
    ns = df.assign(when=pd.Timestamp("2025-01-01 00:00:00.000000001", tz="UTC"))
    with pytest.raises(ExportError, match="'when'"):
        to_parquet(ns, tmp_path / "x")
    with pytest.raises(ExportError):
        to_parquet(df, tmp_path / "x", compression="no-such-codec")
    assert list(tmp_path.iterdir()) == []  # no failed write left anything behind


def test_a_frame_of_many_chunks_writes_whole_row_groups(tmp_path: Path) -> None:
    # pd.concat of many pieces gives Arrow tables of many chunks; each file should still hold
    # its rows in one row group, not a sliver per chunk (slow to write, slow to read).
    base = downloads_frame(dfkit.sample_downloads()[:20], per="download")
    df = pd.concat([base.assign(id=base["id"] + f"-{i}") for i in range(50)], ignore_index=True)
    for partition_by in (None, "status"):
        out = to_parquet(df, tmp_path / str(partition_by), partition_by=partition_by)
        files = [out] if out.is_file() else list(out.rglob("*.parquet"))
        assert all(pq.ParquetFile(f).metadata.num_row_groups == 1 for f in files)
        pd.testing.assert_frame_equal(read_parquet(out), df)
