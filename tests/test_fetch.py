"""fetch_results against the fake server: parallel, safe, resumable, with a manifest."""

from __future__ import annotations

import copy
import errno
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest

from dfkit import (
    ArgumentError,
    Client,
    DiskFullError,
    ResultFetchError,
    downloads_frame,
    fetch_results,
    read_results,
)
from dfkit.testing import FakeDatafiniti

if TYPE_CHECKING:
    from conftest import Wiretap  # the fixture's type (tests/conftest.py)

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
    assert again["status"].astype(str).tolist() == ["present", "present", "skipped"]
    with pytest.raises(ArgumentError, match="a per-download frame carries no result links"):
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
    assert m["status"].astype(str).tolist() == ["present", "downloaded", "present"]
    assert (tmp_path / "31_1.csv").read_bytes() == fake.result_body("31", 1)
    assert m["bytes"].tolist() == [(tmp_path / f"31_{k}.csv").stat().st_size for k in range(3)]

    m = fetch_results(d, tmp_path, overwrite=True, progress=False)
    assert m["status"].astype(str).tolist() == ["downloaded"] * 3
    assert _leftovers(tmp_path) == []


def test_progress_bar_knows_its_total_from_the_start(
    fake: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = fake.add_download(_download("35", 3))
    fetch_results(d, tmp_path / "quiet")  # default: no bar outside terminals and notebooks
    assert capsys.readouterr().err == ""
    fetch_results(d, tmp_path / "loud", progress=True)
    frames = [f for f in capsys.readouterr().err.replace("\n", "\r").split("\r") if f]
    assert frames[0].startswith("results:") and "0/3" in frames[0]
    percents = [int(re.search(r"(\d+)%", f)[1]) for f in frames]  # type: ignore[index]
    assert percents == sorted(percents) and percents[-1] == 100
    total = sum(p.stat().st_size for p in (tmp_path / "loud").iterdir())
    assert "3/3" in frames[-1] and f"{total / 1024:.1f}kB" in frames[-1]


def test_bad_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ArgumentError, match="no column 'status'"):
        fetch_results(pd.DataFrame({"id": ["1"]}), tmp_path)
    with pytest.raises(ArgumentError, match="errors must be"):
        fetch_results([], tmp_path, errors="warn")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("downloads", "kwargs", "says"),
    [
        (["a"], {}, "downloads: expected download objects, got a str"),
        (5, {}, "downloads: expected a downloads frame"),
        ([], {"workers": 0}, "workers must be >= 1, got 0"),
        ([], {"errors": "bogus"}, "errors must be 'raise' or 'ignore', not 'bogus'"),
        ([], {"max_file_bytes": -1}, "max_file_bytes must be >= 1, got -1"),
        ([], {"file_deadline": 0}, "file_deadline must be a number of seconds > 0, not 0"),
        ([], {"file_deadline": "1"}, "file_deadline must be a number of seconds"),
    ],
)
def test_a_bad_argument_is_an_argument_error_naming_it(
    tmp_path: Path, downloads: Any, kwargs: dict[str, Any], says: str
) -> None:
    with pytest.raises(ArgumentError, match=says):
        fetch_results(downloads, tmp_path, **kwargs)


def test_a_dest_that_is_a_file_is_an_argument_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    for dest in (tmp_path / "f", tmp_path / "f" / "sub"):
        with pytest.raises(ArgumentError, match=f"dest '{re.escape(str(dest))}' is not a folder"):
            fetch_results([], dest)
    with pytest.raises(ArgumentError, match="dest must be a folder path or URL, not int"):
        fetch_results([], 5)  # type: ignore[arg-type]


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
    from dfkit.fetch import _extension

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
    # The catalog keeps upc as a list of codes (text), a lone code as a one-element list.
    assert products["upc"].dtype.pyarrow_dtype.value_type == "string"
    assert isinstance(products["reviews"].dropna().iloc[0], list)
    records = fake.result_records("72", 0)
    assert products["upc"].tolist() == [[r["upc"]] for r in records]


# --- nothing lost ----------------------------------------------------------------------------


def test_entries_without_a_link_fail_with_the_reason(fake: Any, tmp_path: Path) -> None:
    good = fake.add_download(_download("51", 1))
    d = {**good, "results": [good["results"][0], "", {"href": good["results"][0]}, 7]}
    m = fetch_results(d, tmp_path, progress=False, errors="ignore")
    assert m["status"].astype(str).tolist() == ["downloaded", "failed", "failed", "failed"]
    errors = m["error"].tolist()
    assert errors[0] is pd.NA
    assert "results[1] is an empty string" in errors[1]
    assert "results[2] is an object without a 'url' (keys: href)" in errors[2]
    assert "results[3] is int" in errors[3]
    assert "X-Amz-Signature" not in "".join(errors[1:])  # the href's signature is not echoed
    first_line = r"3 of 4 result files failed; 51_1: results\[1\] is an empty string\n  51_1: "
    with pytest.raises(ResultFetchError, match=first_line):
        fetch_results(d, tmp_path, progress=False)


def test_ids_that_collide_on_disk_never_overwrite_each_other(fake: Any, tmp_path: Path) -> None:
    five = fake.add_download(_download("5", 1))
    other = fake.add_download(_download("6", 1))
    as_int = {**other, "id": 5}  # another download whose id is written 5_0.csv too
    m = fetch_results([five, as_int], tmp_path, progress=False, errors="ignore")
    assert m["status"].astype(str).tolist() == ["downloaded", "failed"]
    assert "5_0.csv is also the file of another result entry" in m["error"][1]
    assert (tmp_path / "5_0.csv").read_bytes() == fake.result_body("5", 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["5_0.csv"]

    # The same download given twice is fetched once, and both rows say what happened.
    again = fetch_results([five, five], tmp_path / "twice", progress=False)
    assert again["status"].astype(str).tolist() == ["downloaded", "downloaded"]
    assert len(fake.requests_to("/s3/*/5_0.csv")) == 2  # one per call above


S3_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    "<Message>Access Denied</Message><RequestId>X</RequestId></Error>"
)


@pytest.mark.parametrize(
    ("fmt", "body", "content_type", "says"),
    [
        ("CSV", S3_ERROR, "application/xml", "application/xml (AccessDenied: Access Denied)"),
        ("CSV", S3_ERROR, "text/csv", "HTML or XML (AccessDenied: Access Denied)"),
        ("JSON", '{"error": "quota exceeded"}', "application/json", "error object"),
        ("JSON", '{"message": "Forbidden"}\n', "binary/octet-stream", "error object (Forbidden)"),
        ("CSV", '{"error": "quota exceeded"}', "text/plain", "JSON (quota exceeded), not a CSV"),
        ("JSON", "<html><title>Hotel Wi-Fi login</title>", "text/html", "Hotel Wi-Fi login"),
        ("CSV", "\n\n<!DOCTYPE html><html>Sign in", "text/plain", "HTML or XML"),
        ("JSON", "[1, 2]", "application/json", "does not start with a JSON object"),
        ("CSV", "Access Denied", "text/plain", "13 bytes of text with no line break ('Access"),
        ("CSV", "Access Denied\n", "text/plain", "not a CSV header of field names ('Access"),
        ("CSV", "Sorry, this link has expired.\r\n", "text/plain", "not a CSV header"),
        ("CSV", "\ufeffid,name", "text/csv", "no line break"),
        ("JSON", "Access Denied", "text/plain", "does not start with a JSON object"),
        ("CSV", "", "text/csv", "the body is empty, not a CSV file"),
        ("CSV", "\ufeff \r\n\n", "text/csv", "the body is blank, not a CSV file"),
    ],
)
def test_a_200_body_that_is_not_the_file_fails_and_is_not_saved(
    fake: Any, tmp_path: Path, fmt: str, body: str, content_type: str, says: str
) -> None:
    d = fake.add_download(_download("61", 2, fmt=fmt))
    fake.inject("/s3/*/61_1.*", status=None, body=body, content_type=content_type)
    with pytest.raises(ResultFetchError, match="1 of 2") as info:
        fetch_results(d, tmp_path, progress=False)
    m = info.value.manifest
    assert m["status"].astype(str).tolist() == ["downloaded", "failed"]
    assert says in m["error"][1]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"61_0.{'csv' if fmt == 'CSV' else 'txt'}"
    ]


@pytest.mark.parametrize(
    "body", ["id,name\n", "\ufeffid,name\r\n1,a\r\n", '"id","ean / upc"\n1,2\n', "keys\nx\n"]
)
def test_a_csv_with_a_header_line_is_accepted(fake: Any, tmp_path: Path, body: str) -> None:
    d = fake.add_download(_download("62", 1))
    fake.inject("/s3/*", status=None, body=body, content_type="text/plain")
    assert fetch_results(d, tmp_path, progress=False)["status"].tolist() == ["downloaded"]


@pytest.mark.parametrize(
    "body",
    [
        b'id,text\n1,a\n2,"hel',  # cut inside a quoted value
        b'id,text\n1,"x\ny"\n2,"hello\nwor',  # after a quoted line break
        b'\xef\xbb\xbfid,text\r\n1,"a""b"\r\n2,"5"" scr',  # BOM, CRLF, doubled quotes
    ],
)
def test_a_csv_body_ending_inside_quotes_fails_and_is_not_saved(
    fake: Any, tmp_path: Path, body: bytes
) -> None:
    # As a close-delimited body (HTTP/1.0, no Content-Length) cut mid-value arrives.
    d = fake.add_download(_download("63", 2))
    fake.inject("/s3/*/63_1.*", status=None, body=body, content_type="text/csv")
    m = fetch_results(d, tmp_path, progress=False, errors="ignore")
    assert m["status"].astype(str).tolist() == ["downloaded", "failed"]
    assert "the body ends inside a quoted value (opened on line" in m["error"][1]
    assert "cut short or is malformed" in m["error"][1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["63_0.csv"]


@pytest.mark.parametrize(
    "body", [b'id,size\n1,5" screen\n2,x\n', b'id,size\n1,5" screen\n2,"a""b"\n', b"id\n1\n"]
)
def test_a_csv_body_with_a_quote_in_an_unquoted_value_is_kept(
    fake: Any, tmp_path: Path, body: bytes
) -> None:
    d = fake.add_download(_download("64", 1))
    fake.inject("/s3/*", status=None, body=body, content_type="text/csv")
    assert fetch_results(d, tmp_path, progress=False)["status"].tolist() == ["downloaded"]
    assert (tmp_path / "64_0.csv").read_bytes() == body


def test_real_files_pass_the_body_check(fake: Any, tmp_path: Path) -> None:
    real = Path(__file__).resolve().parents[1].parent / "shared" / "real-data"
    files = sorted(real.glob("*.csv")) + sorted(real.glob("*.txt")) if real.is_dir() else []
    if not files:
        pytest.skip("no real result files in ../shared/real-data")
    for n, path in enumerate(files):
        fmt = "CSV" if path.suffix == ".csv" else "JSON"
        d = fake.add_download(_download(f"r{n}", 1, fmt=fmt))
        fake.inject(
            f"/s3/*/r{n}_0.*",
            status=None,
            body=_records_only(path.read_bytes()[:200_000])
            if fmt == "CSV"
            else path.read_bytes()[:200_000],
            content_type="text/plain",
        )
        m = fetch_results(d, tmp_path, progress=False)
        assert m["status"].astype(str).tolist() == ["downloaded"], path.name


def _records_only(head: bytes) -> bytes:
    """``head`` without its last, partial record (a cut inside quotes is refused)."""
    keep = quotes = at = 0
    for line in head.splitlines(keepends=True):
        quotes, at = quotes + line.count(b'"'), at + len(line)
        if quotes % 2 == 0 and line.endswith(b"\n"):
            keep = at
    return head[:keep] or head


def _gzip_bomb(size: int) -> bytes:
    return gzip.compress(b"a,b\n" + b"1,2\n" * (size // 4), compresslevel=9)


def test_a_gzip_encoded_file_is_saved_decoded_and_capped(fake: Any, tmp_path: Path) -> None:
    d = fake.add_download(_download("81", 1))
    body = _gzip_bomb(2_000_000)
    assert len(body) < 20_000
    gz = {"Content-Encoding": "gzip"}
    fake.inject("/s3/*", status=None, body=body, content_type="text/csv", headers=gz)
    m = fetch_results(d, tmp_path / "ok", progress=False)
    assert m["status"].astype(str).tolist() == ["downloaded"]  # the length is the raw stream's
    assert (tmp_path / "ok" / "81_0.csv").stat().st_size == m["bytes"][0] > 2_000_000 - 8

    fake.inject("/s3/*", status=None, body=body, content_type="text/csv", headers=gz)
    with pytest.raises(ResultFetchError, match="max_file_bytes=1,000,000") as info:
        fetch_results(d, tmp_path / "capped", progress=False, max_file_bytes=1_000_000)
    assert "pass a larger max_file_bytes" in info.value.manifest["error"][0]
    assert list((tmp_path / "capped").iterdir()) == []
    with pytest.raises(ValueError, match="max_file_bytes"):
        fetch_results(d, tmp_path, max_file_bytes=0)


def test_a_gz_file_is_kept_as_sent(fake: Any, tmp_path: Path) -> None:
    d = fake.add_download(_download("82", 2))
    link = d["results"][0]
    body = _gzip_bomb(10_000)
    d = {**d, "results": [link.replace("82_0.csv", "82_0.csv.gz"), link]}
    # Sent with Content-Encoding: gzip (as S3 does for objects stored with that metadata):
    # decoding it would save plain text under a .gz name.
    gz = {"Content-Encoding": "gzip"}
    fake.inject("/s3/*", status=200, body=body, content_type="application/gzip", headers=gz)
    fake.inject("/s3/*", status=200, body=b"a,b\n1,2\n", content_type="application/gzip")
    m = fetch_results({**d, "results": d["results"][:1]}, tmp_path, progress=False)
    assert (tmp_path / "82_0.csv.gz").read_bytes() == body
    assert m["status"].astype(str).tolist() == ["downloaded"]
    with pytest.raises(ResultFetchError, match="not gzip data"):
        fetch_results({**d, "results": d["results"][:1]}, tmp_path / "x", progress=False)
    fake.inject("/s3/*", status=200, body=b"", content_type="application/gzip")
    with pytest.raises(ResultFetchError, match="the body is empty, not gzip data"):
        fetch_results({**d, "results": d["results"][:1]}, tmp_path / "y", progress=False)
    assert not (tmp_path / "y").exists() or not any((tmp_path / "y").iterdir())


def test_an_empty_json_lines_body_is_a_file_of_no_records(fake: Any, tmp_path: Path) -> None:
    d = fake.add_download(_download("83", 1, fmt="JSON"))
    fake.inject("/s3/*", status=200, body=b"", content_type="application/json")
    m = fetch_results(d, tmp_path, progress=False)
    assert m["status"].astype(str).tolist() == ["downloaded"]
    assert (tmp_path / "83_0.txt").read_bytes() == b""
    assert len(read_results(tmp_path / "83_0.txt")) == 0


def test_the_manifest_tells_present_from_skipped(fake: Any, tmp_path: Path) -> None:
    done = fake.add_download(_download("91", 1))
    running = {**_download("92", 0), "status": "running"}
    empty = {**_download("93", 0), "results": []}
    fetch_results(done, tmp_path, progress=False)
    m = fetch_results([done, running, empty], tmp_path, progress=False)
    assert m["status"].astype(str).tolist() == ["present", "skipped", "skipped"]
    assert m["error"].tolist()[1:] == ["status is 'running'", "completed without result files"]
    assert list(m["status"].cat.categories) == ["downloaded", "present", "skipped", "failed"]


# --- interrupted, full disk ------------------------------------------------------------------

FETCH_IN_CHILD = """
import signal, sys, json
# Ctrl-C as in a terminal, whatever this process inherited: a command started in the
# background by a shell without job control ignores SIGINT (and a CI job may be one).
signal.signal(signal.SIGINT, signal.default_int_handler)
from dfkit import fetch_results
downloads = json.loads(sys.argv[1])
print("fetching", flush=True)
fetch_results(downloads, sys.argv[2], progress=False, workers=2)
"""


def test_ctrl_c_stops_within_a_second_with_requests_in_flight(fake: Any, tmp_path: Path) -> None:
    d = fake.add_download(_download("95", 3))
    fake.inject("/s3/*", status=None, delay=30, times=3)  # every link hangs before answering
    dest = tmp_path / "data"
    child = subprocess.Popen(
        [sys.executable, "-c", FETCH_IN_CHILD, json.dumps([d]), str(dest)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "fetching\n"
        deadline = time.monotonic() + 10
        while len(fake.requests_to("/s3/*")) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(fake.requests_to("/s3/*")) == 2, "two downloads in flight"
        start = time.monotonic()
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=10)
        took = time.monotonic() - start
    finally:
        child.kill()
        child.wait()
    assert "KeyboardInterrupt" in err
    assert took < 2.5, f"took {took:.1f} s to stop"  # a loaded machine: the goal is 1 s
    assert list(dest.iterdir()) == []  # no partial file, under any name


def test_a_full_disk_stops_the_fetch_and_names_the_file(fake: Any, small_disk: Path) -> None:
    d = fake.add_download(_download("96", 3))
    big = b"a,b\n" + b"1,2\n" * 100_000  # 400 KB: more than the disk holds
    fake.inject("/s3/*/96_1.csv", status=None, body=big, content_type="text/csv")
    with pytest.raises(DiskFullError, match=r"no space left on device writing .*96_1\.csv") as e:
        fetch_results(d, small_disk, progress=False, workers=1)
    assert isinstance(e.value, OSError) and e.value.errno == errno.ENOSPC
    assert e.value.filename == str(small_disk / "96_1.csv")
    assert sorted(p.name for p in small_disk.iterdir()) == ["96_0.csv"]  # nothing partial


def test_a_killed_runs_partial_files_are_swept_when_stale(fake: Any, tmp_path: Path) -> None:
    d = fake.add_download(_download("97", 1))
    stale = tmp_path / ".97_0.csv.0123456789ab.tmp"  # what SIGKILL mid-download leaves
    live = tmp_path / ".97_1.csv.abcdef012345.tmp"  # another process's download in progress
    for p in (stale, live):
        p.write_text("a,b\n1,")
    os.utime(stale, (time.time() - 2 * 3600,) * 2)
    m = fetch_results(d, tmp_path, progress=False)
    assert m["status"].astype(str).tolist() == ["downloaded"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "97_0.csv"]


# --- straight to object storage (a real S3 API: moto's server on 127.0.0.1) -----------------


def _objects(s3: dict[str, Any], prefix: str) -> dict[str, int]:
    import s3fs

    fs = s3fs.S3FileSystem(**s3)
    fs.invalidate_cache()
    found: dict[str, Any] = fs.find(f"results/{prefix}", detail=True)
    return {k.rsplit("/", 1)[-1]: int(v["size"]) for k, v in found.items()}


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The local folder fetch_results spools files to before uploading them (checked empty)."""
    import tempfile

    where = tmp_path / "spool"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


def test_fetch_to_s3_writes_resumes_and_sends_no_token(
    fake: Any, s3: dict[str, Any], spool: Path
) -> None:
    d = fake.add_download(_download("41", 3))
    url = "s3://results/fetched/41/"
    with Client(fake.token, base_url=fake.url) as client:
        m = fetch_results(d, url, storage_options=s3, client=client, progress=False)
    assert m["status"].astype(str).tolist() == ["downloaded"] * 3
    assert m["path"].tolist() == [f"s3://results/fetched/41/41_{k}.csv" for k in range(3)]
    objects = _objects(s3, "fetched/41")
    assert objects == {f"41_{k}.csv": len(fake.result_body("41", k)) for k in range(3)}
    assert m["bytes"].tolist() == [objects[f"41_{k}.csv"] for k in range(3)]
    assert list(spool.iterdir()) == []
    assert all("Authorization" not in r.headers for r in fake.requests_to("/s3/*"))
    # What was stored is what was sent, and the Dask engine reads it back from there.
    import s3fs

    assert s3fs.S3FileSystem(**s3).cat_file("results/fetched/41/41_1.csv") == fake.result_body(
        "41", 1
    )

    # A rerun lists the prefix once and fetches nothing; overwrite=True fetches all again.
    before = len(fake.requests_to("/s3/*"))
    again = fetch_results(d, url.rstrip("/"), storage_options=s3, progress=False)
    assert again["status"].astype(str).tolist() == ["present"] * 3
    assert again["bytes"].tolist() == m["bytes"].tolist()
    assert len(fake.requests_to("/s3/*")) == before
    fetch_results(d, url, storage_options=s3, overwrite=True, progress=False)
    assert len(fake.requests_to("/s3/*")) == before + 3


def test_fetch_to_s3_never_shows_a_partial_or_unchecked_object(
    fake: Any, s3: dict[str, Any], spool: Path
) -> None:
    d = fake.add_download(_download("42", 5))
    fake.inject("/s3/*/42_0.csv", status=None, truncate=True)  # hangs up mid-body
    fake.inject("/s3/*/42_1.csv", status=None, body="<html>Sign in</html>", content_type="text/csv")
    big = b"a,b\n" + b"1,2\n" * 5_000
    fake.inject("/s3/*/42_2.csv", status=None, body=big, content_type="text/csv")  # too big
    fake.inject("/s3/*/42_3.csv", status=None, delay=3)  # past its deadline
    url = "s3://results/hostile/"
    with pytest.raises(ResultFetchError, match="4 of 5 result files failed") as info:
        fetch_results(
            d,
            url,
            storage_options=s3,
            progress=False,
            max_file_bytes=10_000,
            file_deadline=1.0,
            workers=5,
        )
    m = info.value.manifest
    assert m["status"].astype(str).tolist() == ["failed"] * 4 + ["downloaded"]
    errors = m["error"].tolist()
    assert "connection closed after" in errors[0]
    assert "HTML or XML" in errors[1]
    assert "max_file_bytes=10,000" in errors[2]
    assert "deadline passed" in errors[3]
    assert _objects(s3, "hostile") == {"42_4.csv": len(fake.result_body("42", 4))}
    assert list(spool.iterdir()) == []
    # The rerun fetches only what is missing.
    m = fetch_results(d, url, storage_options=s3, progress=False)
    assert m["status"].astype(str).tolist() == ["downloaded"] * 4 + ["present"]
    assert sorted(_objects(s3, "hostile")) == [f"42_{k}.csv" for k in range(5)]


def test_fetch_to_s3_sends_the_storage_host_neither_token_nor_password(
    s3: dict[str, Any], s3_wiretap: Wiretap, spool: Path
) -> None:
    password = "pa55-word-never-on-s3"
    with FakeDatafiniti(email="me@example.com", password=password) as fake:
        d = fake.add_download(_download("45", 2))
        start = len(s3_wiretap.sent)
        with Client.login("me@example.com", password, base_url=fake.url) as client:
            m = fetch_results(d, "s3://results/tapped/", storage_options=s3, client=client)
        token = fake.token
    assert m["status"].astype(str).tolist() == ["downloaded"] * 2
    # Read off the wire between dfkit and the store, not from what any library reports.
    sent = bytes(s3_wiretap.sent[start:])
    assert b"PUT /results/tapped/45_1.csv" in sent
    for secret in (token, password, "Bearer"):
        assert secret.encode() not in sent, secret


def test_fetch_to_a_missing_bucket_is_refused_before_any_download(
    fake: Any, s3: dict[str, Any], spool: Path
) -> None:
    from dfkit import ExportError

    d = fake.add_download(_download("43", 1))
    with pytest.raises(ExportError) as raised:
        fetch_results(
            d, "s3://no-such-bucket/x/", storage_options=s3, progress=False, errors="ignore"
        )
    assert str(raised.value).startswith("s3://no-such-bucket/x/: no such bucket 'no-such-bucket'")
    assert s3["secret"] not in str(raised.value)
    assert fake.requests_to("/s3/*") == []  # nothing was fetched for nowhere to go
    assert list(spool.iterdir()) == []


def test_fetch_to_s3_store_errors_name_the_key_not_the_secret(
    fake: Any, s3: dict[str, Any], spool: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dfkit.fetch

    def refused(fs: Any, local: Any, path: str) -> None:
        raise PermissionError(f"Access Denied for key {s3['key']} secret {s3['secret']}")

    monkeypatch.setattr(dfkit.fetch, "upload", refused)
    d = fake.add_download(_download("43", 1))
    m = fetch_results(
        d, "s3://results/denied/", storage_options=s3, progress=False, errors="ignore"
    )
    assert m["status"].astype(str).tolist() == ["failed"]
    assert m["error"][0].startswith("storing s3://results/denied/43_0.csv failed: PermissionError")
    assert s3["secret"] not in m["error"][0]
    assert list(spool.iterdir()) == []


def test_fetch_to_a_url_needs_fsspec_and_storage_options_need_a_url(
    fake: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dfkit import MissingDependencyError

    d = fake.add_download(_download("44", 1))
    with pytest.raises(ArgumentError, match="storage_options is for a dest URL"):
        fetch_results(d, tmp_path, storage_options={"anon": True})
    m = fetch_results(d, (tmp_path / "f").as_uri(), progress=False)  # file:// is local
    assert m["path"].tolist() == [str(tmp_path / "f" / "44_0.csv")]
    assert (tmp_path / "f" / "44_0.csv").read_bytes() == fake.result_body("44", 0)
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(MissingDependencyError, match=r"needs fsspec .*pip install 'dfkit\[dask\]'"):
        fetch_results(d, "s3://results/x/")


def test_a_csv_body_ending_inside_quotes_is_not_stored_in_s3(
    fake: Any, s3: dict[str, Any], spool: Path
) -> None:
    d = fake.add_download(_download("65", 2))
    fake.inject("/s3/*/65_1.*", status=None, body=b'id,text\n1,a\n2,"hel', content_type="text/csv")
    m = fetch_results(
        d, "s3://results/unclosed-quote/", storage_options=s3, progress=False, errors="ignore"
    )
    assert m["status"].astype(str).tolist() == ["downloaded", "failed"]
    assert "the body ends inside a quoted value (opened on line 3)" in m["error"][1]
    assert _objects(s3, "unclosed-quote") == {"65_0.csv": len(fake.result_body("65", 0))}
    assert list(spool.iterdir()) == []


def test_a_full_spool_disk_names_the_spool_folder_not_only_the_url(s3: dict[str, Any]) -> None:
    import tempfile

    from dfkit.fetch import _Folder

    where = _Folder("s3://results/spool/", s3).written_at("1_0.csv")
    assert tempfile.gettempdir() in where and "s3://results/spool/1_0.csv" in where
