"""fetch_results against the fake server: parallel, safe, resumable, with a manifest."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dfkit import (
    Client,
    ResultFetchError,
    downloads_frame,
    fetch_results,
    read_results,
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
