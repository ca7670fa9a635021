"""Result files: read them as a DataFrame, stream them to Parquet.

A download's data is in its result files (CSV, or newline-delimited JSON ``.txt``), about
10,000 records each; :func:`dfkit.fetch.fetch_results` fetches them::

    read_results("data/")               -> every record (+ download_id, source_file)
    results_to_parquet("data/", "x.parquet") -> Parquet file or hive dataset, in constant memory

``read_results`` and ``results_to_parquet`` give the same columns and types; how a column's
type is decided (never at the cost of information) lives in ``dfkit._resultfiles``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from dfkit._atomic import atomic_dir, atomic_file
from dfkit._resultfiles import (
    DOWNLOAD_ID,
    SOURCE_FILE,
    FileFormat,
    PathsOrDir,
    RawBatch,
    SchemaBuilder,
    convert_text,
    discover,
    download_id_of,
    file_columns,
    iter_batches,
    text_chunk,
)
from dfkit.errors import ResultFileError

__all__ = ["read_results", "results_to_parquet"]

#: Target in-memory size of a Parquet row group (engines like <= ~128 MB); with the input
#: blocks, this bounds the memory ``results_to_parquet`` uses, whatever the input's size.
ROW_GROUP_BYTES = 32 << 20
#: Bytes of input read per batch.
BLOCK_BYTES = 8 << 20

_PANDAS_TYPES: dict[pa.DataType, Any] = {
    pa.string(): pd.StringDtype("pyarrow"),
    pa.large_string(): pd.StringDtype("pyarrow"),
    pa.int64(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def _check_format(format: str | None) -> FileFormat | None:
    if format is None:
        return None
    f = format.lower()
    if f == "csv":
        return "csv"
    if f in ("json", "jsonl", "ndjson", "txt"):
        return "json"
    raise ValueError(f"format must be 'csv', 'json' or None, not {format!r}")


def read_results(
    paths_or_dir: PathsOrDir,
    *,
    format: str | None = None,
    dtype: Any = None,
) -> pd.DataFrame:
    """Return every record of the result files as one DataFrame, with typed columns.

    ``paths_or_dir`` is a directory (its ``.csv``, ``.txt``, ``.json``, ``.jsonl`` files,
    optionally gzipped, in natural order), a file, or a list of them. CSV column names such as
    ``reviews.rating`` are kept; JSON lists and objects stay Python lists and dicts. Two columns
    are added: ``download_id`` (from the file name ``<id>_<n>.<ext>``) and ``source_file``.

    A column is converted (to ``Int64``, ``Float64``, ``boolean`` or UTC ``datetime64``) only
    when every value reads back unchanged; otherwise it keeps its strings (postal codes with
    leading zeros, 13-digit GTINs mixed with 16-digit ones, ...). ``dtype`` overrides that: a
    mapping of column to dtype, or one dtype for every column (``dtype="string"`` keeps all
    text as it is). A malformed line raises :class:`~dfkit.ResultFileError` with the file and
    line number.

    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> csv = "name,postalCode,reviews.rating\\nA,02134,5\\nB,78701,4\\n"
    >>> _ = (d / "847070_0.csv").write_text(csv)
    >>> df = read_results(d)
    >>> df.dtypes.astype(str).to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'name': 'string', 'postalCode': 'string', 'reviews.rating': 'Int64',
     'download_id': 'string', 'source_file': 'string'}
    >>> df["postalCode"].tolist(), df["download_id"][0]
    (['02134', '78701'], '847070')
    """
    fmt = _check_format(format)
    files = discover(paths_or_dir, format=fmt)
    builder = SchemaBuilder(arrow_nested=False)
    chunks: dict[str, list[pa.Array | list[Any]]] = {}
    origin: list[RawBatch] = []
    total = 0
    for path in files:
        for batch in iter_batches(path, fmt):
            builder.check_names(path, batch.columns)
            builder.update(batch)
            for name, values in batch.columns.items():
                if name not in chunks:
                    chunks[name] = [pa.nulls(total, pa.string())] if total else []
                chunks[name].append(values)
            for name, parts in chunks.items():
                if name not in batch.columns:
                    parts.append(pa.nulls(batch.num_rows, pa.string()))
            total += batch.num_rows
            origin.append(RawBatch(path, {}, batch.num_rows))

    # One dtype for all applies to text columns; lists and dicts stay as they are.
    names = [
        n for n, st in builder.columns.items() if isinstance(dtype, Mapping) or not st.is_object
    ]
    overrides = _overrides(dtype, names)
    data: dict[str, pd.Series[Any]] = {}
    index = pd.RangeIndex(total)
    for name, state in builder.columns.items():
        parts = chunks[name]
        if state.is_object:
            values = [v for p in parts for v in text_chunk(p)]
            series: pd.Series[Any] = pd.Series(values, index=index, dtype=object, name=name)
        else:
            text = pa.chunked_array(parts, type=pa.string())
            target = pa.string() if name in overrides else state.arrow_type()
            series = convert_text(text, target).to_pandas(types_mapper=_PANDAS_TYPES.get)
            series.index = index
            series.name = name
        if name in overrides:
            try:
                series = series.astype(overrides[name])
            except (ValueError, TypeError) as e:
                raise ResultFileError(
                    f"column {name!r} cannot be converted to {overrides[name]!r}: {e}"
                ) from None
        data[name] = series
    data[DOWNLOAD_ID] = _constant_column(origin, lambda b: download_id_of(b.path.name), index)
    data[SOURCE_FILE] = _constant_column(origin, lambda b: b.path.name, index)
    frame: pd.DataFrame = pd.DataFrame(data, index=index)
    return frame


def _overrides(dtype: Any, names: list[str]) -> dict[str, Any]:
    if dtype is None:
        return {}
    if isinstance(dtype, Mapping):
        return {n: t for n, t in dtype.items() if n in names}
    return dict.fromkeys(names, dtype)


def _constant_column(batches: list[RawBatch], value: Any, index: pd.RangeIndex) -> pd.Series[Any]:
    arr = pa.chunked_array(
        [pa.repeat(pa.scalar(value(b), pa.string()), b.num_rows) for b in batches],
        type=pa.string(),
    )
    s: pd.Series[Any] = arr.to_pandas(types_mapper=_PANDAS_TYPES.get)
    s.index = index
    return s


def _schema_pass(files: list[Path]) -> SchemaBuilder:
    builder = SchemaBuilder()
    for path in files:
        # Columns already known to stay strings need no conversion in later files.
        skip = builder.settled()
        for batch in iter_batches(path, block_size=BLOCK_BYTES, skip=skip):
            builder.check_names(path, batch.columns)
            builder.update(batch)
    return builder


def _tables(files: list[Path], schema: pa.Schema) -> Iterator[pa.Table]:
    for path in files:
        for batch in iter_batches(path, block_size=BLOCK_BYTES):
            try:
                arrays = file_columns(batch, schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                # Only if a file changed between the two passes.
                raise ResultFileError(
                    f"{path.name}: values no longer fit the schema: {e}", path=str(path)
                ) from None
            yield pa.Table.from_arrays(arrays, schema=schema)


def results_to_parquet(
    paths_or_dir: PathsOrDir,
    out: str | os.PathLike[str],
    *,
    partition_by: str | list[str] | None = None,
) -> Path:
    """Return the path of a Parquet file (or hive dataset) holding every record of the files.

    Streams the files in batches, so memory does not grow with the input: a first pass fixes
    the schema (the same columns and types :func:`read_results` gives; a column only some files
    have is null elsewhere; int and float widen to float; any other conflict makes a string),
    a second writes zstd-compressed row groups of at most about 32 MB in memory. Nested JSON
    values become Parquet lists and structs (JSON text if they cannot be unified).

    ``partition_by`` (a column or list of columns, e.g. ``"download_id"``) writes a hive
    dataset directory ``out/download_id=847070/part-0.parquet``, readable by DuckDB, Spark,
    Dask and pyarrow. Either way the output appears complete or not at all.

    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "1_0.csv").write_text("sku,price\\n007,1.5\\n")
    >>> _ = (d / "1_1.csv").write_text("sku,price,brand\\n008,2,Acme\\n")
    >>> p = results_to_parquet(d, d / "out.parquet")
    >>> import pyarrow.parquet as pq
    >>> pq.read_schema(p).types[:3]
    [DataType(string), DataType(double), DataType(string)]
    """
    files = discover(paths_or_dir)
    builder = _schema_pass(files)
    schema = builder.arrow_schema()
    target = Path(out)
    if partition_by is None:
        with atomic_file(target) as tmp:
            _write_file(files, schema, tmp)
        return target
    parts = [partition_by] if isinstance(partition_by, str) else list(partition_by)
    for name in parts:
        if name not in schema.names:
            raise ValueError(f"partition_by: no column {name!r} in the result files")
        if pa.types.is_nested(schema.field(name).type):
            raise ValueError(f"partition_by: column {name!r} holds lists or objects")
    avg_row = builder.nbytes / builder.rows if builder.rows else 1.0
    rows_per_group = max(1_000, min(1 << 20, int(ROW_GROUP_BYTES / max(avg_row, 1.0))))
    with atomic_dir(target) as tmpdir:
        reader = pa.RecordBatchReader.from_batches(
            schema, (b for t in _tables(files, schema) for b in t.to_batches())
        )
        pads.write_dataset(
            reader,
            tmpdir,
            format="parquet",
            partitioning=pads.partitioning(
                pa.schema([schema.field(n) for n in parts]), flavor="hive"
            ),
            basename_template="part-{i}.parquet",
            file_options=pads.ParquetFileFormat().make_write_options(compression="zstd"),
            min_rows_per_group=rows_per_group,
            max_rows_per_group=rows_per_group,
            max_partitions=1 << 20,
            existing_data_behavior="overwrite_or_ignore",
        )
    return target


def _write_file(files: list[Path], schema: pa.Schema, path: Path) -> None:
    writer = pq.ParquetWriter(str(path), schema, compression="zstd")
    try:
        pending: list[pa.Table] = []
        size = 0
        for table in _tables(files, schema):
            pending.append(table)
            size += table.nbytes
            if size >= ROW_GROUP_BYTES:
                _flush(writer, pending)
                pending, size = [], 0
        _flush(writer, pending)
    finally:
        writer.close()


def _flush(writer: pq.ParquetWriter, tables: list[pa.Table]) -> None:
    if not tables:
        return
    table = pa.concat_tables(tables)
    writer.write_table(table, row_group_size=max(table.num_rows, 1))
    del table, tables[:]
    # Hand freed buffers back to the OS, so RSS follows what is in use.
    pa.default_memory_pool().release_unused()
