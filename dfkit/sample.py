"""The bundled sample: about 200 realistic downloads in the shape the real API returns.

>>> downloads = sample_downloads()
>>> len(downloads) >= 150, sorted(downloads[0])[:3]
(True, ['_id', 'data_type', 'date_started'])
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import orjson

__all__ = ["sample_downloads", "sample_path"]


def sample_path() -> str:
    """Return the file system path of the bundled ``sample_downloads.json``."""
    return str(files("dfkit") / "data" / "sample_downloads.json")


def sample_downloads() -> list[dict[str, Any]]:
    """Return the bundled sample downloads as a fresh list of dicts (safe to modify)."""
    data = orjson.loads((files("dfkit") / "data" / "sample_downloads.json").read_bytes())
    assert isinstance(data, list)
    return data
