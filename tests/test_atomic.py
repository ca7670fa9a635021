"""Atomic writes: complete under the final name, or not there at all."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import dfkit
import dfkit._atomic as atomic
from dfkit import DiskFullError
from dfkit._atomic import atomic_dir, atomic_file, sweep_stale


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


# --- killed midway ---------------------------------------------------------------------------

KILLED_CHILD = """
import os, sys, time, types
from pathlib import Path

# dfkit's modules without its __init__ (pandas and all): the child starts in a blink.
package = types.ModuleType("dfkit")
package.__path__ = [sys.argv[3]]
sys.modules["dfkit"] = package
import dfkit._atomic as atomic

final, point = Path(sys.argv[1]), sys.argv[2]


def pause():
    print("paused", flush=True)
    time.sleep(60)


if point == "between-renames":  # where rename(2) cannot exchange: the two-rename fallback
    atomic._exchange = lambda a, b: False
    real_replace = os.replace

    def replace(src, dst):
        real_replace(src, dst)
        if str(dst).endswith(".old"):
            pause()

    atomic.os.replace = replace
elif point == "after-exchange":
    real_exchange = atomic._exchange

    def exchange(a, b):
        done = real_exchange(a, b)
        pause()
        return done

    atomic._exchange = exchange
elif point == "before-swap":
    real_swap = atomic._swap_in
    atomic._swap_in = lambda tmp, final: (pause(), real_swap(tmp, final))

with atomic.atomic_dir(final) as tmp:
    (tmp / "page.html").write_text("new")
    if point == "mid-write":
        pause()
    (tmp / "data.parquet").write_text("new")
"""


@pytest.mark.parametrize(
    ("point", "survivor"),
    [
        ("mid-write", "old"),
        ("before-swap", "old"),
        ("between-renames", "old"),
        ("after-exchange", "new"),
    ],
)
def test_sigkill_anywhere_leaves_one_whole_tree(tmp_path: Path, point: str, survivor: str) -> None:
    final = tmp_path / "report"
    final.mkdir()
    (final / "page.html").write_text("old")
    (final / "data.parquet").write_text("old")
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CHILD, str(final), point, str(Path(dfkit.__file__).parent)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "paused\n"
    finally:
        child.kill()
        child.wait(timeout=10)
    # What the next run finds, once it has looked at the folder (any write beside it does).
    sweep_stale(tmp_path)
    assert {p.name: p.read_text() for p in final.iterdir()} == {
        "page.html": survivor,
        "data.parquet": survivor,
    }
    with atomic_dir(final) as tmp:
        (tmp / "page.html").write_text("third")
    assert [p.read_text() for p in final.iterdir()] == ["third"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".old")]


def test_stale_temporary_files_of_dfkits_naming_are_swept(tmp_path: Path) -> None:
    def make(name: str, *, age: float, folder: bool = False) -> Path:
        p = tmp_path / name
        if folder:
            p.mkdir()
            (p / "part-0.parquet").write_text("x")
            os.utime(p / "part-0.parquet", (time.time() - age,) * 2)
        else:
            p.write_text("x")
        os.utime(p, (time.time() - age,) * 2)
        return p

    hour = 3600.0
    make(".out.parquet.0123456789ab.tmp", age=2 * hour)  # a killed run's file
    make(".ds.aaaaaaaaaaaa.tmp", age=2 * hour, folder=True)  # and its dataset
    busy = make(".ds.bbbbbbbbbbbb.tmp", age=2 * hour, folder=True)
    (busy / "part-1.parquet").write_text("being written now")
    kept = [
        make(".out.parquet.0123456789ab.tmp.bak", age=2 * hour),  # not dfkit's naming
        make(".out.parquet.0123456789AB.tmp", age=2 * hour),
        make(".out.parquet.01234567.tmp", age=2 * hour),
        make("out.parquet.0123456789ab.tmp", age=2 * hour),
        make(".notes.tmp", age=2 * hour),
        make(".out.parquet.cccccccccccc.tmp", age=60),  # a live writer's
    ]
    link = tmp_path / ".x.dddddddddddd.tmp"
    link.symlink_to(tmp_path / "out.parquet")
    with atomic_file(tmp_path / "out.parquet") as tmp:  # sweeps its own name only
        tmp.write_text("new")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert ".out.parquet.0123456789ab.tmp" not in left and ".ds.aaaaaaaaaaaa.tmp" in left
    removed = sweep_stale(tmp_path)
    assert [p.name for p in removed] == [".ds.aaaaaaaaaaaa.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [busy.name, link.name, "out.parquet", *(p.name for p in kept)]
    )


def test_data_and_names_are_fsynced_before_and_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync " + Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        events.append(f"rename {Path(dst).name}")
        real_replace(src, dst)

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc")
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    real_syncfs = atomic._syncfs
    monkeypatch.setattr(
        atomic, "_syncfs", lambda path: (events.append("syncfs"), real_syncfs(path))[1]
    )
    with atomic_file(tmp_path / "x.parquet") as tmp:
        tmp.write_text("data")
    assert events[0].startswith("fsync .x.parquet.") and events[1:] == [
        "rename x.parquet",
        f"fsync {tmp_path.name}",
    ]
    events.clear()
    with atomic_dir(tmp_path / "ds") as tmp:
        (tmp / "part-0.parquet").write_text("data")
    assert events[-2:] == ["rename ds", f"fsync {tmp_path.name}"]
    # Linux flushes the tree with one syncfs; elsewhere, file by file.
    assert events[:-2] in (["syncfs"], ["fsync part-0.parquet", f"fsync {tmp.name}"])
    if sys.platform.startswith("linux"):
        assert events[:-2] == ["syncfs"]
    events.clear()
    monkeypatch.setattr(atomic, "_syncfs", lambda path: False)
    with atomic_dir(tmp_path / "ds") as tmp:
        (tmp / "part-0.parquet").write_text("data")
    assert events[:2] == ["fsync part-0.parquet", f"fsync {tmp.name}"]


def test_a_full_disk_raises_disk_full_error_and_keeps_the_old(small_disk: Path) -> None:
    final = small_disk / "ds"
    final.mkdir()
    (final / "part-0.parquet").write_text("old")
    full = pytest.raises(DiskFullError, match=r"no space left on device writing .*/ds$")
    with full as e, atomic_dir(final) as tmp:
        (tmp / "part-0.parquet").write_bytes(b"x" * 400_000)
    assert isinstance(e.value, OSError) and e.value.errno == errno.ENOSPC
    assert e.value.filename == str(final)
    full = pytest.raises(DiskFullError, match=r"writing .*/big\.txt$")
    with full, atomic_file(small_disk / "big.txt") as tmp:
        tmp.write_bytes(b"x" * 400_000)
    assert sorted(p.name for p in small_disk.iterdir()) == ["ds"]
    assert (final / "part-0.parquet").read_text() == "old"
