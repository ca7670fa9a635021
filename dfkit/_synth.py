"""Realistic synthetic download objects, in the shape the real API returns.

Used by ``scripts/make_sample.py`` to make the bundled sample (``dfkit/data``).
Deterministic for a given seed.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["synthetic_downloads"]

_QUERIES = {
    "product": [
        'brand:Apple AND categories:"laptops"',
        "categories:shoes AND prices.amountMax:>100",
        'name:"coffee maker" AND reviews:*',
        "upc:* AND brand:Samsung",
        'categories:"pet supplies" AND dateUpdated:[2025-01-01 TO *]',
    ],
    "business": [
        "categories:restaurant AND province:TX",
        'city:"San Francisco" AND categories:hotels',
        "country:US AND categories:(dentist OR orthodontist)",
        "categories:coffee AND reviews.rating:>4",
    ],
    "property": [
        "country:US AND province:FL AND propertyType:Condo",
        'city:Austin AND mostRecentStatus:"For Sale"',
        "numBedroom:>3 AND postalCode:787*",
    ],
    "people": [
        'jobTitle:"data scientist" AND country:US',
        "businessName:* AND province:NY",
    ],
}
_DATA_TYPE_WEIGHTS = {"product": 0.45, "business": 0.3, "property": 0.2, "people": 0.05}
_RECORDS_PER_FILE = 10_000


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _signed_url(
    user: int, download_id: int, n: int, ext: str, signed: datetime, rng: random.Random
) -> str:
    sig = "".join(rng.choices("0123456789abcdef", k=64))
    return (
        f"https://datafiniti-downloads.s3.amazonaws.com/{user}/{download_id}_{n}.{ext}"
        f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F"
        f"{signed:%Y%m%d}%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date={signed:%Y%m%dT%H%M%SZ}"
        f"&X-Amz-Expires=604800&X-Amz-SignedHeaders=host&X-Amz-Signature={sig}"
    )


def synthetic_downloads(
    n: int,
    *,
    seed: int = 0,
    start: datetime = datetime(2025, 5, 1, tzinfo=timezone.utc),
    end: datetime = datetime(2026, 11, 1, tzinfo=timezone.utc),
    first_id: int = 700_000,
    user: int = 4417,
) -> list[dict[str, Any]]:
    """Return ``n`` download objects spread over ``[start, end)``, oldest first.

    Mostly completed downloads (about 3.5 result files each on average), some cancelled,
    and the most recent ones queued or running, as an account's list looks in practice.

    >>> d = synthetic_downloads(3, seed=1)
    >>> [sorted(x)[:4] for x in d][0]
    ['_id', 'data_type', 'date_started', 'date_updated']
    """
    rng = random.Random(seed)
    span = (end - start).total_seconds()
    starts = sorted(rng.random() * span for _ in range(n))
    out: list[dict[str, Any]] = []
    types = list(_DATA_TYPE_WEIGHTS)
    weights = list(_DATA_TYPE_WEIGHTS.values())
    for i, offset in enumerate(starts):
        started = start + timedelta(seconds=offset)
        download_id = first_id + i * 7 + rng.randrange(7)
        data_type = rng.choices(types, weights)[0]
        fmt = rng.choice(["CSV", "CSV", "JSON", "csv", "json"])
        age = (end - started).total_seconds()
        # Files hold ~10,000 records each: a log-uniform size gives ~3.5 files per download.
        num_records = int(math.exp(rng.uniform(math.log(50), math.log(70_000))))
        if age < 86_400 * 2 and rng.random() < 0.6:
            status = rng.choice(["queued", "running", "running"])
        else:
            r = rng.random()
            status = "cancelled" if r < 0.08 else "completed"
        took = timedelta(seconds=30 + num_records * rng.uniform(0.01, 0.05))
        if status == "completed":
            downloaded = num_records
            ext = "csv" if fmt.lower() == "csv" else "txt"
            signed = started + took
            n_files = math.ceil(num_records / _RECORDS_PER_FILE)
            # A few completed downloads matched fewer records than asked and produced no file.
            if rng.random() < 0.03:
                n_files, downloaded = 0, 0
            results = [_signed_url(user, download_id, k, ext, signed, rng) for k in range(n_files)]
            updated = started + took
        elif status == "cancelled":
            downloaded = int(num_records * rng.random() * 0.5)
            results = []
            updated = started + took * rng.random()
        else:
            downloaded = 0 if status == "queued" else int(num_records * rng.random())
            results = []
            updated = started + timedelta(seconds=rng.uniform(0, 60))
        out.append(
            {
                "id": str(download_id),
                "_id": download_id,
                "user_id": str(user),
                "status": status,
                "data_type": data_type,
                "format": fmt,
                "query": rng.choice(_QUERIES[data_type]),
                "num_records": num_records,
                "num_downloaded": downloaded,
                "total_cost": float(downloaded) if data_type != "property" else downloaded * 2.0,
                "date_started": _iso(started),
                "date_updated": _iso(updated),
                "results": results,
                "is_enrichment_job": False,
            }
        )
    return out
