"""Commits on object storage (a real S3 API: moto's server on 127.0.0.1) and locations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dfkit import ExportError
from dfkit.storage import SUCCESS, atomic_fs_dir, filesystem_of, is_url, join, sweep_staging


def _fs(s3: dict[str, Any]) -> Any:
    import s3fs

    fs = s3fs.S3FileSystem(**s3)
    fs.invalidate_cache()
    return fs


def _write(fs: Any, folder: str, names: list[str], body: bytes) -> None:
    for n in names:
        fs.pipe_file(f"{folder}/{n}", body)


def _tree(fs: Any, prefix: str) -> dict[str, bytes]:
    fs.invalidate_cache()
    return {k[len(prefix) + 1 :]: fs.cat_file(k) for k in fs.find(prefix)}


def test_commit_replaces_the_dataset_with_success_last(s3: dict[str, Any]) -> None:
    fs = _fs(s3)
    path = "results/commit/records"
    with atomic_fs_dir(fs, path) as staging:
        assert staging.startswith("results/commit/.records.") and staging.endswith(".tmp")
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

    fs.copy = copy
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


def test_a_commit_cut_short_says_half_replaced_and_keeps_the_staging(s3: dict[str, Any]) -> None:
    fs = _fs(s3)
    path = "results/cut/records"
    with atomic_fs_dir(fs, path) as staging:
        _write(fs, staging, ["part-00000.parquet", "part-00001.parquet"], b"old")

    def broken_copy(*args: Any, **kwargs: Any) -> None:
        raise OSError("connection reset")

    fs.copy = broken_copy

    def commit() -> None:
        with atomic_fs_dir(fs, path) as staging:
            _write(fs, staging, ["part-00000.parquet"], b"new")

    with pytest.raises(ExportError, match=r"half replaced \(no _SUCCESS\).*rerun") as e:
        commit()
    assert SUCCESS not in _tree(fs, path)  # a reader waiting for _SUCCESS does not read it
    kept = [p for p in fs.ls("results/cut", detail=False) if p != path]
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


def test_locations(tmp_path: Path) -> None:
    pytest.importorskip("fsspec")
    assert is_url("s3://b/k") and not is_url(str(tmp_path))
    assert join("s3://b/k/", "x.csv") == "s3://b/k/x.csv"
    fs, root = filesystem_of(tmp_path.as_uri())
    assert fs is not None and root == str(tmp_path)
