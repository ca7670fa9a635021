"""The Dask engine: the local engine's records and Parquet, on a real cluster and a real S3 server.

One ``distributed.LocalCluster`` (two worker processes) and one moto S3 server on 127.0.0.1
serve the whole module. Everything here is skipped when the ``dfkit[dask]`` extra is missing,
except the error that names it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from dfkit import MissingDependencyError, ResultFileError, read_results, results_to_parquet
from dfkit.resultfiles import file_format

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "real-data"

# The whole module on one xdist worker, so the cluster starts once (`--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("dask")


def _dask() -> Any:
    return pytest.importorskip("distributed", reason="the dfkit[dask] extra is not installed")


# --- without the extra ------------------------------------------------------------------------


def test_import_dfkit_does_not_import_dask() -> None:
    code = (
        "import json, sys, dfkit; print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('dask', 'distributed', 'fsspec'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize("module", ["dask.dataframe", "distributed", "fsspec"])
def test_without_the_extra_the_error_names_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, module: str
) -> None:
    (tmp_path / "1_0.csv").write_text("a\n1\n")
    # Imported whole first where installed: blocking one of them while the others import
    # would leave those half imported for the tests after this one.
    for name in ("dask.dataframe", "distributed", "fsspec", "s3fs"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(MissingDependencyError, match=r"pip install 'dfkit\[dask\]'") as e:
        read_results(tmp_path, engine="dask")
    assert isinstance(e.value, ImportError)
    with pytest.raises(MissingDependencyError, match=r"dfkit\[dask\]"):
        results_to_parquet(tmp_path, tmp_path / "out", engine="dask")


def test_engine_and_urls_are_checked(tmp_path: Path) -> None:
    (tmp_path / "1_0.csv").write_text("a\n1\n")
    with pytest.raises(ValueError, match="engine must be 'local' or 'dask', not 'spark'"):
        read_results(tmp_path, engine="spark")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match=r"s3://b/x/: .*need engine='dask'"):
        read_results("s3://b/x/")
    with pytest.raises(ValueError, match=r"s3://b/out: .*need engine='dask'"):
        results_to_parquet(tmp_path, "s3://b/out")


# --- fixtures: a cluster, an S3 server, result files ------------------------------------------


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    distributed = _dask()
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as c,
    ):
        yield c


@pytest.fixture
def on_cluster(client: Any) -> Iterator[Any]:
    import dask

    with dask.config.set(scheduler=client):
        yield client


# Files that differ in their columns (`extra` in one file only, `dateAdded` in two), with
# catalog fields (postalCode keeps its leading zero, reviews.rating is a float in a list of
# reviews), and JSON lines with nested reviews.
_CSV_A = (
    "id,postalCode,reviews.rating,reviews.doRecommend,dateAdded\n"
    "A1,78701,5,true,2020-01-02T03:04:05Z\nA2,10001,4,FALSE,\n"
)
_CSV_B = "id,postalCode,reviews.rating,reviews.doRecommend,extra\nB1,02134,4.5,,x\nB2,,3,TRUE,y\n"
_JSON_C = "\n".join(
    json.dumps(r)
    for r in [
        {"id": "C1", "reviews": [{"rating": 5, "text": "ok"}], "categories": ["a", "b"]},
        {"id": "C2", "postalCode": "90210", "reviews": []},
        {"id": "C3", "dateUpdated": "2021-05-06T07:08:09Z", "reviews": None},
    ]
)


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    (d / "847070_0.csv").write_text(_CSV_A)
    (d / "847070_1.csv").write_text(_CSV_B)
    (d / "847071_0.csv").write_text(_CSV_A.replace("A1", "D1").replace("A2", "D2"))
    return d


@pytest.fixture
def with_json(tmp_path: Path) -> Path:
    d = tmp_path / "json"
    d.mkdir()
    (d / "900_0.txt").write_text(_JSON_C + "\n")
    (d / "900_1.txt").write_text(json.dumps({"id": "C4", "postalCode": "01234"}) + "\n")
    return d


def _same_frame(dask_frame: Any, local: pd.DataFrame) -> None:
    got = dask_frame.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(got, local, check_dtype=True, check_exact=True)


def _same_table(got: pa.Table, want: pa.Table, sort: list[str] | None = None) -> None:
    if sort:
        keys = [(k, "ascending") for k in sort]
        got, want = got.sort_by(keys), want.sort_by(keys)
    assert got.schema == want.schema
    assert got.to_pylist() == want.to_pylist()


# --- read_results -----------------------------------------------------------------------------


def test_read_results_dask_equals_local_with_meta_up_front(on_cluster: Any, mixed: Path) -> None:
    ddf = read_results(mixed, engine="dask")
    local = read_results(mixed)
    # meta, known before any compute: the local engine's columns and dtypes.
    assert ddf.npartitions == 3
    assert ddf.columns.tolist() == local.columns.tolist()
    assert ddf.dtypes.astype(str).to_dict() == local.dtypes.astype(str).to_dict()
    assert local["postalCode"].tolist()[:3] == ["78701", "10001", "02134"]
    _same_frame(ddf, local)


def test_read_results_dask_keeps_nested_json_and_dtype(on_cluster: Any, with_json: Path) -> None:
    _same_frame(read_results(with_json, engine="dask"), read_results(with_json))
    _same_frame(
        read_results(with_json, engine="dask", dtype="string"),
        read_results(with_json, dtype="string"),
    )
    _same_frame(
        read_results(with_json, engine="dask", dtype={"id": "category"}),
        read_results(with_json, dtype={"id": "category"}),
    )
    _same_frame(
        read_results(with_json, engine="dask", per="reviews"),
        read_results(with_json, per="reviews"),
    )


def test_large_json_lines_file_is_split_into_byte_ranges(
    on_cluster: Any, with_json: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dfkit import results_dask

    monkeypatch.setattr(results_dask, "PART_BYTES", 40)
    ddf = read_results(with_json, engine="dask")
    assert ddf.npartitions > 2
    _same_frame(ddf, read_results(with_json))
    out = results_to_parquet(with_json, tmp_path / "split", engine="dask")
    _same_table(pq.read_table(out), pq.read_table(results_to_parquet(with_json, tmp_path / "l")))


def test_json_lines_with_a_bom_keep_their_first_record_in_tiny_ranges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dask()
    import dask

    from dfkit import results_dask

    (tmp_path / "7_0.txt").write_bytes(b"\xef\xbb\xbf" + b'{"id": "a"}\n{"id": "b"}\n')
    monkeypatch.setattr(results_dask, "PART_BYTES", 3)
    with dask.config.set(scheduler="synchronous"):
        ddf = read_results(tmp_path, engine="dask")
        assert ddf.npartitions > 1
        _same_frame(ddf, read_results(tmp_path))
        assert list(ddf["id"].compute()) == ["a", "b"]


def test_a_json_document_larger_than_a_part_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dask()
    import dask

    from dfkit import results_dask

    records = [{"id": f"R{i}", "reviews": [{"rating": i % 5}]} for i in range(20)]
    (tmp_path / "8_0.json").write_text(json.dumps({"records": records}, indent=2))
    (tmp_path / "8_1.json").write_text(json.dumps(records, indent=2))
    monkeypatch.setattr(results_dask, "PART_BYTES", 100)
    with dask.config.set(scheduler="synchronous"):
        ddf = read_results(tmp_path, engine="dask")
        assert ddf.npartitions == 2
        _same_frame(ddf, read_results(tmp_path))


def test_large_csv_is_split_at_records_never_inside_quotes(
    on_cluster: Any, s3: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dfkit import results_dask

    d = tmp_path / "reviews"
    d.mkdir()
    # Review texts with line breaks, commas and quotes, so that many cuts fall inside quotes.
    rows = [
        f'R{i},"Great\nstay, ""really""\n{"x" * (i % 7)}",{i % 5},0{i:04d}\n' for i in range(60)
    ]
    (d / "8_0.csv").write_text("id,text,rating,postalCode\n" + "".join(rows))
    (d / "8_1.csv").write_text('id,reviews.text\nS1,"5"" screen"\nS2,fine\n')
    monkeypatch.setattr(results_dask, "PART_BYTES", 300)
    ddf = read_results(d, engine="dask")
    assert ddf.npartitions > 5  # 8_0.csv in ranges, 8_1.csv (small) whole
    _same_frame(ddf, read_results(d))
    out = results_to_parquet(d, tmp_path / "split", engine="dask")
    _same_table(pq.read_table(out), pq.read_table(results_to_parquet(d, tmp_path / "l")))
    # The same from object storage: the scan and the ranges read through fsspec files.
    from_s3 = read_results(_upload(s3, d, "split"), engine="dask", storage_options=s3)
    assert from_s3.npartitions == ddf.npartitions
    _same_frame(from_s3, read_results(d))


def test_a_csv_whose_records_span_rows_is_one_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dask()
    import dask

    from dfkit import results_dask

    # 40 records of 5 reviews each: ranges of 300 bytes would cut records in two.
    rows = "".join(f"R{i // 5},{i % 5},t{i}\n" for i in range(200))
    (tmp_path / "8_0.csv").write_text("id,reviews.rating,reviews.text\n" + rows)
    monkeypatch.setattr(results_dask, "PART_BYTES", 300)
    with dask.config.set(scheduler="synchronous"):
        ddf = read_results(tmp_path, engine="dask")
        assert ddf.npartitions == 1
        local = read_results(tmp_path)
        assert len(local) == 40
        _same_frame(ddf, local)


def test_data_type_gives_the_dask_engine_the_same_columns(with_json: Path) -> None:
    _dask()
    import dask

    with dask.config.set(scheduler="synchronous"):
        ddf = read_results(with_json, engine="dask", data_type="product")
        local = read_results(with_json, data_type="product")
        assert "asins" in local.columns and list(ddf.columns) == list(local.columns)
        _same_frame(ddf, local)


def test_read_results_dask_on_the_threaded_scheduler(mixed: Path) -> None:
    _dask()
    import dask

    with dask.config.set(scheduler="threads"):
        _same_frame(read_results(mixed, engine="dask"), read_results(mixed))


def test_bad_line_raises_the_local_error_from_the_worker(on_cluster: Any, mixed: Path) -> None:
    (mixed / "847072_0.csv").write_text("id,zip\nX,1,extra\n")
    ddf = read_results(mixed / "847070_0.csv", engine="dask")  # only a good file: fine
    assert len(ddf.compute()) == 2
    with pytest.raises(ResultFileError, match=r"847072_0.csv: line 2"):
        read_results(mixed, engine="dask").compute()


# --- results_to_parquet -----------------------------------------------------------------------


def test_to_parquet_dask_writes_the_local_rows_and_types(
    on_cluster: Any, mixed: Path, with_json: Path, tmp_path: Path
) -> None:
    for src in (mixed, with_json):
        local = results_to_parquet(src, tmp_path / f"{src.name}.parquet")
        out = results_to_parquet(src, tmp_path / f"{src.name}_dask", engine="dask")
        assert out == tmp_path / f"{src.name}_dask"
        # _SUCCESS (written last, as Spark does) marks a committed dataset.
        assert sorted(p.name for p in out.iterdir()) == [
            "_SUCCESS",
            *(f"part-{i:05d}.parquet" for i in range(len(list(src.iterdir())))),
        ]
        _same_table(pq.read_table(out), pq.read_table(local))
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_to_parquet_dask_partitions_like_local(
    on_cluster: Any, mixed: Path, tmp_path: Path
) -> None:
    local = results_to_parquet(mixed, tmp_path / "local", partition_by="download_id")
    out = results_to_parquet(mixed, tmp_path / "dask", partition_by="download_id", engine="dask")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["_SUCCESS", *(p.name for p in local.iterdir())]
    )
    want = pads.dataset(local, partitioning="hive").to_table()
    got = pads.dataset(out, partitioning="hive").to_table()
    _same_table(got, want, sort=["id"])
    with pytest.raises(ValueError, match="partition_by: no column 'nope'"):
        results_to_parquet(mixed, tmp_path / "x", partition_by="nope", engine="dask")


def test_to_parquet_dask_refuses_inputs_and_foreign_folders(
    on_cluster: Any, mixed: Path, tmp_path: Path
) -> None:
    from dfkit import ArgumentError, ExportError

    (mixed / "thesis.docx").write_text("years of work")
    with pytest.raises(ExportError, match="replace the input"):
        results_to_parquet(mixed, mixed, engine="dask")
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not a dfkit Parquet dataset"):
        results_to_parquet(mixed, home, partition_by="download_id", engine="dask")
    assert (mixed / "thesis.docx").exists() and (home / "notes.txt").exists()
    (mixed / "products.csv").write_text(_CSV_A)
    with pytest.raises(ArgumentError, match=r"products\.csv has no download id"):
        results_to_parquet(mixed, tmp_path / "ds", partition_by="download_id", engine="dask")
    out = results_to_parquet(mixed, tmp_path / "plain", engine="dask")
    results_to_parquet(mixed, out, engine="dask")  # its own previous output is replaced


def test_to_parquet_dask_failure_leaves_the_old_output(
    on_cluster: Any, mixed: Path, tmp_path: Path
) -> None:
    out = results_to_parquet(mixed, tmp_path / "out", engine="dask")
    before = pq.read_table(out)
    # A file that passes the schema pass but breaks a worker's read: made unreadable after it.
    bad = mixed / "847072_0.csv"
    bad.write_text("id\nZ\n")
    from dfkit import results_dask

    real = results_dask.read_result_batches

    def flaky(source: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("name") == bad.name:
            raise ResultFileError(f"{bad.name}: broken on the worker")
        return real(source, *args, **kwargs)

    import dask

    # The threaded scheduler shares this process, so the patch reaches the tasks.
    with dask.config.set(scheduler="threads"), pytest.MonkeyPatch.context() as mp:
        mp.setattr(results_dask, "read_result_batches", flaky)
        with pytest.raises(ResultFileError, match="broken on the worker"):
            results_to_parquet(mixed, out, engine="dask")
    _same_table(pq.read_table(out), before)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# --- object storage ---------------------------------------------------------------------------


def _upload(s3: dict[str, Any], folder: Path, prefix: str) -> str:
    import s3fs

    fs = s3fs.S3FileSystem(**s3)
    for p in folder.iterdir():
        fs.put_file(str(p), f"results/{prefix}/{p.name}")
    fs.put_file(str(next(folder.iterdir())), f"results/{prefix}/.partial.csv")  # hidden: skipped
    return f"s3://results/{prefix}/"


def test_s3_in_and_out_equals_local(
    on_cluster: Any, s3: dict[str, Any], mixed: Path, tmp_path: Path
) -> None:
    import s3fs

    url = _upload(s3, mixed, "mixed")
    ddf = read_results(url, engine="dask", storage_options=s3)
    assert ddf.npartitions == 3
    _same_frame(ddf, read_results(mixed))

    local = results_to_parquet(mixed, tmp_path / "local", partition_by="download_id")
    for _ in range(2):  # the second run replaces the first
        out = results_to_parquet(
            url,
            "s3://results/parquet/records",
            partition_by="download_id",
            engine="dask",
            storage_options=s3,
        )
    assert out == "s3://results/parquet/records"
    fs = s3fs.S3FileSystem(**s3)
    assert fs.ls("results/parquet", detail=False) == ["results/parquet/records"]
    got = pads.dataset("results/parquet/records", filesystem=fs, partitioning="hive").to_table()
    want = pads.dataset(local, partitioning="hive").to_table()
    _same_table(got, want, sort=["id"])


def test_s3_commit_keeps_a_file_added_to_the_output_during_the_run(
    s3: dict[str, Any], mixed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dask
    import s3fs

    from dfkit import ExportError, results_dask

    fs = s3fs.S3FileSystem(**s3)
    out = "s3://results/toctou/out"
    results_to_parquet(mixed, out, engine="dask", storage_options=s3)  # checked: a dataset
    real = results_dask._write_part

    def meanwhile(*args: Any, **kwargs: Any) -> Any:
        fs.pipe_file("results/toctou/out/notes.txt", b"a colleague's notes")
        return real(*args, **kwargs)

    monkeypatch.setattr(results_dask, "_write_part", meanwhile)
    with (
        dask.config.set(scheduler="synchronous"),
        pytest.raises(ExportError, match=r"notes\.txt appeared during the run"),
    ):
        results_to_parquet(mixed, out, engine="dask", storage_options=s3)
    fs.invalidate_cache()
    assert fs.cat_file("results/toctou/out/notes.txt") == b"a colleague's notes"
    assert fs.exists("results/toctou/out/_SUCCESS")  # the previous dataset, untouched
    assert fs.ls("results/toctou", detail=False) == ["results/toctou/out"]


def test_s3_store_failures_are_dfkit_errors_naming_the_url(s3: dict[str, Any], mixed: Path) -> None:
    import s3fs

    from dfkit import DfkitError, ExportError

    bogus = {**s3, "bogus_opt": 1}
    with pytest.raises(DfkitError, match=r"^s3://results/x/: listing the result files failed: "):
        read_results("s3://results/x/", engine="dask", storage_options=bogus)
    with pytest.raises(ExportError, match="no such bucket 'no-such-bucket'"):
        results_to_parquet(mixed, "s3://no-such-bucket/out", engine="dask", storage_options=s3)
    assert not s3fs.S3FileSystem(**s3).exists("no-such-bucket")  # not created either
    for root in ("s3://results", "s3://results/"):
        with pytest.raises(ExportError, match="a bucket's root cannot hold a dataset"):
            results_to_parquet(mixed, root, engine="dask", storage_options=s3)


def test_s3_unknown_bucket_is_a_clear_error(on_cluster: Any, s3: dict[str, Any]) -> None:
    with pytest.raises(FileNotFoundError, match="s3://no-such-bucket/x/"):
        read_results("s3://no-such-bucket/x/", engine="dask", storage_options=s3)


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_to_parquet_on_a_scheduler(
    client: Any, mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dfkit.cli import main

    address = client.scheduler.address
    out = tmp_path / "cli"
    argv = ["results", "to-parquet", str(mixed), "--out", str(out), "--engine", "dask"]
    assert main([*argv, "--scheduler", address]) == 0
    assert "Wrote 6 rows" in capsys.readouterr().out
    _same_table(pq.read_table(out), pq.read_table(results_to_parquet(mixed, tmp_path / "l.pq")))


def test_cli_scheduler_needs_dask_engine(
    mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dfkit.cli import main

    argv = ["results", "to-parquet", str(mixed), "--out", str(tmp_path / "o")]
    assert main([*argv, "--scheduler", "tcp://127.0.0.1:1"]) == 1
    assert "add --engine dask" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def _cli_options(s3: dict[str, Any]) -> list[str]:
    endpoint = s3["client_kwargs"]["endpoint_url"]
    return [
        *("--storage-option", f"key={s3['key']}"),
        *("--storage-option", f"secret={s3['secret']}"),
        *("--storage-option", f"client_kwargs.endpoint_url={endpoint}"),
        *("--storage-option", "client_kwargs.region_name=eu-west-1"),
    ]


def test_cli_storage_options_for_fetch_and_to_parquet(
    s3: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dfkit.cli import main
    from dfkit.testing import FakeDatafiniti

    with FakeDatafiniti(records_per_file=5) as fake:
        d = fake.add_download(
            {
                "id": "77",
                "status": "completed",
                "format": "CSV",
                "data_type": "business",
                "num_records": 10,
                "results": ["a", "b"],
            }
        )
        (tmp_path / "d.json").write_text(json.dumps([d]))
        argv = ["results", "fetch", str(tmp_path / "d.json"), "--dest", "s3://results/cli/77/"]
        assert main([*argv, *_cli_options(s3)]) == 0
    assert "2 downloaded" in capsys.readouterr().out
    out = "s3://results/cli/parquet"
    argv = ["results", "to-parquet", "s3://results/cli/77/", "--out", out, "--engine", "dask"]
    assert main([*argv, *_cli_options(s3)]) == 0
    rows = len(read_results("s3://results/cli/77/", engine="dask", storage_options=s3))
    assert f"Wrote {rows} rows (17 columns) to {out} (" in capsys.readouterr().out
    # Partitioned, the column held in the folder names is counted too.
    assert main([*argv, *_cli_options(s3), "--partition-by", "download_id"]) == 0
    said = capsys.readouterr().out
    assert f"Wrote {rows} rows (17 columns) to {out} (a dataset partitioned by download_id)" in said

    # A failure names the location, never the secret; a malformed option never echoes itself.
    argv = ["results", "to-parquet", "s3://no-such-bucket/x/", "--out", out, "--engine", "dask"]
    assert main([*argv, *_cli_options(s3), "--verbose"]) == 1
    err = capsys.readouterr().err
    assert "s3://no-such-bucket/x/" in err and s3["secret"] not in err
    with pytest.raises(SystemExit):
        main([*argv, "--storage-option", "hunter2-secret"])
    err = capsys.readouterr().err
    assert "expected KEY=VALUE" in err and "hunter2" not in err


# --- the real files ---------------------------------------------------------------------------


def _real_files() -> list[Path]:
    if not REAL_DATA.is_dir():
        return []
    return sorted(p for p in REAL_DATA.iterdir() if file_format(p) is not None)


@pytest.mark.skipif(not REAL_DATA.is_dir(), reason="../shared/real-data is absent")
@pytest.mark.parametrize("path", _real_files(), ids=lambda p: p.name)
def test_real_files_dask_equals_local(on_cluster: Any, path: Path, tmp_path: Path) -> None:
    try:
        local = read_results(path)
    except ResultFileError as e:
        with pytest.raises(ResultFileError, match=str(e).splitlines()[0][:40]):
            read_results(path, engine="dask").compute()
        return
    _same_frame(read_results(path, engine="dask"), local)
    want = pq.read_table(results_to_parquet(path, tmp_path / "local.parquet"))
    _same_table(pq.read_table(results_to_parquet(path, tmp_path / "d", engine="dask")), want)


def test_part_names_sort_in_part_order_however_many(
    with_json: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dask()
    import dask

    from dfkit import results_dask

    monkeypatch.setattr(results_dask, "PART_BYTES", 16)
    monkeypatch.setattr(results_dask, "PART_DIGITS", 1)  # as 100,000 parts would be with 5
    with dask.config.set(scheduler="synchronous"):
        out = results_to_parquet(with_json, tmp_path / "many", engine="dask")
    names = sorted(p.name for p in out.iterdir() if p.suffix == ".parquet")
    assert len(names) > 10 and len({len(n) for n in names}) == 1
    _same_table(pq.read_table(out), pq.read_table(results_to_parquet(with_json, tmp_path / "l")))


def test_storage_options_with_only_local_paths_are_refused(mixed: Path, tmp_path: Path) -> None:
    _dask()
    from dfkit import ArgumentError

    with pytest.raises(ArgumentError, match="storage_options is for URLs"):
        results_to_parquet(mixed, tmp_path / "o", engine="dask", storage_options={"anon": True})
    with pytest.raises(ArgumentError, match="storage_options is for URLs"):
        read_results(mixed, engine="dask", storage_options={"anon": True})


def test_s3_a_folder_marker_object_is_not_someone_elses_file(
    s3: dict[str, Any], mixed: Path
) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(**s3)
    fs.call_s3("put_object", Bucket="results", Key="marker/out/", Body=b"")  # a console's folder
    results_to_parquet(mixed, "s3://results/marker/out", engine="dask", storage_options=s3)
    fs.invalidate_cache()
    assert fs.exists("results/marker/out/_SUCCESS")
