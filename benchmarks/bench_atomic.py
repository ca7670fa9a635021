"""Benchmark: what making a dataset durable costs in ``atomic_dir`` (fsync per file vs syncfs).

Writes a hive-like tree of small Parquet-sized files (one per partition) under
``benchmarks/_data/`` (git-ignored; the disk a user's data lives on, not a tmpfs), then flushes
it to disk three ways, interleaved, best of ``--repeats``:

- ``none``: no flush (what ``atomic_dir`` did before: a crash could lose the data it renamed)
- ``fsync``: ``fsync`` on every file and folder (the portable fallback)
- ``syncfs``: one ``syncfs`` of the file system (what ``atomic_dir`` does on Linux)

Usage::

    python benchmarks/bench_atomic.py                  # 300 partitions of 10 KB
    python benchmarks/bench_atomic.py --files 50       # a quick run
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import dfkit._atomic as atomic

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data" / "atomic"


def _tree(root: Path, files: int, size: int) -> None:
    for i in range(files):
        folder = root / f"download_id={i}"
        folder.mkdir(parents=True)
        (folder / "part-0.parquet").write_bytes(os.urandom(size))


def _per_file(root: Path) -> None:
    for folder, _dirs, names in os.walk(root):
        for name in names:
            atomic._fsync(Path(folder, name))
        atomic._fsync(Path(folder))


def _syncfs(root: Path) -> None:
    if not atomic._syncfs(root):
        raise SystemExit("syncfs is not available here (Linux only)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--files", type=int, default=300, help="partitions (default 300)")
    parser.add_argument("--size", type=int, default=10_000, help="bytes per file")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    contenders: dict[str, Callable[[Path], None]] = {
        "none": lambda root: None,
        "fsync": _per_file,
        "syncfs": _syncfs,
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    shutil.rmtree(DATA, ignore_errors=True)
    try:
        for rep in range(args.repeats):
            for name, flush in contenders.items():
                root = DATA / f"{name}-{rep}"
                _tree(root, args.files, args.size)
                start = time.perf_counter()
                flush(root)
                times[name].append(time.perf_counter() - start)
    finally:
        shutil.rmtree(DATA, ignore_errors=True)
    best = {name: min(t) for name, t in times.items()}
    print(f"{args.files} files of {args.size:,} bytes, best of {args.repeats}:")
    for name, t in best.items():
        ratio = f"  ({t / best['syncfs']:.0f}x syncfs)" if name == "fsync" else ""
        print(f"  {name:7} {t * 1000:8.1f} ms{ratio}")


if __name__ == "__main__":
    main()
