"""Result files on a Dask cluster, from and to object storage: ``engine="dask"``.

:func:`dfkit.read_results` and :func:`dfkit.results_to_parquet` hand over to this module when
given ``engine="dask"``; ``import dfkit`` never imports Dask (this module is imported only
then). The work is cut the way the files already are::

    client (not parallel)       tasks, on any worker
    list the files           -> survey each file: its schema, and its byte ranges if it is
                                large (:mod:`dfkit.ranges`)
    merge the distinct schemas -> read each part (a file or a range), type it by the schema
                                -> a pandas partition                   (read_results)
                                -> Parquet parts under a hidden staging directory
    commit (:func:`dfkit.storage.atomic_fs_dir`): a rename locally; on an object store the
    objects copied into place, ``_SUCCESS`` last                       (results_to_parquet)

A task reads its part with the same reader as the local engine and types it by the schema fixed
up front, so every partition (and every Parquet part) has exactly the local engine's columns
and types. Paths may be fsspec URLs (``s3://``, ``gs://``, ``abfs://``, ``file://``), opened
with ``storage_options``, so the workers read and write object storage themselves.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from dfkit.errors import ArgumentError, ExportError, MissingDependencyError, ResultFileError
from dfkit.parquet import check_target, is_dataset_path
from dfkit.ranges import csv_ranges, json_ranges
from dfkit.records import (
    KEEP_ORDER,
    ROW_GROUP_BYTES,
    arrow_to_frame,
    check_download_ids,
    check_per,
    element_schema,
    partition_columns,
    to_elements,
)
from dfkit.resultfiles import (
    DOCUMENT_HEAD,
    MAX_EXPANSION,
    FileFormat,
    PathsOrDir,
    ResultFileNotFound,
    Source,
    can_read_in_ranges,
    csv_records_span_rows,
    discover,
    file_format,
    is_json_document,
    natural_key,
    read_result_batches,
    result_schema,
    with_catalog_fields,
)
from dfkit.storage import (
    STORAGE_EXTRA,
    atomic_fs_dir,
    check_output,
    filesystem,
    is_local,
    is_url,
    store_errors,
)

if TYPE_CHECKING:
    import dask.dataframe as dd
    from fsspec import AbstractFileSystem

__all__ = [
    "DASK_EXTRA",
    "PART_BYTES",
    "PART_DIGITS",
    "Part",
    "Reading",
    "list_files",
    "read_results_dask",
    "require_dask",
    "results_to_parquet_dask",
]

#: The extra that installs the Dask engine's dependencies (the one URLs need too).
DASK_EXTRA = STORAGE_EXTRA
#: A file larger than this is read by several tasks, one per range of its bytes, where it can
#: be cut (:mod:`dfkit.ranges`: uncompressed JSON lines, and CSV whose quotes are sound).
PART_BYTES = 128 << 20
#: Digits of a Parquet part's number (``part-00000.parquet``) at least: more when there are
#: more parts, so that the names always sort in the parts' order.
PART_DIGITS = 5


def require_dask() -> None:
    """Return None when Dask, distributed and fsspec import; else raise naming the extra.

    >>> require_dask()  # with dfkit[dask] installed
    """
    missing = []
    for module in ("dask.dataframe", "distributed", "fsspec"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module.split(".")[0])
    if missing:
        raise MissingDependencyError(
            f"engine='dask' needs {', '.join(missing)}, which are not installed: "
            f"pip install '{DASK_EXTRA}'"
        )


def list_files(
    paths_or_dir: PathsOrDir,
    *,
    format: FileFormat | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Return the result files named by directories, files or URLs, in natural order.

    Local paths follow :func:`dfkit.resultfiles.discover`'s rules; a URL names a file, or a
    "directory" (prefix) whose result files are listed the same way (no hidden names).

    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for n in ("7_10.csv", "7_2.csv", ".7_3.csv", "notes.md"):
    ...     _ = (d / n).write_text("id\\n")
    >>> [pathlib.Path(f).name for f in list_files(d.as_uri())]
    ['7_2.csv', '7_10.csv']
    """
    items = [paths_or_dir] if isinstance(paths_or_dir, (str, os.PathLike)) else list(paths_or_dir)
    out: list[str] = []
    for item in items:
        if not is_url(item):
            out.extend(str(p) for p in discover(item, format=format))
            continue
        fs, root = filesystem(item, storage_options)
        fs.invalidate_cache(root)  # fsspec keeps listings: files may have come since
        protocol = os.fspath(item).split("://", 1)[0]
        if fs.isdir(root):
            # One listing (LIST requests of 1,000 keys on S3), no request per file.
            names = [
                e["name"]
                for e in fs.ls(root, detail=True)
                if e.get("type") == "file"
                and not posixpath.basename(e["name"]).startswith(".")
                and file_format(posixpath.basename(e["name"])) is not None
            ]
            names.sort(key=lambda p: natural_key(posixpath.basename(p)))
            out.extend(f"{protocol}://{n}" for n in names)
        elif fs.isfile(root):
            if format is None and file_format(posixpath.basename(root)) is None:
                raise ResultFileError(
                    f"{item}: cannot tell the format from the extension; expected .csv, .txt, "
                    ".json or .jsonl (optionally .gz), or pass format='csv' or 'json'",
                    path=str(item),
                )
            out.append(os.fspath(item))
        else:
            raise ResultFileNotFound(f"no such result file or directory: {item}", path=str(item))
    return out


# --- the parts: one per file, or per chunk of a large JSON-lines file ---------------------------


@dataclass(frozen=True)
class Part:
    """One task's input: a result file (path or URL), its name, and a byte range or None."""

    file: str
    name: str
    byte_range: tuple[int, int] | None = None


@contextlib.contextmanager
def _opened(file: str, storage_options: Mapping[str, Any] | None) -> Iterator[Source]:
    """Yield ``file`` for the reader: a local path as it is, a URL as an open fsspec file."""
    if not is_url(file):
        yield Path(file)
        return
    fs, path = filesystem(file, storage_options)
    with fs.open(path, "rb") as f:
        yield f


def _name(file: str) -> str:
    return posixpath.basename(file) if is_url(file) else Path(file).name


def _ranges(
    file: str, fmt: FileFormat, encoding: str, part_bytes: int, source: Any
) -> list[tuple[int, int]] | None:
    """The byte ranges ``file`` is read in by separate tasks, or None for one task."""
    if not can_read_in_ranges(file, fmt, encoding):
        return None
    size = int(source.size) if hasattr(source, "size") else os.path.getsize(file)
    if size <= part_bytes:
        return None
    with open(source, "rb") if isinstance(source, Path) else contextlib.nullcontext(source) as f:
        f.seek(0)
        if fmt == "json":
            if is_json_document(f.read(DOCUMENT_HEAD)):
                return None  # one document (a search answer): read whole, as locally
            ranges = json_ranges(size, part_bytes)
        elif csv_records_span_rows(f, name=_name(file), encoding=encoding):
            return None  # a record's rows stay together: read whole
        else:
            ranges = csv_ranges(f, size, part_bytes)
    return ranges if len(ranges) > 1 else None


def _survey(
    file: str,
    fmt: FileFormat | None,
    encoding: str,
    max_expansion: float,
    storage_options: Mapping[str, Any] | None,
    part_bytes: int,
) -> tuple[pa.Schema, list[Part]]:
    """One file's schema and parts (one task): its ranges if it is large and can be cut."""
    name = _name(file)
    with _opened(file, storage_options) as source:
        schema = result_schema(
            [source], format=fmt, encoding=encoding, names=[name], max_expansion=max_expansion
        )
        ranges = _ranges(file, fmt or file_format(name) or "csv", encoding, part_bytes, source)
    if ranges is None:
        return schema, [Part(file, name)]
    return schema, [Part(file, name, r) for r in ranges]


def _schema(
    files: Sequence[str],
    schemas: Sequence[pa.Schema],
    fmt: FileFormat | None,
    encoding: str,
    max_expansion: float,
    storage_options: Mapping[str, Any] | None,
) -> pa.Schema:
    """The schema of all the files, as ``result_schema(files)`` gives it, from each one's.

    The schema of all files is that of the first file of each distinct schema, in order (a
    later file with the same schema adds no field), so the client merges a few files, usually
    one, instead of reading them all.
    """
    firsts: list[tuple[str, pa.Schema]] = []
    for file, schema in zip(files, schemas, strict=True):
        if not any(schema.equals(s) for _, s in firsts):
            firsts.append((file, schema))
    if len(firsts) == 1:
        return firsts[0][1]

    def sources() -> Iterator[Source]:
        for file, _ in firsts:
            with _opened(file, storage_options) as source:
                yield source

    return result_schema(
        sources(),
        format=fmt,
        encoding=encoding,
        names=[_name(f) for f, _ in firsts],
        max_expansion=max_expansion,
    )


@dataclass(frozen=True)
class Reading:
    """How every task reads its part: the schema fixed up front and the reader's options."""

    schema: pa.Schema
    per: str | None
    format: FileFormat | None
    encoding: str
    max_expansion: float
    #: Credentials, often: never in a repr (Dask shows its graph's reprs on dashboards).
    storage_options: Mapping[str, Any] | None = field(repr=False)
    #: What Dask names this reading by: unique, so Dask never pickles the schema and options
    #: to hash them (which it refuses as "not deterministic" now and then).
    token: str = field(default_factory=lambda: uuid.uuid4().hex, compare=False)

    def __dask_tokenize__(self) -> str:
        return self.token

    @property
    def out_schema(self) -> pa.Schema:
        return element_schema(self.schema, self.per) if self.per else self.schema

    def batches(self, part: Part) -> Iterator[pa.RecordBatch]:
        with (
            store_errors(part.file, "reading", reading=True),
            _opened(part.file, self.storage_options) as source,
        ):
            for batch in read_result_batches(
                source,
                self.schema,
                format=self.format,
                encoding=self.encoding,
                name=part.name,
                byte_range=part.byte_range,
                max_expansion=self.max_expansion,
            ):
                yield to_elements(batch, self.per) if self.per else batch


def _reading(
    paths_or_dir: PathsOrDir,
    *,
    format: FileFormat | None,
    encoding: str,
    per: str | None,
    max_expansion: float,
    storage_options: Mapping[str, Any] | None,
    data_type: str | None = None,
    outputs: Sequence[str | os.PathLike[str]] = (),
) -> tuple[Reading, list[Part]]:
    import dask

    items = [paths_or_dir] if isinstance(paths_or_dir, (str, os.PathLike)) else list(paths_or_dir)
    if storage_options is not None and not any(is_url(p) for p in [*items, *outputs]):
        raise ArgumentError(
            "storage_options is for URLs (s3://...), and every path here is local: "
            f"{os.fspath([*items, *outputs][0]) if items or outputs else 'no path'}"
        )
    paths_or_dir = items
    label = os.fspath(items[0]) if len(items) == 1 else "input"
    with store_errors(str(label), "listing the result files", reading=True):
        files = list_files(paths_or_dir, format=format, storage_options=storage_options)
    # One task per file finds its schema (a CSV header; a JSON-lines file's keys, which means
    # reading it) and its ranges (a large CSV: a scan for where records start).
    args = (format, encoding, max_expansion, storage_options, PART_BYTES)
    surveys: Sequence[tuple[pa.Schema, list[Part]]] = dask.compute(
        *[dask.delayed(_survey, pure=False)(f, *args) for f in files]
    )
    schemas = [schema for schema, _ in surveys]
    schema = _schema(files, schemas, format, encoding, max_expansion, storage_options)
    if data_type is not None:
        schema = with_catalog_fields(schema, data_type)
    reading = Reading(
        schema, check_per(schema, per), format, encoding, max_expansion, storage_options
    )
    return reading, [part for _, parts in surveys for part in parts]


# --- read_results -----------------------------------------------------------------------------


def _partition(part: Part, reading: Reading, dtype: Any) -> pd.DataFrame:
    table = pa.Table.from_batches(list(reading.batches(part)), schema=reading.out_schema)
    return arrow_to_frame(table, dtype)


def read_results_dask(
    paths_or_dir: PathsOrDir,
    *,
    format: FileFormat | None = None,
    encoding: str = "utf-8",
    per: str | None = None,
    data_type: str | None = None,
    dtype: Any = None,
    max_expansion: float = MAX_EXPANSION,
    storage_options: Mapping[str, Any] | None = None,
) -> dd.DataFrame:
    """Return the records as a lazy Dask DataFrame, one partition per file (or chunk).

    Each partition has the columns and dtypes :func:`dfkit.read_results` gives; ``meta`` is
    known without computing anything. The index restarts at 0 in each partition.
    """
    require_dask()
    import dask
    import dask.dataframe as dd

    reading, parts = _reading(
        paths_or_dir,
        format=format,
        encoding=encoding,
        per=per,
        max_expansion=max_expansion,
        storage_options=storage_options,
        data_type=data_type,
    )
    meta = arrow_to_frame(reading.out_schema.empty_table(), dtype)
    if not parts:
        return dd.from_pandas(meta, npartitions=1)
    # Dask would otherwise turn object columns (a dtype=object) into strings.
    with dask.config.set({"dataframe.convert-string": False}):
        frame: dd.DataFrame = dd.from_map(
            _partition,
            parts,
            args=(reading, dtype),
            meta=meta,
            label="dfkit-read-results",
            enforce_metadata=False,
        )
    return frame


# --- results_to_parquet -----------------------------------------------------------------------


def _write_part(
    part: Part,
    stem: str,
    reading: Reading,
    fs: AbstractFileSystem,
    folder: str,
    partition_by: list[str],
) -> tuple[list[str], int]:
    """Write one part's rows under ``folder``; return the files written (relative) and rows."""
    schema = reading.out_schema
    if not partition_by:
        rows = 0
        with fs.open(posixpath.join(folder, f"{stem}.parquet"), "wb") as sink:
            writer = pq.ParquetWriter(sink, schema, compression="zstd")
            try:
                for table in _row_groups(reading.batches(part), schema):
                    writer.write_table(table, row_group_size=max(table.num_rows, 1))
                    rows += table.num_rows
            finally:
                writer.close()
        return [f"{stem}.parquet"], rows
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    written: list[str] = []
    counted = [0]

    def visit(file: Any) -> None:
        written.append(posixpath.relpath(file.path, folder))
        counted[0] += file.metadata.num_rows

    pads.write_dataset(
        pa.RecordBatchReader.from_batches(schema, reading.batches(part)),
        folder,
        filesystem=PyFileSystem(FSSpecHandler(fs)),
        format="parquet",
        partitioning=pads.partitioning(
            pa.schema([schema.field(n) for n in partition_by]), flavor="hive"
        ),
        basename_template=f"{stem}-{{i}}.parquet",
        file_options=pads.ParquetFileFormat().make_write_options(compression="zstd"),
        max_rows_per_group=1 << 17,
        max_partitions=1 << 20,
        existing_data_behavior="overwrite_or_ignore",
        file_visitor=visit,
        **KEEP_ORDER,
    )
    return written, counted[0]


def _write_part_or_error(
    part: Part,
    stem: str,
    reading: Reading,
    fs: AbstractFileSystem,
    folder: str,
    partition_by: list[str],
) -> tuple[list[str], int] | Exception:
    """Write one part (:func:`_write_part`); return its error instead of raising it.

    A raised error would end ``dask.compute`` while other tasks still write into the staging
    directory, after its removal: every task ends before the failure is raised.
    """
    try:
        return _write_part(part, stem, reading, fs, folder, partition_by)
    except Exception as e:
        return e


def _row_groups(batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.Table]:
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in batches:
        pending.append(batch)
        size += batch.nbytes
        if size >= ROW_GROUP_BYTES:
            yield pa.Table.from_batches(pending, schema=schema)
            pending, size = [], 0
    if pending:
        yield pa.Table.from_batches(pending, schema=schema)


def _check_target(fs: AbstractFileSystem, root: str, inputs: list[str]) -> None:
    """Raise ExportError when writing ``root`` would replace inputs or someone's files."""
    if is_local(fs):
        check_target(Path(root), dataset=True, inputs=[f for f in inputs if not is_url(f)])
        return
    prefix = root.rstrip("/") + "/"
    for item in inputs:
        if is_url(item) and fs._strip_protocol(item).startswith(prefix):
            raise ExportError(f"{root}: the output would replace the input {item}")
    for name, entry in (fs.find(root, detail=True) if fs.isdir(root) else {}).items():
        relative = name[len(prefix) :]
        if entry.get("type") == "directory" or not relative.strip("/"):
            continue  # a folder marker object (``out/``, as consoles make)
        if not is_dataset_path(relative):
            raise ExportError(
                f"{root} holds files that are not a Parquet dataset ({name}); "
                f"refusing to replace it"
            )


def results_to_parquet_dask(
    paths_or_dir: PathsOrDir,
    out: str | os.PathLike[str],
    *,
    partition_by: str | list[str] | None = None,
    format: FileFormat | None = None,
    encoding: str = "utf-8",
    per: str | None = None,
    data_type: str | None = None,
    max_expansion: float = MAX_EXPANSION,
    storage_options: Mapping[str, Any] | None = None,
) -> str | Path:
    """Return ``out``, a Parquet dataset directory written by one Dask task per file (or chunk).

    The dataset holds the rows, columns and types the local engine writes; without
    ``partition_by`` it is a directory of ``part-NNNNN.parquet`` files in input order (read it
    with any Parquet reader, as one table). It runs on the active Dask scheduler.
    """
    require_dask()
    import dask

    reading, parts = _reading(
        paths_or_dir,
        format=format,
        encoding=encoding,
        per=per,
        max_expansion=max_expansion,
        storage_options=storage_options,
        data_type=data_type,
        outputs=[out],
    )
    columns = partition_columns(partition_by, reading.out_schema) if partition_by else []
    check_download_ids(list(dict.fromkeys(p.name for p in parts)), columns)
    fs, root = filesystem(out, storage_options)
    where = os.fspath(out)
    check_output(fs, root, where, dataset=True)
    with store_errors(where, "checking the output"):
        _check_target(fs, root, list(dict.fromkeys(p.file for p in parts)))
    with (
        store_errors(where, "writing the dataset"),
        atomic_fs_dir(fs, root, replaceable=is_dataset_path) as staging,
    ):
        width = max(PART_DIGITS, len(str(len(parts) - 1)))
        tasks = [
            dask.delayed(_write_part_or_error, pure=False)(
                part, f"part-{i:0{width}d}", reading, fs, staging.path, columns
            )
            for i, part in enumerate(parts)
        ]
        results = dask.compute(*tasks)
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            raise failed[0]
        for r in results:
            assert not isinstance(r, Exception)
            staging.wrote(r[0])
    return os.fspath(out) if is_url(out) else Path(out)
