"""Commits on object storage (a real S3 API: moto's server on 127.0.0.1) and locations."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from dfkit import ExportError, storage
from dfkit.storage import (
    SUCCESS,
    Staging,
    atomic_fs_dir,
    filesystem_of,
    is_url,
    join,
    sweep_staging,
)


def _fs(s3: dict[str, Any]) -> Any:
    import s3fs

    fs = s3fs.S3FileSystem(**s3)
    fs.invalidate_cache()
    return fs


def _write(fs: Any, folder: str | Staging, names: list[str], body: bytes) -> None:
    path = folder.path if isinstance(folder, Staging) else folder
    for n in names:
        fs.pipe_file(f"{path}/{n}", body)
    if isinstance(folder, Staging):
        folder.wrote(names)


def _tree(fs: Any, prefix: str) -> dict[str, bytes]:
    fs.invalidate_cache()
    return {k[len(prefix) + 1 :]: fs.cat_file(k) for k in fs.find(prefix)}


def test_commit_replaces_the_dataset_with_success_last(
    s3: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = _fs(s3)
    path = "results/commit/records"
    with atomic_fs_dir(fs, path) as staging:
        assert staging.path.startswith("results/commit/.records.")
        assert staging.path.endswith(".tmp")
        _write(
            fs, staging, ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"], b"1"
        )
    first = _tree(fs, path)
    assert sorted(first) == [
        SUCCESS,
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert json.loads(first[SUCCESS])["files"] == sorted(first)[1:]

    seen: list[bool] = []
    real_copy = fs.copy

    def copy(*args: Any, **kwargs: Any) -> Any:
        seen.append(fs.exists(f"{path}/{SUCCESS}"))  # what a reader sees during the commit
        return real_copy(*args, **kwargs)

    monkeypatch.setattr(fs, "copy", copy)  # s3fs caches instances: undo it after
    with atomic_fs_dir(fs, path) as staging:
        _write(fs, staging, ["part-00000.parquet", "part-00001.parquet"], b"2")
    assert seen == [False]
    second = _tree(fs, path)
    assert {k: v for k, v in second.items() if k != SUCCESS} == {
        "part-00000.parquet": b"2",
        "part-00001.parquet": b"2",
    }
    assert SUCCESS in second
    assert fs.ls("results/commit", detail=False) == [path]  # no staging left


def test_a_failure_before_the_commit_leaves_the_dataset(s3: dict[str, Any]) -> None:
    fs = _fs(s3)
    path = "results/failed/records"
    with atomic_fs_dir(fs, path) as staging:
        _write(fs, staging, ["part-00000.parquet"], b"old")
    before = _tree(fs, path)

    def failing_run() -> None:
        with atomic_fs_dir(fs, path) as staging:
            _write(fs, staging, ["part-00000.parquet"], b"new")
            raise RuntimeError("a task failed")

    with pytest.raises(RuntimeError, match="a task failed"):
        failing_run()
    assert _tree(fs, path) == before
    assert fs.ls("results/failed", detail=False) == [path]


def test_a_commit_cut_short_says_half_replaced_and_keeps_the_staging(
    s3: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = _fs(s3)
    path = "results/cut-short/records"
    with atomic_fs_dir(fs, path) as staging:
        _write(fs, staging, ["part-00000.parquet", "part-00001.parquet"], b"old")

    def broken_copy(*args: Any, **kwargs: Any) -> None:
        raise OSError("connection reset")

    monkeypatch.setattr(fs, "copy", broken_copy)

    def commit() -> None:
        with atomic_fs_dir(fs, path) as staging:
            _write(fs, staging, ["part-00000.parquet"], b"new")

    with pytest.raises(ExportError, match=r"half replaced \(no _SUCCESS\).*rerun") as e:
        commit()
    assert SUCCESS not in _tree(fs, path)  # a reader waiting for _SUCCESS does not read it
    kept = [p for p in fs.ls("results/cut-short", detail=False) if p != path]
    assert len(kept) == 1 and kept[0] in str(e.value)
    assert _tree(fs, kept[0]) == {"part-00000.parquet": b"new"}


def test_stale_staging_prefixes_are_swept_and_nothing_else(s3: dict[str, Any]) -> None:
    fs = _fs(s3)
    mine = "results/sweep/.records.0123456789ab.tmp"
    other = "results/sweep/.other.0123456789ab.tmp"
    for folder in (mine, other, "results/sweep/records"):
        _write(fs, folder, ["part-00000.parquet"], b"x")
    assert sweep_staging(fs, "results/sweep/records") == []  # fresh: a live run's
    assert sweep_staging(fs, "results/sweep/records", older_than=-1) == [mine]
    fs.invalidate_cache()
    assert sorted(fs.ls("results/sweep", detail=False)) == [other, "results/sweep/records"]


def test_a_part_lost_to_another_runs_sweep_stops_the_commit(s3: dict[str, Any]) -> None:
    fs = _fs(s3)
    path = "results/lost/records"

    def run() -> None:
        with atomic_fs_dir(fs, path) as mine:
            _write(fs, mine, ["part-00000.parquet"], b"A0")
            fs.rm(mine.path, recursive=True)  # a second run's sweep, say
            _write(fs, mine, ["part-00001.parquet"], b"A1")  # a later part recreates it

    with pytest.raises(ExportError, match=r"part-00000.parquet.*nothing was published"):
        run()
    fs.invalidate_cache()
    assert fs.find("results/lost") == []


def test_a_live_runs_lease_keeps_other_sweeps_off(
    s3: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = _fs(s3)
    path = "results/leased/records"
    monkeypatch.setattr(storage, "LEASE_EVERY", 0.05)
    with atomic_fs_dir(fs, path) as mine:
        lease = f"{mine.path}/{storage.LEASE}"
        first = fs.cat_file(lease)
        for _ in range(100):  # bounded: 5 s at most
            if fs.cat_file(lease) != first:
                break
            time.sleep(0.05)
        assert fs.cat_file(lease) != first  # renewed while the run lives
        _write(fs, mine, ["part-00000.parquet"], b"x")
        assert sweep_staging(fs, path) == []
    assert sorted(_tree(fs, path)) == [SUCCESS, "part-00000.parquet"]


def test_storage_options_secrets_are_masked_from_then_on(s3: dict[str, Any]) -> None:
    from dfkit.redaction import redact
    from dfkit.results_dask import Reading
    from dfkit.storage import filesystem

    options = {**s3, "secret": "another-secret-value-42"}
    reading = Reading(pa.schema([]), None, None, "utf-8", 1.0, options)
    assert options["secret"] not in repr(reading) and s3["key"] not in repr(reading)
    filesystem("s3://results/masked", options)
    assert redact(f"denied for {options['secret']}") == "denied for ***"


def test_locations(tmp_path: Path) -> None:
    pytest.importorskip("fsspec")
    assert is_url("s3://b/k") and not is_url(str(tmp_path))
    assert join("s3://b/k/", "x.csv") == "s3://b/k/x.csv"
    fs, root = filesystem_of(tmp_path.as_uri())
    assert fs is not None and root == str(tmp_path)


def test_an_unusable_store_says_why_not_no_such_bucket(s3: dict[str, Any]) -> None:
    import socket

    from dfkit.storage import check_output, filesystem

    # fsspec's exists() answers False for every failure; the message gives the real reason.
    fs, root = filesystem("s3://results/out", {**s3, "bogus_option": 1})
    with pytest.raises(ExportError, match=r"^s3://results/out: checking the bucket failed: Type"):
        check_output(fs, root, "s3://results/out", dataset=True)
    with socket.socket() as s:  # a port nobody listens on, on this machine only
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    nowhere = {
        **s3,
        "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{closed}", "region_name": "eu-west-1"},
        "config_kwargs": {"retries": {"max_attempts": 1}},
    }
    fs, root = filesystem("s3://results/out", nowhere)
    with pytest.raises(ExportError, match="checking the bucket failed: EndpointConnectionError"):
        check_output(fs, root, "s3://results/out", dataset=True)
    fs, root = filesystem("s3://no-such-bucket/out", s3)
    with pytest.raises(ExportError, match="no such bucket 'no-such-bucket'"):
        check_output(fs, root, "s3://no-such-bucket/out", dataset=True)
