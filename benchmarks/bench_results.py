"""Benchmark: result files (CSV) to Parquet with dfkit, pandas and DuckDB.

Generates realistic Datafiniti-like product result files (10,000 records each, dotted column
names, review text with commas, quotes and newlines, postal codes with leading zeros, GTIN-like
digit strings, ISO timestamps) under ``benchmarks/_data/`` (git-ignored), then converts each
size with three contenders, each in its own subprocess so peak RSS is its own:

- ``dfkit``: ``dfkit.results_to_parquet(dir, out)``
- ``pandas``: ``pd.concat(pd.read_csv(f) for f in files).to_parquet(out)``
- ``duckdb``: ``COPY (SELECT * FROM read_csv(...)) TO out (FORMAT parquet)``
- ``dask-1``, ``dask-2``: ``results_to_parquet(dir, out, engine="dask")`` on a LocalCluster of
  1 or 2 worker processes (started before the clock; needs ``pip install 'dfkit[dask]'``)

Usage::

    python benchmarks/bench_results.py                     # 0.2, 1 and 2 GB
    python benchmarks/bench_results.py --sizes 0.02,0.05   # a quick run
    python benchmarks/bench_results.py --sizes 1 --only dfkit,duckdb

Targets (issue 6): dfkit's peak RSS under 400 MB at 2 GB; throughput within 2x of DuckDB's.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
OUT = HERE / "out"
RECORDS_PER_FILE = 10_000
CONTENDERS = ("dfkit", "pandas", "duckdb", "dask-1", "dask-2")

COLUMNS = [
    "id",
    "dateAdded",
    "dateUpdated",
    "asins",
    "brand",
    "categories",
    "primaryCategories",
    "colors",
    "imageURLs",
    "keys",
    "manufacturer",
    "manufacturerNumber",
    "name",
    "prices.amountMax",
    "prices.amountMin",
    "prices.currency",
    "prices.isSale",
    "prices.merchant",
    "prices.dateSeen",
    "reviews.date",
    "reviews.doRecommend",
    "reviews.numHelpful",
    "reviews.rating",
    "reviews.text",
    "reviews.title",
    "reviews.username",
    "sourceURLs",
    "upc",
    "gtins",
    "postalCode",
    "latitude",
    "longitude",
    "weight",
]
_WORDS = [
    "great",
    "product",
    "works",
    "as",
    "expected",
    "battery",
    "life",
    "screen",
    "sound",
    "quality",
    "price",
    "value",
    "fast",
    "shipping",
    "returned",
    "broken",
    "after",
    "two",
    "weeks",
    "love",
    "it",
    "would",
    "recommend",
    "to",
    "friends",
    "family",
    "the",
    "and",
    "a",
    "of",
    "for",
    "with",
    "not",
    "very",
    "good",
    "bad",
    "ok",
    "excellent",
    "terrible",
    "size",
    "fits",
    "small",
    "large",
]
_BRANDS = ["Apple", "Samsung", "Sony", "LG", "Bose", "Anker", "Logitech", "Dell", "HP", "Acer"]
_CATS = ["Electronics", "Laptops", "Headphones", "Home Audio", "Computers", "TVs", "Cameras"]


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _row(rng: random.Random, n: int, base: datetime) -> list[str]:
    added = base + timedelta(seconds=rng.randrange(200_000_000))
    words = rng.choices(_WORDS, k=rng.randrange(8, 120))
    text = " ".join(words).capitalize() + "."
    if rng.random() < 0.1:
        text += ' He said "meh", then\nleft.'
    price = rng.randrange(100, 200_000) / 100
    brand = rng.choice(_BRANDS)
    return [
        f"AV{n:012d}",
        _iso(added),
        _iso(added + timedelta(days=rng.randrange(900))),
        f"B0{rng.randrange(10**8):08d}",
        brand,
        ",".join(rng.sample(_CATS, 3)),
        "Electronics",
        rng.choice(["Black", "White,Black", "Silver", ""]),
        ",".join(f"https://images.example.com/{rng.randrange(10**9)}.jpg" for _ in range(2)),
        f"{brand.lower()}/{rng.randrange(10**6)}",
        brand,
        f"MN{rng.randrange(10**6)}",
        f"{brand} {rng.choice(_CATS)} {rng.randrange(1000)}",
        f"{price * 1.2:.2f}".rstrip("0").rstrip("."),
        f"{price}",
        "USD",
        rng.choice(["true", "false"]),
        rng.choice(["Walmart.com", "Bestbuy.com", "bhphotovideo.com"]),
        ",".join(_iso(added + timedelta(days=d)) for d in range(rng.randrange(1, 4))),
        _iso(added - timedelta(days=rng.randrange(400))),
        rng.choice(["true", "false", ""]),
        str(rng.randrange(0, 300)),
        str(rng.randrange(1, 6)),
        text,
        " ".join(rng.choices(_WORDS, k=4)).title(),
        f"user{rng.randrange(10**6)}",
        f"https://www.example.com/p/{rng.randrange(10**9)}",
        f"{rng.randrange(10**11, 10**12)}",
        f"{rng.randrange(10**13):014d}",
        f"{rng.randrange(100000):05d}",
        f"{rng.uniform(25, 48):.4f}",
        f"-{rng.uniform(70, 122):.4f}",
        f"{rng.randrange(1, 500) / 10} pounds",
    ]


def generate(size_gb: float, seed: int = 0) -> Path:
    """Return a directory of result files totalling about ``size_gb`` GB (reused if present)."""
    target = int(size_gb * 1e9)
    folder = DATA / f"results_{size_gb:g}GB"
    marker = folder / ".complete"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = random.Random(seed)
    base = datetime(2015, 1, 1, tzinfo=timezone.utc)
    written, n, k = 0, 0, 0
    started = time.perf_counter()
    while written < target:
        path = folder / f"{900000 + k // 50}_{k % 50}.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            for _ in range(RECORDS_PER_FILE):
                w.writerow(_row(rng, n, base))
                n += 1
        written += path.stat().st_size
        k += 1
    marker.write_text(json.dumps({"bytes": written, "files": k, "records": n}))
    print(
        f"generated {written / 1e6:,.0f} MB in {k} files ({n:,} records) "
        f"in {time.perf_counter() - started:.0f} s: {folder}",
        file=sys.stderr,
    )
    return folder


def _input_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.csv"))


def run_one(contender: str, folder: Path, out: Path) -> dict[str, float]:
    """Convert ``folder`` with ``contender`` in this process; return seconds and peak RSS."""
    started = time.perf_counter()
    if contender == "dfkit":
        from dfkit.results import results_to_parquet

        results_to_parquet(folder, out)
    elif contender == "pandas":
        import pandas as pd

        files = sorted(folder.glob("*.csv"))
        pd.concat([pd.read_csv(f) for f in files], ignore_index=True).to_parquet(out)
    elif contender == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute(
            f"COPY (SELECT * FROM read_csv('{folder}/*.csv', union_by_name=true)) "
            f"TO '{out}' (FORMAT parquet, COMPRESSION zstd)"
        )
    elif contender.startswith("dask-"):
        return run_dask(folder, out, workers=int(contender.split("-")[1]))
    else:
        raise SystemExit(f"unknown contender {contender!r}")
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "peak_rss_mb": peak_kb / 1024, "out_mb": _size_mb(out)}


def run_dask(folder: Path, out: Path, *, workers: int) -> dict[str, float]:
    """``results_to_parquet(engine="dask")`` on a LocalCluster of ``workers`` processes.

    The cluster is started before the clock (a cluster is usually there already); peak RSS
    is the largest of this process and of any one worker.
    """
    import logging

    import distributed

    from dfkit.results import results_to_parquet

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
        started = time.perf_counter()
        results_to_parquet(folder, out, engine="dask")
        seconds = time.perf_counter() - started
        worker_rss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    peak_kb = max([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, *worker_rss.values()])
    return {"seconds": seconds, "peak_rss_mb": peak_kb / 1024, "out_mb": _size_mb(out)}


def _size_mb(out: Path) -> float:
    """Size of a Parquet file, or of a dataset directory's files, in MB."""
    files = [out] if out.is_file() else [p for p in out.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def _remove(out: Path) -> None:
    if out.is_dir():
        shutil.rmtree(out)
    else:
        out.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.2,1,2", help="comma-separated sizes in GB")
    parser.add_argument("--only", default=",".join(CONTENDERS), help="contenders to run")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.run:  # child process: one contender, one size
        print(json.dumps(run_one(args.run, Path(args.folder), Path(args.out))))
        return

    contenders = [c for c in args.only.split(",") if c]
    rows = []
    for size in (float(s) for s in args.sizes.split(",")):
        folder = generate(size)
        mb = _input_bytes(folder) / 1e6
        for contender in contenders:
            OUT.mkdir(parents=True, exist_ok=True)
            out = OUT / f"{contender}_{size:g}GB.parquet"
            _remove(out)
            cmd = [sys.executable, __file__, "--run", contender, "--folder", str(folder)]
            done = subprocess.run(
                [*cmd, "--out", str(out)], capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                print(f"{contender} {size:g} GB failed:\n{done.stderr[-2000:]}", file=sys.stderr)
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append({"size_gb": size, "input_mb": mb, "contender": contender, **result})
            _remove(out)
            print(
                f"  {contender:7s} {size:g} GB: {result['seconds']:.1f} s, "
                f"peak RSS {result['peak_rss_mb']:.0f} MB",
                file=sys.stderr,
            )
    _print_table(rows)


def _print_table(rows: list[dict[str, float | str]]) -> None:
    duck = {r["size_gb"]: r for r in rows if r["contender"] == "duckdb"}
    header = (
        f"{'size':>6} {'input MB':>9} {'contender':<9} {'seconds':>8} {'MB/s':>7} "
        f"{'peak RSS MB':>12} {'out MB':>7} {'time vs duckdb':>15} {'RSS vs duckdb':>14}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        secs, mb, rss = float(r["seconds"]), float(r["input_mb"]), float(r["peak_rss_mb"])
        d = duck.get(r["size_gb"])
        t_ratio = f"{secs / float(d['seconds']):.2f}x" if d else "-"
        m_ratio = f"{rss / float(d['peak_rss_mb']):.2f}x" if d else "-"
        print(
            f"{r['size_gb']:>5g}G {mb:>9,.0f} {r['contender']!s:<9} {secs:>8.1f} "
            f"{mb / secs:>7.1f} {rss:>12,.0f} {float(r['out_mb']):>7,.0f} "
            f"{t_ratio:>15} {m_ratio:>14}"
        )


if __name__ == "__main__":
    main()
