"""Warehouse-ready Parquet: ``to_parquet`` writes a downloads frame atomically, ``read_parquet``
restores it exactly.

What a warehouse (BigQuery, Snowflake, Redshift, DuckDB, Spark) gets:

- the types of :mod:`dfkit.schema`: timestamps as ``TIMESTAMP(MICROS, isAdjustedToUTC=true)``
  (never nanoseconds, never INT96), categories such as ``status`` as plain strings, nullable
  integers as ``INT64`` with nulls; an empty frame still carries every column's type;
- under the key-value metadata key ``dfkit``, a JSON object with dfkit's ``version``, the
  ``per`` (``result`` or ``download``), ``written_at`` and each category column's
  ``categories`` (so ``read_parquet`` restores them, unused ones and their order included);
- with ``partition_by``, a hive-style dataset directory (``status=completed/part-0.parquet``),
  its full schema and metadata in ``_common_metadata`` (read even when no row was written).

Round trip: ``read_parquet(to_parquet(df, path))`` equals ``df`` (``assert_frame_equal``) for
a single file *and* a dataset. A dataset's files also hold a ``_dfkit_row`` column, each row's
position in ``df``; ``read_parquet`` sorts by it and drops it, so the rows come back in their
original order (a warehouse can ignore the column or use it to sort). The index is not
written: the frame read back has a fresh ``RangeIndex``. Columns dfkit does not know are
written as pyarrow writes them (categories as strings, timestamps in microseconds) and
restored as pyarrow restores them, their categories from the ``dfkit`` metadata.

Writes are atomic (see :mod:`dfkit._atomic`): a file is written beside its final name and
moved into place; a dataset is written to a temporary directory and swapped in. A failure
midway leaves the previous file or dataset untouched and no temporary file behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from dfkit._atomic import atomic_dir, atomic_file
from dfkit._version import __version__
from dfkit.errors import ArgumentError, DiskFullError, ExportError
from dfkit.schema import COLUMN_BY_NAME, Column, frame_per
from dfkit.storage import SUCCESS

__all__ = [
    "DATASET_FILES",
    "METADATA_KEY",
    "check_target",
    "is_dataset_path",
    "is_parquet_dataset",
    "read_parquet",
    "to_parquet",
]

#: The Parquet key-value metadata key holding dfkit's JSON object.
METADATA_KEY = "dfkit"
#: ``partition_by="created_month"`` derives this column (``YYYY-MM`` of ``created_at``, UTC).
CREATED_MONTH = "created_month"
#: A dataset's hidden column: each row's position in the frame written.
ROW_ORDER = "_dfkit_row"
#: Where a dataset keeps its full schema (partition columns included) and metadata.
COMMON_METADATA = "_common_metadata"
_FORMAT = 1  # bumped when the layout changes in a way an older read_parquet cannot read


# ---------------------------------------------------------------------------- writing


def _partition_columns(df: pd.DataFrame, partition_by: str | Sequence[str] | None) -> list[str]:
    if partition_by is None:
        return []
    names = [partition_by] if isinstance(partition_by, str) else list(partition_by)
    if not names:
        return []
    for name in names:
        if name not in df.columns and not (name == CREATED_MONTH and "created_at" in df.columns):
            raise ArgumentError(
                f"partition_by={name!r} is not a column of the frame "
                f"(nor {CREATED_MONTH!r}, derived from created_at); columns: {list(df.columns)}"
            )
    if len(set(names)) != len(names):
        raise ArgumentError(f"partition_by lists a column twice: {names}")
    if len(names) == len(df.columns):
        raise ArgumentError("partition_by cannot list every column: no data would be left in files")
    return names


def _created_month(created: pd.Series) -> pd.Series:
    if isinstance(created.dtype, pd.DatetimeTZDtype):
        created = created.dt.tz_convert("UTC")
    months: pd.Series = created.dt.strftime("%Y-%m").astype(COLUMN_BY_NAME["id"].dtype)
    return months


def _json_categories(values: pd.Index) -> list[Any] | None:
    """Return the categories as JSON values, or None when JSON cannot hold them exactly."""
    plain = values.tolist()
    if all(isinstance(v, (str, bool, int, float)) for v in plain):
        return plain
    return None


def _arrow_array(name: str, values: Any, schema_column: Column | None) -> Any:
    """Return one column as Arrow, in its warehouse type (categories decoded to their values)."""
    array = values
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if schema_column is not None:
        target = schema_column.arrow_type
    elif pa.types.is_large_string(array.type):
        target = pa.string()
    elif pa.types.is_timestamp(array.type) and array.type.unit == "ns":
        target = pa.timestamp("us", tz=array.type.tz)
    elif pa.types.is_null(array.type):
        target = pa.string()  # an all-missing object column: never write a null-typed column
    else:
        return array
    if array.type == target:
        return array
    try:
        return array.cast(target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ExportError(f"column {name!r} cannot be written as {target}: {exc}") from None


def _arrow_table(df: pd.DataFrame, partition_by: list[str], derived: list[str]) -> Any:
    bad = [c for c in df.columns if not isinstance(c, str)]
    if bad:
        raise ExportError(f"Parquet column names must be strings; found {bad[:5]}")
    if not df.columns.is_unique:
        raise ExportError(f"duplicate column names: {sorted(df.columns[df.columns.duplicated()])}")
    try:
        raw = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise ExportError(f"the frame cannot be converted to Arrow: {exc}") from None
    arrays = [
        _arrow_array(
            name, raw.column(name), COLUMN_BY_NAME.get(name) if name not in derived else None
        )
        for name in raw.column_names
    ]
    categories: dict[str, list[Any]] = {}
    ordered: list[str] = []
    for name in df.columns:
        col_dtype = df[name].dtype
        if isinstance(col_dtype, pd.CategoricalDtype):
            as_json = _json_categories(col_dtype.categories)
            if as_json is not None:
                categories[name] = as_json
                if col_dtype.ordered:
                    ordered.append(name)
    meta = {
        "version": __version__,
        "format": _FORMAT,
        "per": frame_per(df),
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "categories": categories,
        "ordered": ordered,
        "partition_by": partition_by,
        "derived": derived,
        "row_order": ROW_ORDER if partition_by else None,
    }
    metadata = dict(raw.schema.metadata or {})  # keep pandas' own, for pandas.read_parquet users
    metadata[METADATA_KEY.encode()] = json.dumps(meta).encode()
    return pa.Table.from_arrays(arrays, names=raw.column_names).replace_schema_metadata(metadata)


#: Files a Parquet dataset directory holds besides its ``*.parquet`` parts (``_SUCCESS``: the
#: commit marker the Dask engine writes last).
DATASET_FILES = frozenset({COMMON_METADATA, "_metadata", SUCCESS})


def is_dataset_path(relative: str, *, folder: bool = False) -> bool:
    """Return whether ``relative`` (``/``-separated, inside a dataset directory) is the dataset's.

    A dataset holds ``*.parquet`` files, ``_common_metadata``, ``_metadata`` or ``_SUCCESS``
    (:data:`DATASET_FILES`), inside ``name=value`` folders; anything else is someone else's.

    >>> is_dataset_path("status=completed/part-0.parquet"), is_dataset_path("notes.txt")
    (True, False)
    >>> is_dataset_path("status=completed", folder=True), is_dataset_path("raw", folder=True)
    (True, False)
    """
    *folders, name = relative.strip("/").split("/")
    if folder:
        folders, name = [*folders, name], ""
    return all("=" in f for f in folders) and (
        folder or name.endswith(".parquet") or name in DATASET_FILES
    )


def is_parquet_dataset(path: Path) -> bool:
    """Return whether directory ``path`` holds only a Parquet dataset (parts, hive folders).

    That is what dfkit's dataset writers leave there (:func:`is_dataset_path`); anything else
    makes it someone's folder.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "status=completed").mkdir(), (d / "status=completed" / "part-0.parquet").touch()
    >>> is_parquet_dataset(d), is_parquet_dataset(d.parent)
    (True, False)
    """
    for entry in path.iterdir():
        if entry.is_symlink():
            return False
        if entry.is_dir():
            if not is_dataset_path(entry.name, folder=True) or not is_parquet_dataset(entry):
                return False
        elif not is_dataset_path(entry.name):
            return False
    return True


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def check_target(
    path: Path, *, dataset: bool, inputs: Sequence[str | os.PathLike[str]] = ()
) -> None:
    """Return None when a writer may replace ``path``; else raise :class:`ExportError`.

    Refused: a directory as a file's target; as a dataset's, a non-empty directory that is
    not a Parquet dataset (see :func:`is_parquet_dataset`: a previous output); and a target
    that is, or holds, one of ``inputs`` (the files being read).

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "thesis.docx").write_text("years of work")
    >>> check_target(d, dataset=True)
    Traceback (most recent call last):
    ...
    dfkit.errors.ExportError: ... is a non-empty directory that is not a dfkit Parquet dataset; ...
    """
    real = Path(os.path.realpath(path))
    for item in inputs:
        source = Path(os.path.realpath(item))
        if _within(source, real):
            raise ExportError(
                f"{path}: the output would replace the input {os.fspath(item)}; "
                f"write it somewhere else"
            )
    if path.is_dir() and not path.is_symlink():
        if not dataset:
            raise ExportError(
                f"{path} is a directory; pass partition_by to replace a dataset, or remove it"
            )
        if any(path.iterdir()) and not is_parquet_dataset(path):
            raise ExportError(
                f"{path} is a non-empty directory that is not a dfkit Parquet dataset; "
                f"refusing to replace it"
            )


def to_parquet(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    partition_by: str | Sequence[str] | None = None,
    compression: str | None = "zstd",
) -> Path:
    """Return the path of the Parquet file (or dataset directory) that ``df`` was written to.

    ``partition_by`` names one or more columns (``"status"``, ``"data_type"``, any column) or
    ``"created_month"`` (``YYYY-MM`` of ``created_at``, derived for partitioning only) and
    writes a hive-style dataset directory; an existing dfkit dataset at ``path`` is replaced
    by swapping directories. ``compression`` is any codec pyarrow knows (``None`` for none).
    Raises ``ExportError`` when the frame or the path cannot be written.

    >>> import dfkit, tempfile, pathlib
    >>> df = dfkit.downloads_frame(dfkit.sample_downloads(), per="download")
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> to_parquet(df, d / "downloads.parquet").name
    'downloads.parquet'
    >>> out = to_parquet(df, d / "by_status", partition_by="status")
    >>> sorted(p.name for p in out.iterdir())[:3]
    ['_common_metadata', 'status=cancelled', 'status=completed']
    >>> pd.testing.assert_frame_equal(read_parquet(out), df)
    """
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"df: to_parquet expects a DataFrame, got {type(df).__name__}")
    target = Path(path)
    parts = _partition_columns(df, partition_by)
    check_target(target, dataset=bool(parts))
    derived: list[str] = []
    frame = df
    if parts:
        extra: dict[str, Any] = {}
        if CREATED_MONTH in parts and CREATED_MONTH not in df.columns:
            extra[CREATED_MONTH] = _created_month(df["created_at"])
            derived.append(CREATED_MONTH)
        extra[ROW_ORDER] = np.arange(len(df), dtype=np.int64)
        frame = df.assign(**extra)
    table = _arrow_table(frame, parts, derived)

    try:
        if not parts:
            table = table.combine_chunks()  # one row group per chunk would be many tiny ones
            with atomic_file(target) as tmp:
                pq.write_table(table, tmp, compression=compression)
            return target
        options = ds.ParquetFileFormat().make_write_options(compression=compression)
        partitioning = ds.partitioning(
            pa.schema([table.schema.field(p) for p in parts]), flavor="hive"
        )
        # Grouped by partition, each file gets its rows in one go instead of a sliver per
        # chunk (a frame built by pd.concat can have thousands); _dfkit_row keeps the order.
        grouped = table.sort_by([(p, "ascending") for p in parts])
        with atomic_dir(target) as tmp_dir:
            ds.write_dataset(
                grouped,
                tmp_dir,
                format="parquet",
                partitioning=partitioning,
                file_options=options,
                basename_template="part-{i}.parquet",
                existing_data_behavior="overwrite_or_ignore",
            )
            pq.write_metadata(table.schema, tmp_dir / COMMON_METADATA)
        return target
    except DiskFullError:
        raise
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise ExportError(f"cannot write {target}: {exc}") from exc


# ---------------------------------------------------------------------------- reading


def _dfkit_meta(schema: Any, where: Path) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(METADATA_KEY.encode())
    if raw is None:
        raise ExportError(
            f"{where} is not a dfkit Parquet file (no {METADATA_KEY!r} key-value metadata); "
            f"read it with pandas.read_parquet instead"
        )
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise ExportError(f"{where}: the {METADATA_KEY!r} metadata is not JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise ExportError(f"{where}: the {METADATA_KEY!r} metadata is not a JSON object")
    if int(meta.get("format", 1)) > _FORMAT:
        raise ExportError(
            f"{where} was written by dfkit {meta.get('version')} in a newer layout "
            f"(format {meta.get('format')}); upgrade dfkit to read it"
        )
    return meta


def _dataset_schema(path: Path) -> Any:
    import pyarrow.parquet as pq

    common = path / COMMON_METADATA
    if not common.is_file():
        raise ExportError(
            f"{path} is not a dfkit Parquet dataset: it has no {COMMON_METADATA} "
            f"(datasets written by dfkit.to_parquet(partition_by=...) always do)"
        )
    try:
        schema = pq.read_schema(common)
    except (OSError, pa.ArrowException) as exc:
        raise ExportError(f"cannot read {common}: {exc}") from None
    _dfkit_meta(schema, common)
    return schema


def _read_dataset(path: Path) -> tuple[Any, dict[str, Any]]:
    import pyarrow.dataset as ds

    schema = _dataset_schema(path)
    meta = _dfkit_meta(schema, path / COMMON_METADATA)
    parts = list(meta.get("partition_by") or [])
    partitioning = ds.partitioning(pa.schema([schema.field(p) for p in parts]), flavor="hive")
    try:
        dataset = ds.dataset(path, schema=schema, format="parquet", partitioning=partitioning)
        table = dataset.to_table()
    except (OSError, pa.ArrowException) as exc:
        raise ExportError(f"cannot read the dataset {path}: {exc}") from None
    row = meta.get("row_order")
    if row and row in table.column_names:
        table = table.sort_by(row)
    return table, meta


def _read_file(path: Path) -> tuple[Any, dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path).read()
    except (OSError, pa.ArrowException) as exc:
        raise ExportError(f"{path} is not a readable Parquet file: {exc}") from None
    meta = _dfkit_meta(table.schema, path)
    if meta.get("partition_by"):
        raise ExportError(
            f"{path} is one file of a dataset partitioned by {meta['partition_by']}; "
            f"read the dataset directory instead"
        )
    return table, meta


def _to_pandas(name: str, values: Any, column: Column, meta: dict[str, Any]) -> Any:
    """Return one known column with exactly the dtype ``downloads_frame`` gives it."""
    if column.is_category:
        stored = meta.get("categories", {}).get(name)
        categories = list(column.known_categories if stored is None else stored)
        strings = values.cast(pa.string()).to_pandas()
        found = set(strings.dropna().unique()) - set(categories)
        return pd.Categorical(strings, categories=[*categories, *sorted(found)])
    values = values.cast(column.arrow_type)
    dtype = column.dtype
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and hasattr(dtype, "__from_arrow__"):
        return dtype.__from_arrow__(values)
    if values.null_count and not isinstance(dtype, pd.DatetimeTZDtype):
        raise ExportError(f"column {name!r} has missing values but its dtype is {dtype}")
    return values.to_pandas().astype(dtype).array


def read_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Return the downloads frame stored by :func:`to_parquet` in a file or a dataset directory.

    Every known column gets exactly the dtype ``downloads_frame`` gives it (categories in the
    order stored, pandas strings, ``Int64``, ``datetime64[us, UTC]``); a dataset's rows come
    back in the order they were written and ``created_month`` is dropped. Raises
    ``ExportError`` for a path that is missing, unreadable, or not written by dfkit.

    >>> import dfkit, tempfile, pathlib
    >>> df = dfkit.downloads_frame(dfkit.sample_downloads())
    >>> path = to_parquet(df, pathlib.Path(tempfile.mkdtemp()) / "d.parquet")
    >>> read_parquet(path).dtypes[["status", "created_at"]].astype(str).tolist()
    ['category', 'datetime64[us, UTC]']
    """
    source = Path(path)
    if not source.exists():
        raise ExportError(f"{source}: no such file or directory")
    table, meta = _read_dataset(source) if source.is_dir() else _read_file(source)

    drop = {*(meta.get("derived") or []), meta.get("row_order") or ROW_ORDER}
    names = [n for n in table.column_names if n not in drop]
    known = [n for n in names if n in COLUMN_BY_NAME]
    unknown = [n for n in names if n not in COLUMN_BY_NAME]
    columns: dict[str, Any] = {
        n: _to_pandas(n, table.column(n), COLUMN_BY_NAME[n], meta) for n in known
    }
    if unknown:
        others = table.select(unknown).to_pandas()
        categories = meta.get("categories", {})
        for n in unknown:
            if n in categories:
                ordered = n in (meta.get("ordered") or [])
                columns[n] = pd.Categorical(others[n], categories=categories[n], ordered=ordered)
            else:
                columns[n] = others[n].array
    frame: pd.DataFrame = pd.DataFrame(
        {n: columns[n] for n in names}, index=pd.RangeIndex(table.num_rows)
    )
    return frame
