"""``downloads_frame``: the downloads array as a typed DataFrame, per result file or per download.

The columns are built one at a time straight from the parsed records (no ``json_normalize``):
each field is pulled out with one list comprehension, checked with a cheap whole-column type
test, and converted with a vectorised pandas/Arrow call. Only columns whose values fail the
fast check take the slow path, which inspects each value and records every problem with its
record index, so a bad input costs time only where it is bad.

JSON bytes or files of ``FAST_PATH_BYTES`` or more (about 25,000 downloads) are read by
DuckDB instead (:mod:`dfkit._frame_duckdb`): on inputs that large it is faster and needs
less than half the memory, since no Python object is made per record. It answers only for
input in the API's own shape and otherwise leaves the work to the path above, so both give
the same frame and the same errors.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dfkit.errors import DfkitWarning, SchemaError
from dfkit.schema import STATUSES, Per, category_dtype, column, columns, dtype

if TYPE_CHECKING:
    from dfkit.client import Client

__all__ = ["downloads_frame"]

_INT64_MAX = 2**63 - 1
_INT_STRING = re.compile(r"[+-]?\d+")
_STATUS_ALIASES = {"running": "in_progress", "started": "in_progress", "in progress": "in_progress"}
_NO_RESULT = (None,)
_MAX_LISTED = 25
#: JSON bytes or files at least this large are read by DuckDB (see dfkit._frame_duckdb).
FAST_PATH_BYTES = 32 * 2**20

#: The source field of a column's values: one name for all, or one per record.
Fields = str | Sequence[str]


class _Problems:
    """Collects bad values as (record index, field, value, reason)."""

    def __init__(self) -> None:
        self.rows: list[tuple[int | None, str, Any, str]] = []
        self.skip: set[int] = set()  # records that are not dicts: their fields are not checked

    def add(self, index: int | None, field: str, value: Any, reason: str) -> None:
        if index is None or index not in self.skip:
            self.rows.append((index, field, value, reason))

    def raise_if_any(self, where: str) -> None:
        if not self.rows:
            return
        # By record, then in column order: the order a user reads the input in.
        self.rows.sort(key=lambda row: -1 if row[0] is None else row[0])
        lines = [_describe(*row) for row in self.rows[:_MAX_LISTED]]
        if len(self.rows) > _MAX_LISTED:
            lines.append(f"... and {len(self.rows) - _MAX_LISTED} more (see .problems)")
        noun = "value" if len(self.rows) == 1 else "values"
        message = f"{len(self.rows)} bad {noun} in {where}:\n  " + "\n  ".join(lines)
        problems = pd.DataFrame(
            {
                "index": pd.array([r[0] for r in self.rows], dtype="Int64"),
                "field": pd.array([r[1] for r in self.rows], dtype=dtype("id")),
                "value": pd.Series([r[2] for r in self.rows], dtype="object"),
                "reason": pd.array([r[3] for r in self.rows], dtype=dtype("id")),
            }
        )
        raise SchemaError(message, problems)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(index: int | None, field: str, value: Any, reason: str) -> str:
    where = "data" if index is None else f"records[{index}]"
    if field:
        where += f".{field}" if not field.startswith("[") else field
    return f"{where}: {reason} ({_short(value)})"


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", bool: "boolean", str: "string"}.get(
        type(value), type(value).__name__
    )


# ---------------------------------------------------------------------------- input


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of small objects are made.

    Parsing and building allocate containers that never form cycles; with the collector on,
    every few thousand allocations trigger a scan of all of them, which costs more than
    the parse itself on large inputs. Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse_json(raw: bytes, where: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SchemaError(f"cannot parse {where} as JSON: {exc}") from None


def _large_json(data: Any) -> bool:
    """Whether ``data`` is JSON bytes or a file big enough for the DuckDB path to pay off."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        size = len(data)
    elif isinstance(data, (str, os.PathLike)):
        try:
            size = os.path.getsize(data)
        except OSError:
            return False  # the exact path raises the error
    else:
        return False
    return size >= FAST_PATH_BYTES


def _records(data: Any) -> list[Any]:
    """Return the list of download objects held by ``data`` (list, wrapper dict, path, bytes)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = _parse_json(bytes(data), "the bytes given")
    elif isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        with open(path, "rb") as fh:
            data = _parse_json(fh.read(), path)
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        return cast(list[Any], data["records"])
    if isinstance(data, dict):
        found = f"an object with keys {sorted(data)[:8]}"
        if "records" in data:
            found = f"an object whose 'records' is {_type_name(data['records'])}"
    else:
        found = _type_name(data)
    problems = _Problems()
    problems.add(None, "", found, "expected a list of downloads or an object with a 'records' list")
    problems.raise_if_any("the input")
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------- fields


def _field(records: Sequence[dict[str, Any]], key: str) -> list[Any]:
    return [r.get(key) for r in records]


def _field_or_missing(records: Sequence[dict[str, Any]], key: str) -> list[Any] | None:
    """Return the values of ``key``, or None when no record has the key at all."""
    values = _field(records, key)
    if values.count(None) == len(values) and not any(key in r for r in records):
        return None
    return values


def _coalesce(
    records: Sequence[dict[str, Any]], primary: str, fallback: str, *, optional: bool
) -> tuple[list[Any], Fields] | None:
    """Values of ``primary``, with ``fallback`` where primary is missing or null.

    Returns the values and the field each came from (for error messages); None when
    ``optional`` and no record carries either key.
    """
    n = len(records)
    first = _field(records, primary)
    nulls = first.count(None)
    if nulls == 0 and n:
        return first, primary
    second = _field(records, fallback)
    if nulls == n:
        absent = optional and second.count(None) == n
        if absent and not any(primary in r or fallback in r for r in records):
            return None
        return second, fallback
    merged = [a if a is not None else b for a, b in zip(first, second, strict=True)]
    return merged, [primary if a is not None else fallback for a in first]


def _at(fields: Fields, i: int) -> str:
    return fields if isinstance(fields, str) else fields[i]


def _types(values: list[Any]) -> set[type]:
    return set(map(type, values))


# ---------------------------------------------------------------------------- converters


def _ids(
    records: Sequence[dict[str, Any]], problems: _Problems
) -> pd.api.extensions.ExtensionArray:
    values = _field(records, "id")
    if _types(values) - {str} or "" in values:
        values = [_id(v, records[i], i, problems) for i, v in enumerate(values)]
    return _strings(values)


def _id(value: Any, record: dict[str, Any], i: int, problems: _Problems) -> str | None:
    if type(value) is str and value:
        return value
    if type(value) is int:
        return str(value)
    if value is None or value == "":
        alt = record.get("_id")
        if type(alt) is str and alt:
            return alt
        if type(alt) is int:
            return str(alt)
        if alt is None or alt == "":
            problems.add(i, "id", value, "missing or empty id, and no _id")
        else:
            problems.add(i, "_id", alt, f"expected a string or integer id, got {_type_name(alt)}")
        return None
    problems.add(i, "id", value, f"expected a string or integer id, got {_type_name(value)}")
    return None


def _strings(values: list[Any]) -> pd.api.extensions.ExtensionArray:
    """Return ``values`` (str or None) as an Arrow-backed pandas string array.

    Long ASCII columns (ids, signed URLs) are joined and encoded in one go and handed to
    Arrow as ready-made buffers: ``pa.array`` over a list grows its buffers step by step,
    which on millions of long URLs costs several times more than the whole copy. Short
    columns go straight to ``pa.array``, which is quicker to start.
    """
    n = len(values)
    if n < 20_000:
        return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
    nulls = values.count(None)
    filled = [v if v is not None else "" for v in values] if nulls else values
    text = "".join(filled)
    if not text.isascii():
        return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, filled), dtype=np.int64, count=n), out=offsets[1:])
    bitmap = None
    if nulls:
        valid = np.fromiter((v is not None for v in values), dtype=bool, count=n)
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    array = pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(text.encode("ascii")), bitmap, nulls
    )
    return pd.arrays.ArrowStringArray(array)


def _text(values: list[Any], field: str, problems: _Problems, *, ints_ok: bool) -> list[Any]:
    allowed = {str, type(None), int} if ints_ok else {str, type(None)}
    if _types(values) <= allowed:
        return [str(v) if type(v) is int else v for v in values] if ints_ok else values
    out: list[Any] = []
    for i, v in enumerate(values):
        if v is None or type(v) is str:
            out.append(v)
        elif ints_ok and type(v) is int:
            out.append(str(v))
        else:
            kind = "a string or integer" if ints_ok else "a string"
            problems.add(i, field, v, f"expected {kind}, got {_type_name(v)}")
            out.append(None)
    return out


def _label(raw: str, aliases: dict[str, str] | None) -> str | None:
    """The category a raw label means: trimmed, lower-cased, aliases applied; '' is missing."""
    norm = raw.strip().lower()
    if not norm:
        return None
    return aliases.get(norm, norm) if aliases else norm


def _category_codes(
    labels: Sequence[str | None], name: str
) -> tuple[pd.CategoricalDtype, np.ndarray[Any, np.dtype[np.int16]], list[str]]:
    """Return the dtype for ``labels`` (unknown ones appended), each label's code, the unknowns."""
    known = column(name).known_categories
    unknown = sorted({lab for lab in labels if lab is not None and lab not in known})
    cat_dtype = category_dtype(name, unknown) if unknown else dtype(name)
    position = {c: k for k, c in enumerate([*known, *unknown])}
    codes = np.array([-1 if lab is None else position[lab] for lab in labels], dtype=np.int16)
    return cat_dtype, codes, unknown


def _categorical(
    codes: np.ndarray[Any, np.dtype[np.int16]], cat_dtype: pd.CategoricalDtype, unknown: list[str]
) -> tuple[pd.Categorical, dict[str, int]]:
    counts: dict[str, int] = {}
    if unknown:
        tally = np.bincount(codes[codes >= 0], minlength=len(cat_dtype.categories))
        first = len(cat_dtype.categories) - len(unknown)
        counts = {lab: int(tally[first + k]) for k, lab in enumerate(unknown)}
    return pd.Categorical.from_codes(codes, dtype=cat_dtype, validate=False), counts


def _categories(
    values: list[Any],
    name: str,
    fields: Fields,
    problems: _Problems,
    aliases: dict[str, str] | None = None,
) -> tuple[pd.Categorical, dict[str, int]]:
    """Normalise labels (trim, lower-case, aliases) and code them; unknown ones appended.

    Returns the categorical and the number of downloads for each unknown label.
    """
    try:
        uniques = list(set(values))
    except TypeError:  # a list or object among the labels: replace the unhashable ones
        values = [
            v if isinstance(v, (str, int, float, type(None))) else _Unhashable(v) for v in values
        ]
        uniques = list(set(values))
    bad = {raw for raw in uniques if raw is not None and type(raw) is not str}
    if bad:
        for i, v in enumerate(values):
            if v in bad:
                shown = v.value if isinstance(v, _Unhashable) else v
                problems.add(
                    i, _at(fields, i), shown, f"expected a string, got {_type_name(shown)}"
                )
    labels = [_label(raw, aliases) if type(raw) is str else None for raw in uniques]
    cat_dtype, label_codes, unknown = _category_codes(labels, name)
    code = dict(zip(uniques, label_codes.tolist(), strict=True))
    codes = np.fromiter(map(code.__getitem__, values), dtype=np.int16, count=len(values))
    return _categorical(codes, cat_dtype, unknown)


class _Unhashable:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _int_value(v: Any) -> int:
    """Return ``v`` as a non-negative int64, or raise ValueError with the reason."""
    if type(v) is bool:
        raise ValueError("expected an integer, got a boolean")
    if type(v) is int:
        n = v
    elif type(v) is float:
        if not math.isfinite(v) or not v.is_integer():
            raise ValueError("expected a whole number")
        n = int(v)
    elif type(v) is str:
        text = v.strip()
        if not _INT_STRING.fullmatch(text):
            raise ValueError("expected an integer or an integer string")
        n = int(text)
    else:
        raise ValueError(f"expected an integer, got {_type_name(v)}")
    if n < 0:
        raise ValueError("negative")
    if n > _INT64_MAX:
        raise ValueError("too large for a 64-bit integer")
    return n


def _integers(values: list[Any], field: str, problems: _Problems) -> pd.arrays.IntegerArray:
    n = len(values)
    kinds = _types(values)
    if kinds <= {int}:
        try:
            data = np.fromiter(values, dtype=np.int64, count=n)
        except OverflowError:
            pass
        else:
            if not (data < 0).any():
                return pd.arrays.IntegerArray(data, np.zeros(n, dtype=bool))
    data = np.zeros(n, dtype=np.int64)
    mask = np.ones(n, dtype=bool)
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            data[i] = _int_value(v)
        except ValueError as exc:
            problems.add(i, field, v, str(exc))
        else:
            mask[i] = False
    return pd.arrays.IntegerArray(data, mask)


def _floats(values: list[Any], field: str, problems: _Problems) -> pd.arrays.FloatingArray:
    n = len(values)
    data = np.zeros(n, dtype=np.float64)
    mask = np.ones(n, dtype=bool)
    if _types(values) <= {int, float}:
        data = np.array(values, dtype=np.float64)
        mask = np.zeros(n, dtype=bool)
        if np.isfinite(data).all():
            return pd.arrays.FloatingArray(data, mask)
        data, mask = np.zeros(n, dtype=np.float64), np.ones(n, dtype=bool)
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            if type(v) is bool or not isinstance(v, (int, float, str)):
                raise ValueError
            number = float(v)
        except (ValueError, OverflowError):
            problems.add(i, field, v, "expected a number")
            continue
        if not math.isfinite(number):
            problems.add(i, field, v, "expected a finite number")
            continue
        data[i], mask[i] = number, False
    return pd.arrays.FloatingArray(data, mask)


#: An ISO-8601 time followed by a zone: ``Z``, ``+02:00``, ``-0500`` or ``+02``.
_ZONED = r"[T ]\d{2}(:\d{2}){0,2}([.,]\d+)?\s*(Z|[+-]\d{2}(:?\d{2})?)$"


def _parse_timestamps(
    strings: pa.Array | pa.ChunkedArray,
) -> tuple[pd.arrays.DatetimeArray, np.ndarray[Any, np.dtype[np.bool_]]]:
    """Return ISO-8601 ``strings`` as UTC microseconds, and where a string did not parse.

    The API's own ``...Z`` form goes through Arrow's fast, strict parser (older Arrow releases
    misread other offsets). The rest goes through pandas, which also reads the legacy
    ``2017-11-16 17:46:06.0`` and date-only forms, in two groups: values with an offset, and
    values without one, which are taken as UTC (pandas 2.2, given both in one call, reads the
    zone-less ones in the zone of an earlier value).
    """
    n = len(strings)
    valid = strings.is_valid().to_numpy(zero_copy_only=False)
    if pc.all(pc.ends_with(strings, "Z")).as_py():
        try:
            parsed = strings.cast(pa.timestamp("us", tz="UTC"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        else:
            ticks = parsed.cast(pa.int64()).fill_null(np.iinfo(np.int64).min).to_numpy()
            return _utc(ticks), np.zeros(n, dtype=bool)
    raw = strings.to_numpy(zero_copy_only=False)
    zoned = (
        pc.match_substring_regex(strings, _ZONED).fill_null(False).to_numpy(zero_copy_only=False)
    )
    ticks = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    for group in (zoned, valid & ~zoned):
        if group.any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                coerced = pd.to_datetime(raw[group], format="ISO8601", utc=True, errors="coerce")
            ticks[group] = pd.DatetimeIndex(coerced).as_unit("us").asi8
    result = _utc(ticks)
    return result, np.asarray(result.isna()) & valid


def _utc(ticks: np.ndarray[Any, np.dtype[np.int64]]) -> pd.arrays.DatetimeArray:
    """UTC timestamps from microseconds since the epoch (int64 minimum: missing)."""
    index = pd.DatetimeIndex(ticks.view("M8[us]"), copy=False).tz_localize("UTC")
    return cast(pd.arrays.DatetimeArray, index.array)


def _timestamps(values: list[Any], fields: Fields, problems: _Problems) -> pd.arrays.DatetimeArray:
    if not _types(values) <= {str, type(None)}:
        cleaned = []
        for i, v in enumerate(values):
            if v is None or type(v) is str:
                cleaned.append(v)
            else:
                problems.add(
                    i, _at(fields, i), v, f"expected an ISO-8601 string, got {_type_name(v)}"
                )
                cleaned.append(None)
        values = cleaned
    parsed, failed = _parse_timestamps(pa.array(values, type=pa.string()))
    for k in np.flatnonzero(failed).tolist():
        problems.add(k, _at(fields, k), values[k], "not an ISO-8601 timestamp")
    return parsed


def _result_lists(
    records: Sequence[dict[str, Any]], problems: _Problems
) -> tuple[list[Any], np.ndarray[Any, np.dtype[np.int64]]]:
    """Return each download's results as a list (missing/null/bad -> []) and their lengths."""
    lists = _field(records, "results")
    if not _types(lists) <= {list}:
        fixed: list[Any] = []
        for i, v in enumerate(lists):
            if type(v) is list:
                fixed.append(v)
            else:
                if v is not None:
                    problems.add(i, "results", v, f"expected a list, got {_type_name(v)}")
                fixed.append([])
        lists = fixed
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    return lists, lengths


def _urls(
    lists: list[Any], lengths: np.ndarray[Any, np.dtype[np.int64]], problems: _Problems
) -> pd.api.extensions.ExtensionArray:
    """Flatten the results into one URL per row; a download without results gives one None."""
    flat = [u for lst in lists for u in (lst or _NO_RESULT)]
    empty = int((lengths == 0).sum())
    if not _types(flat) <= {str, type(None)} or flat.count(None) != empty or "" in flat:
        rows = np.maximum(lengths, 1)
        starts = np.cumsum(rows) - rows
        owner = np.repeat(np.arange(len(lists)), rows)
        for k, u in enumerate(flat):
            if type(u) is str and u:
                continue
            if u is None and lengths[owner[k]] == 0:
                continue
            i = int(owner[k])
            where = f"results[{k - starts[i]}]"
            if isinstance(u, dict) and type(u.get("url")) is str and u["url"]:
                flat[k] = u["url"]
                continue
            problems.add(i, where, u, "expected a URL string or an object with a 'url' string")
            flat[k] = None
    return _strings(flat)


# ---------------------------------------------------------------------------- the frame


def _build(records: list[Any], per: Per) -> tuple[pd.DataFrame, list[str]]:
    n = len(records)
    problems = _Problems()
    if not _types(records) <= {dict}:
        for i, r in enumerate(records):
            if type(r) is not dict:
                problems.add(i, "", r, f"expected a download object, got {_type_name(r)}")
                problems.skip.add(i)
        records = [r if type(r) is dict else {} for r in records]

    cols: dict[str, Any] = {}
    cols["id"] = _ids(records, problems)
    status, unknown = _categories(
        _field(records, "status"), "status", "status", problems, _STATUS_ALIASES
    )
    cols["status"] = status
    cols["num_records"] = _integers(_field(records, "num_records"), "num_records", problems)
    created = _coalesce(records, "created_at", "date_started", optional=False)
    assert created is not None
    cols["created_at"] = _timestamps(*created, problems)
    lists, lengths = _result_lists(records, problems)

    optional: dict[str, Any] = {}
    updated = _coalesce(records, "updated_at", "date_updated", optional=True)
    if updated is not None:
        optional["updated_at"] = _timestamps(*updated, problems)
    simple: dict[str, Callable[[list[Any], str], Any]] = {
        "num_downloaded": lambda v, f: _integers(v, f, problems),
        "data_type": lambda v, f: _categories(v, f, f, problems)[0],
        "format": lambda v, f: _categories(v, f, f, problems)[0],
        "total_cost": lambda v, f: _floats(v, f, problems),
        "query": lambda v, f: _strings(_text(v, f, problems, ints_ok=False)),
    }
    for name, convert in simple.items():
        values = _field_or_missing(records, name)
        if values is not None:
            optional[name] = convert(values, name)
    users = _coalesce(records, "user_id", "user", optional=True)
    if users is not None:
        values, _ = users
        optional["user_id"] = _strings(_text(values, "user_id", problems, ints_ok=True))

    urls = _urls(lists, lengths, problems) if per == "result" else None
    problems.raise_if_any(f"{n} downloads")
    return _assemble(per, cols, optional, lengths, urls), _status_notes(unknown)


def _status_notes(unknown: dict[str, int]) -> list[str]:
    return [
        f"unknown status {label!r} on {count} download{'s' if count != 1 else ''}; kept as "
        f"an extra category after {', '.join(STATUSES)}"
        for label, count in unknown.items()
    ]


def _assemble(
    per: Per,
    cols: dict[str, Any],
    optional: dict[str, Any],
    lengths: np.ndarray[Any, np.dtype[np.int64]],
    urls: pd.api.extensions.ExtensionArray | None,
) -> pd.DataFrame:
    """Return the frame from per-download columns; per result, repeat them once per file.

    ``urls`` holds one entry per result file, and one missing value for each download
    without results, in download order.
    """
    if per == "download":
        cols = {**cols, "n_results": lengths, **optional}
    else:
        n = len(lengths)
        rows = np.maximum(lengths, 1)
        if n and (rows != 1).any():
            take = np.repeat(np.arange(n), rows)
            cols = {k: v.take(take) for k, v in cols.items()}
            optional = {k: v.take(take) for k, v in optional.items()}
        total = int(rows.sum())
        starts = np.repeat(np.cumsum(rows) - rows, rows)
        position = np.arange(total, dtype=np.int64) - starts
        cols["result_index"] = pd.arrays.IntegerArray(position, np.repeat(lengths == 0, rows))
        cols["url"] = urls
        cols.update(optional)
    order = [c.name for c in columns(per, optional=optional)]
    frame: pd.DataFrame = pd.DataFrame({name: cols[name] for name in order}, copy=False)
    return frame


def downloads_frame(
    data: Any = None, *, per: Per = "result", client: Client | None = None
) -> pd.DataFrame:
    """Return the downloads as a DataFrame: one row per result file, or per download.

    ``data`` is a list of download objects, an object wrapping them under ``"records"``, a
    path to a JSON file holding either, or JSON ``bytes``. With no ``data`` the live list is
    fetched with ``client`` (default: a ``Client()`` configured from the environment).

    Columns follow :mod:`dfkit.schema`; every bad value is reported in one ``SchemaError``.

    >>> df = downloads_frame([
    ...     {"id": 1, "status": "running", "num_records": "42",
    ...      "date_started": "2025-03-17T20:03:55.926Z", "results": ["https://a/1.csv", "https://a/2.csv"]},
    ...     {"id": "b", "status": "queued", "num_records": 7, "created_at": "2025-03-18 09:00:00"},
    ... ])
    >>> df[["id", "status", "num_records", "result_index"]]
      id       status  num_records  result_index
    0  1  in_progress           42             0
    1  1  in_progress           42             1
    2  b       queued            7          <NA>
    >>> downloads_frame({"records": []}, per="download").dtypes.to_dict()["created_at"]
    datetime64[us, UTC]
    """
    if per not in ("result", "download"):
        raise ValueError(f"per must be 'result' or 'download', not {per!r}")
    if data is None:
        from dfkit.client import Client

        if client is not None:
            data = client.downloads()
        else:
            with Client() as own:
                data = own.downloads()
    elif client is not None:
        raise TypeError("pass either data or client=, not both")
    fast = None
    if _large_json(data):
        from dfkit import _frame_duckdb

        fast = _frame_duckdb.read(data, per)
    if fast is not None:
        frame, notes = fast
    else:
        with _gc_paused():
            frame, notes = _build(_records(data), per)
    for note in notes:
        warnings.warn(note, DfkitWarning, stacklevel=2)
    return frame
