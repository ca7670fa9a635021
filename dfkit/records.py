"""Result records as tables and frames: the rules both engines share.

``dfkit.results`` (this process) and ``dfkit.results_dask`` (a Dask scheduler) read result files
through :mod:`dfkit.resultfiles`; what they then do with the records is stated here once: the
``per=`` (one row per record, or per element of a nested list), the DataFrame a table becomes
(its dtypes, ``dtype=`` overrides that never lose a value), the partition columns, and the row
groups and write options of the Parquet they write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dfkit.catalog import is_records
from dfkit.errors import ArgumentError, ResultFileError
from dfkit.resultfiles import DOWNLOAD_ID, SOURCE_FILE, download_id_of, memory_pool

__all__ = [
    "KEEP_ORDER",
    "ROW_GROUP_BYTES",
    "arrow_to_frame",
    "check_download_ids",
    "check_per",
    "element_schema",
    "partition_columns",
    "to_elements",
]


#: The in-memory size of Arrow data a Parquet writer holds at once (engines like row groups
#: <= ~128 MB); with the input blocks, this bounds the memory ``results_to_parquet`` uses,
#: whatever the input's size. One row group each where one group is held (Dask's tasks); the
#: local writer holds two, one written while the next is gathered, of 3/4 of this each. (At 2
#: GB of the benchmark's CSV, 32 MB against 16 MB: a file of 68 MB against 94 MB and less of
#: the writer's time, about 20 MB more peak memory; JSON lines: 13 MB against 26 MB.)
ROW_GROUP_BYTES = 32 << 20


#: ``pads.write_dataset`` options that keep the rows in input order in every partition:
#: ``preserve_order`` since pyarrow 20, a single writing thread before it.
KEEP_ORDER: dict[str, bool] = (
    {"preserve_order": True} if int(pa.__version__.split(".")[0]) >= 20 else {"use_threads": False}
)


_PANDAS_TYPES: dict[pa.DataType, Any] = {
    pa.string(): pd.StringDtype("pyarrow"),
    pa.large_string(): pd.StringDtype("pyarrow"),
    pa.int64(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def _pandas_type(t: pa.DataType) -> Any:
    if pa.types.is_nested(t):
        return pd.ArrowDtype(t)
    return _PANDAS_TYPES.get(t)


def check_per(schema: pa.Schema, per: str | None) -> str | None:
    """Return the nested list ``per`` names in ``schema`` (None for one row per record).

    >>> s = pa.schema([("reviews", pa.list_(pa.struct([("rating", pa.float64())])))])
    >>> check_per(s, "records"), check_per(s, "reviews")
    (None, 'reviews')
    """
    if per in (None, "record", "records"):
        return None
    assert per is not None
    if schema.get_field_index(per) < 0 or not is_records(per):
        lists = [f.name for f in schema if is_records(f.name)]
        raise ArgumentError(
            f"per must be 'records' or one of the files' nested lists {lists}, not {per!r}"
        )
    return per


def element_schema(schema: pa.Schema, per: str) -> pa.Schema:
    """Return the schema of one row per element of the nested list ``per``.

    The record's ``id`` (when the files have one) comes first, then the element's fields named
    ``<per>.<field>`` as in Datafiniti's CSV, then ``download_id`` and ``source_file``.

    >>> from dfkit.resultfiles import DOWNLOAD_ID
    >>> s = pa.schema([("id", pa.string()),
    ...                ("reviews", pa.list_(pa.struct([("rating", pa.float64())])))])
    >>> element_schema(s, "reviews").names
    ['id', 'reviews.rating', 'download_id', 'source_file']
    """
    element = schema.field(per).type.value_type
    fields = [schema.field("id")] if "id" in schema.names else []
    fields += [pa.field(f"{per}.{f.name}", f.type) for f in element]
    fields += [pa.field(DOWNLOAD_ID, pa.string()), pa.field(SOURCE_FILE, pa.string())]
    return pa.schema(fields)


def to_elements(batch: pa.RecordBatch, per: str) -> pa.RecordBatch:
    """Return one row per element of ``batch``'s list ``per`` (see :func:`element_schema`)."""
    lists = batch.column(per)
    parents = pc.list_parent_indices(lists)
    elements = pc.list_flatten(lists)
    schema = element_schema(batch.schema, per)
    arrays = []
    children = dict(zip([f.name for f in elements.type], elements.flatten(), strict=True))
    for f in schema:
        if f.name.startswith(per + "."):
            arrays.append(children[f.name[len(per) + 1 :]])
        else:
            arrays.append(pc.take(batch.column(f.name), parents, memory_pool=memory_pool()))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def arrow_to_frame(table: pa.Table, dtype: Any = None) -> pd.DataFrame:
    """Return ``table`` as the DataFrame :func:`dfkit.read_results` gives (its dtypes, ``dtype=``).

    >>> arrow_to_frame(pa.table({"n": [1, None]})).dtypes.astype(str).to_dict()
    {'n': 'Int64'}
    """
    frame: pd.DataFrame = table.to_pandas(types_mapper=_pandas_type, memory_pool=memory_pool())
    for name, target in _overrides(dtype, list(frame.columns)).items():
        try:
            converted = frame[name].astype(target)
        except (ValueError, TypeError, OverflowError) as e:
            raise ResultFileError(
                f"column {name!r} cannot be converted to {target!r}: {e}"
            ) from None
        _check_lossless(name, frame[name], converted, target)
        frame[name] = converted
    return frame


def _check_lossless(name: str, before: pd.Series, after: pd.Series, target: Any) -> None:
    """Raise ResultFileError when a conversion of numbers to integers changed a value."""
    if not pd.api.types.is_numeric_dtype(before) or not pd.api.types.is_integer_dtype(after):
        return
    old = before.astype("Float64")
    changed = old.notna() & (after.astype("Float64") != old).fillna(True)
    if changed.any():
        first = old[changed].iloc[0]
        raise ResultFileError(
            f"column {name!r} cannot be converted to {target!r} without losing values: "
            f"{first} would become {after[changed].iloc[0]} ({int(changed.sum())} values change)"
        )


def _overrides(dtype: Any, names: list[str]) -> dict[str, Any]:
    if dtype is None:
        return {}
    if isinstance(dtype, Mapping):
        unknown = [n for n in dtype if n not in names]
        if unknown:
            raise ArgumentError(
                f"dtype: no column {unknown[0]!r} in the result files (columns: "
                f"{', '.join(names[:20])}{', ...' if len(names) > 20 else ''})"
            )
        return dict(dtype)
    return dict.fromkeys(names, dtype)


def partition_columns(partition_by: str | list[str], schema: pa.Schema) -> list[str]:
    """Return ``partition_by`` as a list, checked against ``schema`` (flat columns only).

    >>> partition_columns("download_id", pa.schema([("download_id", pa.string())]))
    ['download_id']
    """
    parts = [partition_by] if isinstance(partition_by, str) else list(partition_by)
    for name in parts:
        if name not in schema.names:
            raise ArgumentError(f"partition_by: no column {name!r} in the result files")
        if pa.types.is_nested(schema.field(name).type):
            raise ArgumentError(f"partition_by: column {name!r} holds lists or objects")
    return parts


def check_download_ids(names: list[str], partition_by: list[str]) -> None:
    """Return None when every file gives a ``download_id`` to partition by; else raise.

    A dataset partitioned by a column that is null throughout cannot be read back (pyarrow
    finds no type for ``download_id=__HIVE_DEFAULT_PARTITION__``), so it is never written.

    >>> check_download_ids(["847070_0.csv"], ["download_id"])
    >>> check_download_ids(["data.csv"], ["download_id"])
    Traceback (most recent call last):
    ...
    dfkit.errors.ArgumentError: partition_by='download_id': data.csv has no download id in ...
    """
    if DOWNLOAD_ID not in partition_by:
        return
    missing = [n for n in names if download_id_of(n) is None]
    if missing:
        more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
        raise ArgumentError(
            f"partition_by='download_id': {', '.join(missing[:3])}{more} "
            f"{'has' if len(missing) == 1 else 'have'} no download id in the file name; "
            f"name result files <download id>_<n>.<ext> (as fetch_results does, "
            f"e.g. 847070_0.csv), or partition by another column"
        )
