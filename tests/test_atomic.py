"""Atomic writes: complete under the final name, or not there at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dfkit._atomic import atomic_dir, atomic_file


def test_file_appears_complete_with_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_file(tmp_path / "out.txt") as tmp:
            tmp.write_text("data")
            assert not (tmp_path / "out.txt").exists()
    finally:
        os.umask(old)
    final = tmp_path / "out.txt"
    assert final.read_text() == "data"
    assert stat.S_IMODE(final.stat().st_mode) == 0o644  # shareable, like any file the user makes
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_failed_file_write_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    final = tmp_path / "out.txt"
    final.write_text("old")

    def write_half() -> None:
        with atomic_file(final) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_half()
    assert final.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_dir_is_swapped_in_and_the_old_one_removed(tmp_path: Path) -> None:
    final = tmp_path / "ds"
    final.mkdir()
    (final / "old.parquet").write_text("old")
    with atomic_dir(final) as tmp:
        (tmp / "new.parquet").write_text("new")
    assert [p.name for p in final.iterdir()] == ["new.parquet"]
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_failed_dir_write_keeps_the_old_dir(tmp_path: Path) -> None:
    final = tmp_path / "ds"
    final.mkdir()
    (final / "old.parquet").write_text("old")

    def write_half() -> None:
        with atomic_dir(final) as tmp:
            (tmp / "new.parquet").write_text("new")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_half()
    assert [p.name for p in final.iterdir()] == ["old.parquet"]
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]
