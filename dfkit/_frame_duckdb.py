"""The fast path of ``downloads_frame`` for large JSON input: DuckDB parses, dfkit types.

``orjson.loads`` of a million downloads makes tens of millions of Python objects, and
taking them apart again costs as much once more. DuckDB's JSON reader parses the bytes on
every core straight into columns, with the fields dfkit reads declared up front, so no
Python object is made per record.

This path answers only for input in the shape the API returns: every field of the JSON type
dfkit expects (ids strings or integers, counts non-negative integers, timestamps strings, and
so on). For anything else (a wrong type, an unparseable timestamp, a ``{"records": ...}``
wrapper, invalid JSON, an optional field that may be present but always null) it returns
None, and ``downloads_frame`` takes its record-by-record path, which accepts the lenient
forms (``"42"``, ``{"url": ...}``) and reports every problem exactly. Both paths give the
same frame: ``tests/test_frame_duckdb.py`` checks it on generated input.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dfkit.frame import (
    _STATUS_ALIASES,
    _assemble,
    _categorical,
    _category_codes,
    _label,
    _parse_timestamps,
    _status_notes,
)
from dfkit.schema import Per

__all__ = ["read"]

_FIELDS = (
    "id", "status", "num_records", "created_at", "date_started", "results", "updated_at",
    "date_updated", "num_downloaded", "data_type", "format", "total_cost", "query", "user_id",
    "user",
)  # fmt: skip


def _typed(expr: str, *json_types: str, value: str | None = None) -> tuple[str, str]:
    """(value, check): ``expr`` is SQL NULL (absent or null) or of one of ``json_types``."""
    kinds = ", ".join(f"'{t}'" for t in json_types)
    return value or f"({expr}->>'$')", f"({expr} IS NULL OR json_type({expr}) IN ({kinds}))"


def _count(field: str) -> tuple[str, str]:
    """A count: a JSON integer from 0 to the int64 maximum (a string or float goes exact)."""
    value, check = _typed(field, "UBIGINT", value=f"TRY_CAST({field} AS BIGINT)")
    return value, f"({check} AND ({field} IS NULL OR {value} IS NOT NULL))"


# ``results`` is read as a list of strings, which DuckDB parses fastest; it also turns 5, true
# or {"url": ...} into strings, so an element that reads like one of those (as no signed link
# does) sends the input to the exact path, which tells a JSON 5 from a string "5".
_NOT_A_LINK = (
    "u IS NULL OR u = '' OR regexp_full_match(u, '-?[0-9][-+.0-9eE]*|true|false|[\\[{].*')"
)


def _results_ok() -> str:
    import duckdb

    # DuckDB 1.3 introduced ``lambda u: ...``; 2.0 refuses the older ``u -> ...``.
    version = tuple(int(part) for part in duckdb.__version__.split(".")[:2])
    lam = f"lambda u: {_NOT_A_LINK}" if version >= (1, 3) else f"u -> {_NOT_A_LINK}"
    return f"(results IS NULL OR len(list_filter(results, {lam})) = 0)"


_COST = "TRY_CAST(total_cost AS DOUBLE)"
_COST_OK = (
    "(total_cost IS NULL OR (json_type(total_cost) IN ('UBIGINT', 'BIGINT', 'DOUBLE')"
    f" AND isfinite({_COST})))"
)

#: Each output column: (SQL value, SQL check that the value has the canonical shape).
_COLUMNS: dict[str, tuple[str, str]] = {
    # ->> is parenthesised: DuckDB 1.1 binds it more loosely than <>.
    "id": (
        "(id->>'$')",
        "(json_type(id) IN ('VARCHAR', 'UBIGINT', 'BIGINT') AND (id->>'$') <> '')",
    ),
    "status": _typed("status", "VARCHAR"),
    "num_records": _count("num_records"),
    "created_at": _typed("COALESCE(created_at, date_started)", "VARCHAR"),
    # One entry per file; a download without results gets one NULL, its row's missing url.
    "urls": ("CASE WHEN len(results) > 0 THEN results ELSE [NULL] END", "true"),
    "n_results": ("COALESCE(len(results), 0)", "true"),
    "updated_at": _typed("COALESCE(updated_at, date_updated)", "VARCHAR"),
    "num_downloaded": _count("num_downloaded"),
    "data_type": _typed("data_type", "VARCHAR"),
    "format": _typed("format", "VARCHAR"),
    "total_cost": (_COST, _COST_OK),
    "query": _typed("query", "VARCHAR"),
    "user_id": _typed('COALESCE(user_id, "user")', "VARCHAR", "UBIGINT", "BIGINT"),
}

#: The JSON keys behind each optional column, for telling "absent" from "always null".
_OPTIONAL_KEYS = {
    "updated_at": ("updated_at", "date_updated"),
    "num_downloaded": ("num_downloaded",),
    "data_type": ("data_type",),
    "format": ("format",),
    "total_cost": ("total_cost",),
    "query": ("query",),
    "user_id": ("user_id", "user"),
}


def _sql(path: str) -> str:
    columns = ", ".join(f"'{f}': '{'VARCHAR[]' if f == 'results' else 'JSON'}'" for f in _FIELDS)
    selected = ", ".join(f'{value} AS "{name}"' for name, (value, _) in _COLUMNS.items())
    ok = " AND ".join([*(check for _, check in _COLUMNS.values()), _results_ok()])
    literal = path.replace("'", "''")
    return (
        f"SELECT {selected}, COALESCE({ok}, false) AS ok FROM read_json('{literal}',"
        f" format = 'array', records = true, columns = {{{columns}}})"
    )


def _scratch_dir(size: int) -> str | None:
    """Memory-backed /dev/shm when it has room (containers often give it only 64 MB)."""
    try:
        if os.access("/dev/shm", os.W_OK) and shutil.disk_usage("/dev/shm").free > 2 * size:
            return "/dev/shm"
    except OSError:
        pass
    return None  # the system's temporary directory


@contextlib.contextmanager
def _as_file(data: bytes | str | os.PathLike[str]) -> Iterator[str]:
    """Yield a path DuckDB can read: the file given, or the bytes written to a scratch file."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        yield os.fspath(data)
        return
    folder = _scratch_dir(len(data))
    with tempfile.NamedTemporaryFile(dir=folder, prefix="dfkit-", suffix=".json") as tmp:
        tmp.write(data)
        tmp.flush()
        yield tmp.name


def _strings(col: pa.ChunkedArray) -> pd.api.extensions.ExtensionArray:
    return pd.arrays.ArrowStringArray(col.cast(pa.large_string()))


def _integers(col: pa.ChunkedArray) -> pd.arrays.IntegerArray:
    mask = col.is_null().to_numpy(zero_copy_only=False)
    return pd.arrays.IntegerArray(col.fill_null(0).to_numpy().astype(np.int64), mask)


def _floats(col: pa.ChunkedArray) -> pd.arrays.FloatingArray:
    mask = col.is_null().to_numpy(zero_copy_only=False)
    return pd.arrays.FloatingArray(col.fill_null(0.0).to_numpy().astype(np.float64), mask)


def _categories(
    col: pa.ChunkedArray, name: str, aliases: dict[str, str] | None = None
) -> tuple[pd.Categorical, dict[str, int]]:
    encoded = pc.dictionary_encode(col.combine_chunks())
    labels = [_label(raw, aliases) for raw in encoded.dictionary.to_pylist()]
    cat_dtype, label_codes, unknown = _category_codes(labels, name)
    indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp)
    codes = np.where(indices >= 0, label_codes[indices] if len(label_codes) else -1, -1)
    return _categorical(codes.astype(np.int16), cat_dtype, unknown)


def _timestamps(col: pa.ChunkedArray) -> pd.arrays.DatetimeArray | None:
    """UTC microseconds, or None when some value does not parse (the exact path reports it)."""
    parsed, failed = _parse_timestamps(col)
    return None if failed.any() else parsed


def _key_in(raw_path: str, keys: tuple[str, ...]) -> bool:
    """Whether any of ``keys`` appears as a JSON string anywhere in the file."""
    needles = [f'"{k}"'.encode() for k in keys]
    with open(raw_path, "rb") as fh:
        tail = b""
        for block in iter(lambda: fh.read(16 * 2**20), b""):
            chunk = tail + block
            if any(n in chunk for n in needles):
                return True
            tail = chunk[-32:]
    return False


def read(data: bytes | str | os.PathLike[str], per: Per) -> tuple[pd.DataFrame, list[str]] | None:
    """Return the frame of JSON ``data`` and its warnings; None: take the exact path."""
    import duckdb

    try:
        with _as_file(data) as path, duckdb.connect() as con:
            return _read(con, path, per)
    except OSError:  # no room for the scratch copy, say: the exact path needs none
        return None


def _read(con: Any, path: str, per: Per) -> tuple[pd.DataFrame, list[str]] | None:
    """:func:`read` on a file, with a DuckDB connection."""
    import duckdb

    try:
        relation = con.sql(_sql(path))
        # DuckDB 2 calls it to_arrow_table(); 1.x arrow().
        to_arrow = getattr(relation, "to_arrow_table", None) or relation.arrow
        table = to_arrow()
    except duckdb.Error:
        return None  # not an array of objects, invalid JSON, ...: the exact path says why
    if table.num_rows and not pc.all(table["ok"]).as_py():
        return None
    cols: dict[str, Any] = {"id": _strings(table["id"])}
    status, unknown = _categories(table["status"], "status", _STATUS_ALIASES)
    cols["status"] = status
    cols["num_records"] = _integers(table["num_records"])
    created = _timestamps(table["created_at"])
    if created is None:
        return None
    cols["created_at"] = created
    optional: dict[str, Any] = {}
    for name, keys in _OPTIONAL_KEYS.items():
        col = table[name]
        if col.null_count == len(col):
            if table.num_rows and _key_in(path, keys):
                return None  # a record may have it with a null: only the exact path knows
            continue  # no record has the key
        if name == "updated_at":
            stamps = _timestamps(col)
            if stamps is None:
                return None
            optional[name] = stamps
        elif name == "num_downloaded":
            optional[name] = _integers(col)
        elif name in ("data_type", "format"):
            optional[name] = _categories(col, name)[0]
        elif name == "total_cost":
            optional[name] = _floats(col)
        else:
            optional[name] = _strings(col)
    lengths = table["n_results"].to_numpy().astype(np.int64)
    urls = _strings(pc.list_flatten(table["urls"])) if per == "result" else None
    return _assemble(per, cols, optional, lengths, urls), _status_notes(unknown)
