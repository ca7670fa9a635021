"""The one schema of a downloads frame: every column's name, pandas dtype, Arrow type and meaning.

Everything that builds, writes, reads, documents or tests a downloads frame reads these
definitions; no other module spells a column's dtype.

>>> [c.name for c in columns("download")][:5]
['id', 'status', 'num_records', 'created_at', 'num_results']
>>> dtype("num_records")
Int64Dtype()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from dfkit.errors import ArgumentError
from dfkit.vocabulary import DATA_TYPE_ENDPOINTS, DATA_TYPES, STATUSES

# STATUSES (``running`` and ``started`` read as ``in_progress``) and DATA_TYPES are categories:
# unknown values are appended in alphabetical order.

__all__ = [
    "COLUMNS",
    "COLUMN_BY_NAME",
    "CORE_COLUMNS",
    "DATA_TYPES",
    "DATA_TYPE_ENDPOINTS",
    "FORMATS",
    "ROW_LABELS",
    "STATUSES",
    "STRING",
    "TIMESTAMP",
    "Column",
    "Per",
    "arrow_schema",
    "category_dtype",
    "column",
    "columns",
    "dtype",
    "empty_frame",
    "frame_per",
    "schema_markdown",
]

#: Which rows a downloads frame has: ``"download"`` (the default everywhere: one row per
#: download, so sums count each download once) or ``"result"`` (the file-level table: one row
#: per result file, the download's columns repeated on each; a download without files keeps
#: one row).
Per = Literal["result", "download"]
#: What the rows of each kind of frame are, in the words messages and labels use.
ROW_LABELS: dict[str, str] = {
    "download": "one row per download",
    "result": "one row per result file (downloads without files keep one row)",
}

#: Known ``format`` values (lower-cased); unknown ones are appended in alphabetical order.
FORMATS: tuple[str, ...] = ("csv", "json")

#: Strings are Arrow-backed with ``pd.NA`` for missing values, on pandas 2.2 and 3 alike.
STRING = pd.StringDtype("pyarrow")
TIMESTAMP = pd.DatetimeTZDtype("us", "UTC")


@dataclass(frozen=True)
class Column:
    """One column of a downloads frame."""

    name: str
    #: pandas dtype; for categories, the dtype with only the known categories.
    dtype: Any
    arrow_type: pa.DataType
    description: str
    #: Which frames carry it: ``"both"``, ``"result"`` or ``"download"`` (see ``Per``).
    per: Literal["both", "result", "download"] = "both"
    #: Optional columns exist only when some input record carries their field.
    optional: bool = False
    #: Where the value comes from in a download object (in order of precedence).
    source: tuple[str, ...] = ()
    #: A string column that also takes integers from the API (written as their digits).
    integers_as_text: bool = False

    @property
    def is_category(self) -> bool:
        return isinstance(self.dtype, pd.CategoricalDtype)

    @cached_property
    def known_categories(self) -> tuple[str, ...]:
        if not self.is_category:
            return ()
        return tuple(str(c) for c in self.dtype.categories)


def _cat(values: Sequence[str]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(list(values), ordered=False)


#: Every column, in frame order: the core columns first, then the optional ones.
COLUMNS: tuple[Column, ...] = (
    Column(
        "id",
        STRING,
        pa.string(),
        "Download id (integer ids become strings).",
        source=("id", "_id"),
        integers_as_text=True,
    ),
    Column(
        "status",
        _cat(STATUSES),
        pa.string(),
        "queued, in_progress (running, started), completed or cancelled; unknown ones appended.",
        source=("status",),
    ),
    Column(
        "num_records", pd.Int64Dtype(), pa.int64(), "Records requested.", source=("num_records",)
    ),
    Column(
        "created_at",
        TIMESTAMP,
        pa.timestamp("us", tz="UTC"),
        "When the download started, in UTC.",
        source=("created_at", "date_started"),
    ),
    Column(
        "result_index",
        pd.Int64Dtype(),
        pa.int64(),
        "0-based position of the file in results; missing for a download without results.",
        per="result",
    ),
    Column(
        "url",
        STRING,
        pa.string(),
        "Result file link (pre-signed; expires).",
        per="result",
        source=("results",),
    ),
    Column(
        "num_results",
        pd.api.types.pandas_dtype("int64"),
        pa.int64(),
        "Number of result files.",
        per="download",
    ),
    Column(
        "updated_at",
        TIMESTAMP,
        pa.timestamp("us", tz="UTC"),
        "When the download last changed, in UTC.",
        optional=True,
        source=("updated_at", "date_updated"),
    ),
    Column(
        "num_downloaded",
        pd.Int64Dtype(),
        pa.int64(),
        "Records delivered so far.",
        optional=True,
        source=("num_downloaded",),
    ),
    Column(
        "data_type",
        _cat(DATA_TYPES),
        pa.string(),
        "business, product, property or people; unknown values appended.",
        optional=True,
        source=("data_type",),
    ),
    Column(
        "format",
        _cat(FORMATS),
        pa.string(),
        "csv or json (lower-cased); unknown values appended.",
        optional=True,
        source=("format",),
    ),
    Column(
        "total_cost",
        pd.Float64Dtype(),
        pa.float64(),
        "Credits the download cost.",
        optional=True,
        source=("total_cost",),
    ),
    Column(
        "query",
        STRING,
        pa.string(),
        "The search query the download ran.",
        optional=True,
        source=("query",),
    ),
    Column(
        "user_id",
        STRING,
        pa.string(),
        "Owning user id (integer ids become strings).",
        optional=True,
        source=("user_id", "user"),
        integers_as_text=True,
    ),
)

#: Each column by name: the one name-to-column lookup (read-only).
COLUMN_BY_NAME: Mapping[str, Column] = MappingProxyType({c.name: c for c in COLUMNS})
#: The columns every downloads frame has, whichever rows it has.
CORE_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.per == "both" and not c.optional)


def column(name: str) -> Column:
    """Return the definition of the column called ``name``.

    >>> column("url").per
    'result'
    """
    try:
        return COLUMN_BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a downloads-frame column") from None


def dtype(name: str) -> Any:
    """Return the pandas dtype of column ``name`` (categories: the known ones only).

    >>> dtype("created_at")
    datetime64[us, UTC]
    """
    return column(name).dtype


def category_dtype(name: str, extra: Iterable[str] = ()) -> pd.CategoricalDtype:
    """Return the categorical dtype of ``name`` with ``extra`` values appended alphabetically.

    >>> list(category_dtype("status", ["failed"]).categories)
    ['queued', 'in_progress', 'completed', 'cancelled', 'failed']
    """
    known = column(name).known_categories
    unknown = sorted(set(extra) - set(known))
    return _cat([*known, *unknown])


def columns(per: Per, optional: Iterable[str] | None = None) -> list[Column]:
    """Return the columns of a ``per`` frame, in order, with the ``optional`` ones named.

    ``optional=None`` includes every optional column.

    >>> [c.name for c in columns("result", optional=["total_cost"])]
    ['id', 'status', 'num_records', 'created_at', 'result_index', 'url', 'total_cost']
    """
    if per not in ("result", "download"):
        raise ArgumentError(f"per must be 'result' or 'download', not {per!r}")
    wanted = None if optional is None else set(optional)
    return [
        c
        for c in COLUMNS
        if c.per in ("both", per) and (not c.optional or wanted is None or c.name in wanted)
    ]


def frame_per(df: pd.DataFrame) -> Per | None:
    """Return which kind of downloads frame ``df`` is, from its columns (None: neither).

    >>> frame_per(empty_frame("download")), frame_per(empty_frame("result"))
    ('download', 'result')
    >>> frame_per(pd.DataFrame()) is None
    True
    """
    if "num_results" in df.columns:
        return "download"
    if "result_index" in df.columns or "url" in df.columns:
        return "result"
    return None


def empty_frame(per: Per = "download") -> pd.DataFrame:
    """Return an empty downloads frame with every core column and its dtype.

    >>> empty_frame("download").dtypes["num_results"]
    dtype('int64')
    """
    frame: pd.DataFrame = pd.DataFrame(
        {c.name: pd.Series([], dtype=c.dtype) for c in columns(per, optional=())},
        index=pd.RangeIndex(0),
    )
    return frame


def arrow_schema(names: Iterable[str]) -> pa.Schema:
    """Return the Arrow schema (warehouse-safe types) for the columns ``names``.

    >>> arrow_schema(["id", "created_at"]).field("created_at").type
    TimestampType(timestamp[us, tz=UTC])
    """
    return pa.schema([pa.field(n, column(n).arrow_type, nullable=True) for n in names])


def _dtype_label(c: Column) -> str:
    if c.is_category:
        return "category"
    if c.dtype == STRING:
        return "string"
    return str(c.dtype)


def schema_markdown() -> str:
    """Return the schema as a Markdown table (the README's copy is generated from this).

    >>> schema_markdown().splitlines()[0]
    '| column | frames | dtype | Arrow / Parquet | from API field | description |'
    """
    lines = [
        "| column | frames | dtype | Arrow / Parquet | from API field | description |",
        "|---|---|---|---|---|---|",
    ]
    for c in COLUMNS:
        frames = {"both": "both", "result": "per result", "download": "per download"}[c.per]
        if c.optional:
            frames += ", optional"
        source = " / ".join(f"`{s}`" for s in c.source) or "derived"
        cells = [f"`{c.name}`", frames, f"`{_dtype_label(c)}`", f"`{c.arrow_type}`", source]
        lines.append("| " + " | ".join([*cells, c.description]) + " |")
    return "\n".join(lines) + "\n"
