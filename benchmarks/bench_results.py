"""Benchmark: real Datafiniti result files to Parquet (and to pandas), dfkit against DuckDB.

Inputs are the real files in ``../shared/real-data`` (see its ``SOURCES.md``), repeated until
each data set reaches the size asked for, under ``benchmarks/_data/`` (git-ignored):

- ``json``: JSON-lines product records (``electronics_products_299678_1.txt``) and property
  records (``property_search_response_rawdata.json``, one record per line), ~100 MB a file;
- ``csv``: the UTF-8 CSVs (fast food, pizza menus, Amazon reviews, women's shoes), each
  repeated into files of ~100 MB, header once (each copy of the Amazon file, one product's
  reviews, is given its own record id, so that copies are records of their own).

Contenders, each in its own process (peak RSS is its own), interleaved over ``--rounds`` rounds
and reported best-of. Each imports its library (dfkit, DuckDB, pandas) before its clock starts:
the import, a cost a session pays once, is reported apart (``import s``, and the ratio of the
times with it, ``with import``), and so are the CPU seconds of all its threads (``CPU s``),
steadier than the clock on a shared machine:

- ``dfkit_json``  ``results_to_parquet(json_dir, out)``
- ``duckdb_json`` ``COPY (SELECT * FROM read_json('json_dir/*', union_by_name=true)) TO out``
- ``dfkit_csv``   ``results_to_parquet(csv_dir, out)``
- ``duckdb_csv``  ``COPY (SELECT * FROM read_csv('csv_dir/*', union_by_name=true)) TO out``
- ``dfkit_read``  ``read_results(csv_dir)`` (a typed DataFrame)
- ``pandas_read`` ``pd.concat(pd.read_csv(f, engine="pyarrow") for f in files)`` (untyped)
- ``dask-1``, ``dask-2`` ``results_to_parquet(csv_dir, out, engine="dask")`` on a LocalCluster
  of 1 or 2 worker processes (started before the clock; needs ``pip install 'dfkit[dask]'``;
  not run by default: ``--only dfkit_csv,dask-1,dask-2,dask-2-ranges``)
- ``dask-2-ranges`` the same on 2 workers with ``PART_BYTES`` at 16 MB, so each CSV file is
  scanned for where its records start and read as several byte ranges (what a CSV over
  128 MB gets)

Usage::

    python benchmarks/bench_results.py                    # 0.2 GB, then 2 GB (to Parquet)
    python benchmarks/bench_results.py --sizes 0.05       # a quick run
    python benchmarks/bench_results.py --sizes 2 --only dfkit_json,duckdb_json

Targets (issue 12): JSON lines and CSV to Parquet at least as fast as DuckDB; ``read_results``
within 1.5x of ``pd.read_csv(engine="pyarrow")``; peak RSS under 400 MB at 2 GB of input.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
OUT = HERE / "out"
REAL = HERE.parent.parent / "shared" / "real-data"
FILE_BYTES = 100_000_000
CONTENDERS = (
    "dfkit_json",
    "duckdb_json",
    "dfkit_csv",
    "duckdb_csv",
    "dfkit_read",
    "pandas_read",
)
#: The Dask engine (issue 15), measured against ``dfkit_csv`` on the same CSV files.
DASK = ("dask-1", "dask-2", "dask-2-ranges")
#: ``PART_BYTES`` of ``dask-2-ranges``: the files of ~50 to 100 MB are cut into ranges.
RANGE_BYTES = 16 << 20
#: Reading into memory is measured on the small sizes only (it holds everything in RAM).
READ_MAX_GB = 0.5
CSVS = (
    "fast_food_restaurants_FastFoodRestaurants.csv",
    "pizza_menus_8358_1.csv",
    "amazon_reviews_May19_first999_bom.csv",
    "womens_shoes_Jun19_trimmed15cols.csv",
)


def _json_lines() -> list[bytes]:
    product = (REAL / "electronics_products_299678_1.txt").read_bytes().splitlines()
    answer = json.loads((REAL / "property_search_response_rawdata.json").read_bytes())
    prop = [json.dumps(r, ensure_ascii=False).encode() for r in answer["records"]]
    return [line for line in product if line.strip()], prop


def _repeat(path: Path, header: bytes, body: bytes, target: int) -> int:
    # A CSV whose last record is its first (the Amazon file: one product's 999 review rows)
    # would, repeated as is, be one record of the whole file: each copy gets its own id.
    first, last = body.split(b",", 1)[0], body.rstrip(b"\r\n").rsplit(b"\n", 1)[-1]
    same = header.startswith(b"id,") and last.startswith(first + b",")
    with open(path, "wb") as f:
        f.write(header)
        written, k = len(header), 0
        while written < target:
            copy = body.replace(first + b",", first + b"-%d," % k) if same else body
            f.write(copy)
            written += len(copy)
            k += 1
    return written


def generate(kind: str, size_gb: float) -> Path:
    """Return a directory of ``kind`` ("json" or "csv") files totalling about ``size_gb`` GB."""
    folder = DATA / f"{kind}_{size_gb:g}GB"
    marker = folder / ".complete"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    target = int(size_gb * 1e9)
    per_file = min(FILE_BYTES, max(target // 4, 1_000_000))
    sources: list[tuple[bytes, bytes, str]] = []
    if kind == "json":
        for lines in _json_lines():
            sources.append((b"", b"\n".join(lines) + b"\n", "txt"))
    else:
        for name in CSVS:
            raw = (REAL / name).read_bytes().removeprefix(b"\xef\xbb\xbf")
            cut = raw.index(b"\n") + 1
            body = raw[cut:] if raw.endswith(b"\n") else raw[cut:] + b"\r\n"
            sources.append((raw[:cut], body, "csv"))
    written, k = 0, 0
    while written < target:
        header, body, ext = sources[k % len(sources)]
        written += _repeat(folder / f"{800000 + k}_0.{ext}", header, body, per_file)
        k += 1
    marker.write_text(json.dumps({"bytes": written, "files": k}))
    return folder


def _input_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if not p.name.startswith("."))


#: The library each contender imports before its clock starts (``import_seconds`` says how
#: long that took: a fixed cost a session pays once, not part of the conversion's speed).
LIBRARY = {"dfkit": "dfkit", "pandas": "pandas", "duckdb": "duckdb", "dask": "dfkit"}


def run_one(contender: str, folder: Path, out: Path) -> dict[str, float]:
    """Run ``contender`` on ``folder`` in this process; return seconds, import seconds, peak RSS."""
    started = time.perf_counter()
    importlib.import_module(LIBRARY[contender.split("_")[0].split("-")[0]])
    imported, cpu = time.perf_counter(), _cpu_seconds()
    result = _convert(contender, folder, out)
    return {
        "seconds": time.perf_counter() - imported,
        "cpu_seconds": _cpu_seconds() - cpu,
        "import_seconds": imported - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **result,  # the Dask engine's own clock and peak (its workers')
    }


def _cpu_seconds() -> float:
    """CPU time of this process, all threads: on a shared machine, steadier than the clock."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _convert(contender: str, folder: Path, out: Path) -> dict[str, float]:
    if contender.startswith("dfkit_") and contender != "dfkit_read":
        from dfkit import results_to_parquet

        results_to_parquet(folder, out)
    elif contender == "dfkit_read":
        from dfkit import read_results

        read_results(folder)
    elif contender == "pandas_read":
        import pandas as pd

        files = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        pd.concat([pd.read_csv(f, engine="pyarrow") for f in files], ignore_index=True)
    elif contender in DASK:
        ranges = contender.endswith("-ranges")
        return run_dask(
            folder,
            out,
            workers=int(contender.split("-")[1]),
            part_bytes=RANGE_BYTES if ranges else None,
        )
    elif contender.startswith("duckdb_"):
        import duckdb

        reader = "read_json" if contender == "duckdb_json" else "read_csv"
        con = duckdb.connect()
        con.execute("SET preserve_insertion_order = false")
        con.execute(
            f"COPY (SELECT * FROM {reader}('{folder}/*_0.*', union_by_name=true)) "
            f"TO '{out}' (FORMAT parquet, COMPRESSION zstd)"
        )
    else:
        raise SystemExit(f"unknown contender {contender!r}")
    return {}


def run_dask(
    folder: Path, out: Path, *, workers: int, part_bytes: int | None = None
) -> dict[str, float]:
    """``results_to_parquet(engine="dask")`` on a LocalCluster of ``workers`` processes.

    The cluster is started, and dfkit imported on its workers, before the clock (a cluster
    is usually there already); peak RSS is the largest of this process and of any one worker.
    """
    import logging

    import distributed

    from dfkit import results_dask
    from dfkit.results import results_to_parquet

    if part_bytes is not None:
        results_dask.PART_BYTES = part_bytes  # read on the client, handed to the tasks

    with (
        distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # A running cluster has its libraries imported already: not part of the conversion.
        client.run(importlib.import_module, "dfkit.results_dask")
        started = time.perf_counter()
        results_to_parquet(folder, out, engine="dask")
        seconds = time.perf_counter() - started
        worker_rss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    peak_kb = max([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, *worker_rss.values()])
    return {"seconds": seconds, "peak_rss_mb": peak_kb / 1024}


def _remove(out: Path) -> None:
    if out.is_dir():
        shutil.rmtree(out)
    else:
        out.unlink(missing_ok=True)


def _kind(contender: str) -> str:
    return "json" if contender.endswith("_json") else "csv"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="0.2,2", help="comma-separated sizes in GB")
    parser.add_argument("--only", default=",".join(CONTENDERS), help="contenders to run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (best-of)")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.run:  # child process: one contender, one input
        print(json.dumps(run_one(args.run, Path(args.folder), Path(args.out))))
        return
    if not REAL.exists():
        raise SystemExit(f"the real data files are not at {REAL}")

    wanted = [c for c in args.only.split(",") if c]
    best: dict[tuple[float, str], dict[str, float]] = {}
    for size in (float(s) for s in args.sizes.split(",")):
        contenders = [c for c in wanted if size <= READ_MAX_GB or not c.endswith("_read")]
        folders = {k: generate(k, size) for k in {_kind(c) for c in contenders}}
        OUT.mkdir(parents=True, exist_ok=True)
        for _ in range(args.rounds):
            for contender in contenders:
                out = OUT / f"{contender}.parquet"
                _remove(out)
                cmd = [sys.executable, __file__, "--run", contender, "--out", str(out)]
                done = subprocess.run(
                    [*cmd, "--folder", str(folders[_kind(contender)])],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                _remove(out)
                if done.returncode != 0:
                    print(
                        f"{contender} {size:g} GB failed:\n{done.stderr[-2000:]}", file=sys.stderr
                    )
                    continue
                result = json.loads(done.stdout.strip().splitlines()[-1])
                result["input_mb"] = _input_bytes(folders[_kind(contender)]) / 1e6
                key = (size, contender)
                if key not in best or result["seconds"] < best[key]["seconds"]:
                    best[key] = result
                print(
                    f"  {contender:12s} {size:g} GB: {result['seconds']:.2f} s "
                    f"(+{result.get('import_seconds', 0):.2f} s import), "
                    f"peak RSS {result['peak_rss_mb']:.0f} MB",
                    file=sys.stderr,
                )
    _print_table(best)


def _print_table(best: dict[tuple[float, str], dict[str, float]]) -> None:
    rival = {
        "dfkit_json": "duckdb_json",
        "dfkit_csv": "duckdb_csv",
        "dfkit_read": "pandas_read",
        **dict.fromkeys(DASK, "dfkit_csv"),
    }
    header = (
        f"{'size':>6} {'input MB':>9} {'contender':<12} {'seconds':>8} {'MB/s':>7} "
        f"{'peak RSS MB':>12} {'time vs rival':>14} {'import s':>9} {'with import':>12} "
        f"{'CPU s':>6} {'CPU vs rival':>13}"
    )
    print(header)
    print("-" * len(header))
    for (size, contender), r in sorted(
        best.items(), key=lambda kv: (kv[0][0], (*CONTENDERS, *DASK).index(kv[0][1]))
    ):
        secs, mb = r["seconds"], r["input_mb"]
        other = best.get((size, rival.get(contender, "")))
        ratio = f"{secs / other['seconds']:.2f}x" if other else "-"
        imp, cpu = r.get("import_seconds", 0.0), r.get("cpu_seconds", 0.0)
        cpus = f"{cpu / other['cpu_seconds']:.2f}x" if other and other.get("cpu_seconds") else "-"
        both = (
            f"{(secs + imp) / (other['seconds'] + other.get('import_seconds', 0.0)):.2f}x"
            if other
            else "-"
        )
        print(
            f"{size:>5g}G {mb:>9,.0f} {contender:<12} {secs:>8.2f} {mb / secs:>7.1f} "
            f"{r['peak_rss_mb']:>12,.0f} {ratio:>14} {imp:>9.2f} {both:>12} {cpu:>6.2f} {cpus:>13}"
        )


if __name__ == "__main__":
    main()
