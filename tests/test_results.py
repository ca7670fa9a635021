"""Result files: fetch_results against the fake server, read_results, results_to_parquet."""

from __future__ import annotations

import copy
import gzip
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
from dfkit import (
    Client,
    ResultFetchError,
    ResultFileError,
    downloads_frame,
    fetch_results,
    read_results,
    results_to_parquet,
)
from dfkit.testing import FakeDatafiniti

MANIFEST_COLUMNS = ["id", "result_index", "path", "bytes", "status", "error"]


def _download(did: str, n_files: int, fmt: str = "CSV", **extra: Any) -> dict[str, Any]:
    return {
        "id": did,
        "status": "completed",
        "format": fmt,
        "data_type": "business",
        "num_records": n_files * 5,
        "results": [
            f"https://x/{did}_{k}.{'csv' if fmt == 'CSV' else 'txt'}" for k in range(n_files)
        ],
        **extra,
    }


@pytest.fixture
def fake() -> Any:
    with FakeDatafiniti(records_per_file=5) as f:
        yield f


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or ".tmp" in p.name)


# --- fetch_results -------------------------------------------------------------------------


def test_fetch_parallel_writes_every_file_and_a_manifest(fake: Any, tmp_path: Path) -> None:
    d = fake.add_download(_download("847070", 4))
    queued = fake.add_download({"id": "847071", "status": "queued", "results": []})
    for k in range(4):
        fake.inject(f"/s3/*/847070_{k}.csv", status=None, delay=0.4)
    started = time.perf_counter()
    m = fetch_results([d, queued], tmp_path, workers=4, progress=False)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.2, "the four delayed files should be fetched at the same time"
    assert m.columns.tolist() == MANIFEST_COLUMNS
    assert m["status"].tolist() == ["downloaded"] * 4 + ["skipped"]
    assert m["error"].iloc[-1] == "status is 'queued'"
    for k in range(4):
        path = tmp_path / f"847070_{k}.csv"
        assert Path(m["path"][k]) == path
        assert path.read_bytes() == fake.result_body("847070", k)
        assert m["bytes"][k] == path.stat().st_size
    assert _leftovers(tmp_path) == []


def test_fetch_from_a_per_result_frame_and_a_client(fake: Any, tmp_path: Path) -> None:
    fake.add_download(_download("11", 2, fmt="JSON"))
    fake.add_download({"id": "12", "status": "cancelled", "results": []})
    with Client(fake.token, base_url=fake.url) as client:
        frame = downloads_frame(client.downloads(), per="result")
        m = fetch_results(frame, tmp_path, client=client, progress=False)
        per_download = downloads_frame(client.downloads(), per="download")
        again = fetch_results(per_download, tmp_path, client=client, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["11_0.txt", "11_1.txt"]
    assert m.set_index("id")["status"].astype(str).to_dict() == {
        "11": "downloaded",
        "12": "skipped",
    }
    assert again["status"].astype(str).tolist() == ["skipped", "skipped", "skipped"]
    with pytest.raises(ValueError, match="per-download frame"):
        fetch_results(per_download, tmp_path)


def test_no_authorization_or_cookie_reaches_result_hosts(
    fake: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A ~/.netrc entry for the host must not turn into an Authorization header.
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    d = fake.add_download(_download("21", 3))
    fake.inject("/s3/*/21_0.csv", status=None, headers={"Set-Cookie": "session=abc; Path=/"})
    with Client(fake.token, base_url=fake.url) as client:
        fetch_results(d, tmp_path / "a", workers=1, client=client, progress=False)
    fetch_results(d, tmp_path / "b", workers=1, progress=False)
    s3 = fake.requests_to("/s3/*")
    assert len(s3) == 6
    assert all("Authorization" not in r.headers and "Cookie" not in r.headers for r in s3)


def test_resume_after_an_interrupted_run(fake: Any, tmp_path: Path) -> None:
    d = fake.add_download(_download("31", 3))
    fake.inject("/s3/*/31_1.csv", status=None, truncate=True)
    with pytest.raises(ResultFetchError, match="31_1") as info:
        fetch_results(d, tmp_path, progress=False)
    m = info.value.manifest
    assert m["status"].astype(str).tolist() == ["downloaded", "failed", "downloaded"]
    # The cut-off file is under no name at all: neither its final one nor a temporary one.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["31_0.csv", "31_2.csv"]

    before = len(fake.requests_to("/s3/*"))
    m = fetch_results(d, tmp_path, progress=False)
    assert len(fake.requests_to("/s3/*")) == before + 1  # only the missing file
    assert m["status"].astype(str).tolist() == ["skipped", "downloaded", "skipped"]
    assert (tmp_path / "31_1.csv").read_bytes() == fake.result_body("31", 1)
    assert m["bytes"].tolist() == [(tmp_path / f"31_{k}.csv").stat().st_size for k in range(3)]

    m = fetch_results(d, tmp_path, overwrite=True, progress=False)
    assert m["status"].astype(str).tolist() == ["downloaded"] * 3
    assert _leftovers(tmp_path) == []


def test_progress_bar_counts_bytes(
    fake: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = fake.add_download(_download("35", 2))
    fetch_results(d, tmp_path / "quiet")  # default: no bar outside terminals and notebooks
    assert capsys.readouterr().err == ""
    fetch_results(d, tmp_path / "loud", progress=True)
    err = capsys.readouterr().err
    total = sum(p.stat().st_size for p in (tmp_path / "loud").iterdir())
    assert f"{total / 1024:.2f}k/{total / 1024:.2f}k" in err
    assert err.lstrip("\r").startswith("results:") and "100%" in err


def test_bad_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no column 'status'"):
        fetch_results(pd.DataFrame({"id": ["1"]}), tmp_path)
    with pytest.raises(ValueError, match="errors must be"):
        fetch_results([], tmp_path, errors="warn")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="workers"):
        fetch_results([], tmp_path, workers=0)


def test_server_errors_are_retried(fake: Any, tmp_path: Path) -> None:
    d = fake.add_download(_download("41", 1))
    fake.inject("/s3/*/41_0.csv", status=503)
    m = fetch_results(d, tmp_path, progress=False)
    assert m["status"].tolist() == ["downloaded"]
    assert len(fake.requests_to("/s3/*")) == 2


def test_expired_links_are_refreshed_once_with_a_client(fake: Any, tmp_path: Path) -> None:
    d = copy.deepcopy(fake.add_download(_download("51", 3)))
    fake.expire_links("51")  # d still holds the old links
    with Client(fake.token, base_url=fake.url) as client:
        m = fetch_results(d, tmp_path, client=client, progress=False)
    assert m["status"].tolist() == ["downloaded"] * 3
    assert len(fake.requests_to("/downloads/51", "GET")) == 1
    assert (tmp_path / "51_2.csv").read_bytes() == fake.result_body("51", 2)


def test_expired_links_without_a_client_are_reported(fake: Any, tmp_path: Path) -> None:
    d = copy.deepcopy(fake.add_download(_download("52", 2)))
    fake.expire_links("52")
    with pytest.raises(ResultFetchError) as info:
        fetch_results(d, tmp_path, progress=False)
    message = str(info.value)
    assert "2 of 2 result files failed" in message
    assert "link expired" in message and "Request has expired" in message
    assert "client=" in message
    assert "X-Amz-Signature" not in message
    m = info.value.manifest
    assert not m["error"].str.contains("X-Amz-").any()
    assert list(tmp_path.iterdir()) == []
    m = fetch_results(d, tmp_path, progress=False, errors="ignore")
    assert m["status"].tolist() == ["failed", "failed"]


@pytest.mark.parametrize("bad_id", ["../evil", "a/b", "..", "", ".hidden", "x\\y", "-rf"])
def test_unsafe_ids_are_refused(fake: Any, tmp_path: Path, bad_id: str) -> None:
    dest = tmp_path / "dest"
    d = {"id": bad_id, "status": "completed", "format": "CSV", "results": [fake.origin + "/s3/x"]}
    m = fetch_results(d, dest, progress=False, errors="ignore")
    assert m["status"].tolist() == ["failed"]
    assert "not safe in a file name" in m["error"][0]
    assert fake.requests_to("/s3/*") == []
    assert list(tmp_path.rglob("*.csv")) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/1_0.csv",  # plain http off loopback
        "file:///etc/passwd",
        "ftp://example.com/1_0.csv",
        "https:///no-host.csv",
    ],
)
def test_unsafe_urls_are_refused(tmp_path: Path, url: str) -> None:
    m = fetch_results(
        {"id": "1", "status": "completed", "results": [url]}, tmp_path, errors="ignore"
    )
    assert m["status"].tolist() == ["failed"]
    assert "only https" in m["error"][0]


def test_url_paths_cannot_choose_the_file_name(fake: Any, tmp_path: Path) -> None:
    d = fake.add_download(_download("61", 1, fmt="JSON"))
    url = d["results"][0]
    evil = url.replace("/s3/", "/s3/../../../../tmp/").replace("61_0.txt", "..%2F..%2Fevil.txt")
    m = fetch_results(
        {"id": "61", "status": "completed", "format": "JSON", "results": [evil]},
        tmp_path / "dest",
        errors="ignore",
        progress=False,
    )
    assert Path(m["path"][0]) == tmp_path / "dest" / "61_0.txt"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []  # 404, nothing written


def test_extension_comes_from_the_url_else_the_format(tmp_path: Path) -> None:
    from dfkit.results import _extension

    assert _extension("https://h/u/1_0.csv?sig=1", "json") == "csv"
    assert _extension("https://h/u/1_0.jsonl", None) == "jsonl"
    assert _extension("https://h/u/1_0.csv.gz", None) == "csv.gz"
    assert _extension("https://h/u/1_0.gz", "json") == "txt.gz"
    assert _extension("https://h/u/download", "json") == "txt"
    assert _extension("https://h/u/1_0.exe", "csv") == "csv"
    assert _extension("https://h/u/1_0.exe", None) is None


def test_fetch_then_read_the_fakes_files(fake: Any, tmp_path: Path) -> None:
    csv_d = fake.add_download(_download("71", 2, data_type="business"))
    json_d = fake.add_download(_download("72", 2, fmt="JSON", data_type="product"))
    fetch_results([csv_d, json_d], tmp_path, progress=False)
    business = read_results(sorted(tmp_path.glob("71_*.csv")))
    assert business["postalCode"].dtype == "string"
    assert business["dateAdded"].dtype == "datetime64[us, UTC]"
    assert set(business["download_id"]) == {"71"}
    products = read_results(tmp_path / "72_0.txt")
    assert products["upc"].dtype == "string"
    assert products["upc"].str.len().max() == 20
    assert isinstance(products["reviews"].dropna().iloc[0], list)
    records = fake.result_records("72", 0)
    assert products["upc"].tolist() == [r["upc"] for r in records]


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
