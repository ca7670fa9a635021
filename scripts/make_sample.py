"""Regenerate dfkit/data/sample_downloads.json (deterministic): python scripts/make_sample.py"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from dfkit._synth import synthetic_downloads

OUT = Path(__file__).resolve().parents[1] / "dfkit" / "data" / "sample_downloads.json"


def main() -> None:
    downloads = synthetic_downloads(200, seed=2026)
    # The newest downloads of a live account are still in flight.
    downloads[-1].update(status="queued", num_downloaded=0, results=[], total_cost=0.0)
    downloads[-2].update(status="running", results=[], total_cost=0.0)
    downloads[-2]["num_downloaded"] = downloads[-2]["num_records"] // 3
    # The API lists the newest first.
    downloads.reverse()
    counts = Counter(d["status"] for d in downloads)
    assert set(counts) == {"queued", "running", "completed", "cancelled"}, counts
    assert sum(len(d["results"]) >= 3 for d in downloads) >= 10
    assert any(d["status"] == "completed" and not d["results"] for d in downloads)
    OUT.write_bytes(orjson.dumps(downloads, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {OUT} ({len(downloads)} downloads, {dict(counts)})")


if __name__ == "__main__":
    main()
