"""Result files: read them as a DataFrame, stream them to Parquet.

A download's data is in its result files (CSV, or newline-delimited JSON ``.txt``), about
10,000 records each; :func:`dfkit.fetch.fetch_results` fetches them::

    read_results("data/")               -> every record (+ download_id, source_file)
    read_results("data/", per="reviews") -> one row per review, with the record's id
    results_to_parquet("data/", "x.parquet") -> Parquet file or hive dataset, in constant memory

Both read the files through :mod:`dfkit.resultfiles` and type every field by the field
catalog (:mod:`dfkit.catalog`), so a field has the same type in every file and download.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from dfkit._atomic import atomic_dir, atomic_file
from dfkit.errors import ArgumentError
from dfkit.parquet import check_target
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
    BLOCK_BYTES,
    MAX_EXPANSION,
    THREADS,
    FieldNotInSchema,
    FileFormat,
    PathsOrDir,
    discover,
    file_format,
    memory_pool,
    read_result_batches,
    result_schema,
)

if TYPE_CHECKING:
    import dask.dataframe as dd
    from tqdm import tqdm

__all__ = ["read_results", "results_to_parquet"]

#: Where the records are converted: this process, or a Dask scheduler (``dfkit[dask]``).
Engine = Literal["local", "dask"]

#: Bytes of each JSON-lines file whose field names make the first schema (see below).
SAMPLE_BYTES = BLOCK_BYTES["json"]
#: Batches a reader may run ahead of its consumer: with one reader thread while writing
#: Parquet (reading overlaps writing), this bounds the memory in flight. ``read_results``, which
#: holds everything anyway, reads ``READERS`` files at once, each as far ahead as it can.
QUEUED = 1
READERS = 2


def _check_format(format: str | None) -> FileFormat | None:
    if format is None:
        return None
    f = format.lower()
    if f == "csv":
        return "csv"
    if f in ("json", "jsonl", "ndjson", "txt"):
        return "json"
    raise ArgumentError(f"format must be 'csv', 'json' or None, not {format!r}")


# --- per --------------------------------------------------------------------------------------


def _engine(engine: str, storage_options: Mapping[str, Any] | None, *paths: Any) -> Engine:
    if engine == "dask":
        return "dask"
    if engine != "local":
        raise ArgumentError(f"engine must be 'local' or 'dask', not {engine!r}")
    from dfkit.storage import is_url  # imports no fsspec itself

    # Lists are looked into; any other iterable (a generator) is left for discover() to consume.
    items = [
        p
        for x in paths
        for p in ([x] if isinstance(x, (str, os.PathLike)) else x if isinstance(x, list) else [])
    ]
    url = next((p for p in items if is_url(p)), None)
    if url is not None or storage_options is not None:
        raise ArgumentError(
            f"{url or 'storage_options='}: fsspec URLs and storage_options need engine='dask'"
        )
    return "local"


# --- reading ------------------------------------------------------------------------------------


def _batches(
    files: list[Path],
    schema: pa.Schema,
    *,
    format: FileFormat | None,
    encoding: str,
    per: str | None,
    max_expansion: float,
    on_bytes: Callable[[int], None] | None = None,
    readers: int = 1,
    queued: int = QUEUED,
    release_memory: bool = True,
    threads: int | Mapping[FileFormat, int] = THREADS,
) -> Generator[pa.RecordBatch, None, None]:
    """Yield the batches of ``files`` in order; ``threads`` convert each file's blocks (per
    format if a mapping)."""

    def one(path: Path) -> Iterator[pa.RecordBatch]:
        if isinstance(threads, Mapping):
            fmt = format or file_format(path)
            n = threads[fmt] if fmt is not None else 1
        else:
            n = threads
        for batch in read_result_batches(
            path,
            schema,
            format=format,
            encoding=encoding,
            max_expansion=max_expansion,
            on_bytes=on_bytes,
            release_memory=release_memory,
            threads=n,
        ):
            yield to_elements(batch, per) if per else batch

    return _in_order(files, one, readers, queued)


def _in_order(
    files: list[Path],
    read: Callable[[Path], Iterator[pa.RecordBatch]],
    readers: int,
    queued: int = QUEUED,
) -> Generator[pa.RecordBatch, None, None]:
    """Yield every file's batches in file order, read on ``readers`` background threads.

    Arrow parses, converts and writes without the GIL, so reading the next batch overlaps
    writing this one; each reader waits once it is ``queued`` batches ahead (0: never), which
    keeps memory bounded whatever the input's size. An error surfaces where its file's rows would.
    """
    queues: list[queue.Queue[tuple[int, Any]]] = [queue.Queue(queued) for _ in files]
    stop = threading.Event()

    def put(q: queue.Queue[tuple[int, Any]], item: tuple[int, Any]) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce(i: int) -> None:
        try:
            for batch in read(files[i]):
                if not put(queues[i], (0, batch)):
                    return
            put(queues[i], (1, None))
        except BaseException as e:  # handed to the consumer, raised in order
            put(queues[i], (2, e))

    pool = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="dfkit-read")
    try:
        for i in range(len(files)):
            pool.submit(produce, i)
        for q in queues:
            while True:
                kind, item = q.get()
                if kind == 0:
                    yield item
                elif kind == 1:
                    break
                else:
                    raise item
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


@overload
def read_results(
    paths_or_dir: PathsOrDir,
    *,
    format: str | None = ...,
    encoding: str = ...,
    per: str | None = ...,
    data_type: str | None = ...,
    dtype: Any = ...,
    max_expansion: float = ...,
    engine: Literal["local"] = ...,
    storage_options: None = ...,
) -> pd.DataFrame: ...
@overload
def read_results(
    paths_or_dir: PathsOrDir,
    *,
    format: str | None = ...,
    encoding: str = ...,
    per: str | None = ...,
    data_type: str | None = ...,
    dtype: Any = ...,
    max_expansion: float = ...,
    engine: Literal["dask"],
    storage_options: Mapping[str, Any] | None = ...,
) -> dd.DataFrame: ...
def read_results(
    paths_or_dir: PathsOrDir,
    *,
    format: str | None = None,
    encoding: str = "utf-8",
    per: str | None = None,
    data_type: str | None = None,
    dtype: Any = None,
    max_expansion: float = MAX_EXPANSION,
    engine: Engine = "local",
    storage_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame | dd.DataFrame:
    """Return every record of the result files as one DataFrame, typed by the field catalog.

    ``paths_or_dir`` is a directory (its ``.csv``, ``.txt``, ``.json``, ``.jsonl`` files,
    optionally gzipped, in natural order), a file, or a list of them. Every field gets its
    catalog type whatever the values (``postalCode`` text, ``reviews.rating`` a float, dates
    UTC ``datetime64``, flags ``boolean``; see the README's "Result records schema"), so two
    files, or two downloads, give the same dtypes. Multi-valued fields (``categories``,
    ``sourceURLs``) and nested lists (``reviews``, ``prices``) are Arrow-backed list columns,
    from CSV and JSON alike. Two columns are added: ``download_id`` (from the file name
    ``<id>_<n>.<ext>``) and ``source_file``.

    ``per="reviews"`` (or any nested list the files have) gives one row per element instead,
    with the record's ``id``. ``data_type="product"`` (or business, property, people) gives
    every catalogued field of that data type a column, in name order, whether or not a record
    holds it: JSON-lines files, which name only the fields their records have, then give the
    same columns whatever their records (one state's subset, another download).
    ``encoding`` reads files that are not UTF-8 (``"cp1252"``); ``max_expansion`` caps how
    many times its size a ``.gz`` file may expand. ``dtype``
    converts top-level columns afterwards (a mapping of existing columns, or one dtype for
    all; to integers only when no value changes). A malformed line or a bad value raises
    :class:`~dfkit.ResultFileError` with the file and line number.

    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> csv = "name,postalCode,reviews.rating\\nA,02134,5\\nB,78701,4.5\\n"
    >>> _ = (d / "847070_0.csv").write_text(csv)
    >>> df = read_results(d, per="reviews")
    >>> df[["reviews.rating", "reviews.date"]].dtypes.astype(str).to_dict()
    {'reviews.rating': 'Float64', 'reviews.date': 'datetime64[us, UTC]'}
    >>> read_results(d)["postalCode"].tolist()
    ['02134', '78701']

    ``engine="dask"`` (``pip install 'dfkit[dask]'``) returns a lazy ``dask.dataframe``
    instead, one partition per file (or per chunk of a large JSON-lines file), with these same
    columns and dtypes; paths may then be fsspec URLs (``s3://bucket/data/``), opened with
    ``storage_options``. See :mod:`dfkit.results_dask`.
    """
    fmt = _check_format(format)
    if _engine(engine, storage_options, paths_or_dir) == "dask":
        from dfkit.results_dask import read_results_dask

        return read_results_dask(
            paths_or_dir,
            format=fmt,
            encoding=encoding,
            per=per,
            dtype=dtype,
            max_expansion=max_expansion,
            storage_options=storage_options,
            data_type=data_type,
        )
    files = discover(paths_or_dir, format=fmt)
    schema = result_schema(
        files, format=fmt, encoding=encoding, max_expansion=max_expansion, data_type=data_type
    )
    level = check_per(schema, per)
    out_schema = element_schema(schema, level) if level else schema
    table = pa.Table.from_batches(
        list(
            _batches(
                files,
                schema,
                format=fmt,
                encoding=encoding,
                per=level,
                max_expansion=max_expansion,
                readers=READERS,
                # Every batch is kept anyway: the later files need not wait, and the memory a
                # block's conversion frees is better kept for the next block's.
                queued=0,
                release_memory=False,
            )
        ),
        schema=out_schema,
    )
    return arrow_to_frame(table, dtype)


def _progress_bar(show: bool, total: int) -> tqdm[Any] | None:
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="results")


def _counter(bar: tqdm[Any] | None) -> Callable[[int], None] | None:
    if bar is None:
        return None

    def count(n: int) -> None:
        bar.update(n)

    return count


@overload
def results_to_parquet(
    paths_or_dir: PathsOrDir,
    out: str | os.PathLike[str],
    *,
    partition_by: str | list[str] | None = ...,
    format: str | None = ...,
    encoding: str = ...,
    per: str | None = ...,
    data_type: str | None = ...,
    progress: bool = ...,
    max_expansion: float = ...,
    engine: Literal["local"] = ...,
    storage_options: None = ...,
) -> Path: ...
@overload
def results_to_parquet(
    paths_or_dir: PathsOrDir,
    out: str | os.PathLike[str],
    *,
    partition_by: str | list[str] | None = ...,
    format: str | None = ...,
    encoding: str = ...,
    per: str | None = ...,
    data_type: str | None = ...,
    progress: bool = ...,
    max_expansion: float = ...,
    engine: Engine,
    storage_options: Mapping[str, Any] | None = ...,
) -> Path | str: ...
def results_to_parquet(
    paths_or_dir: PathsOrDir,
    out: str | os.PathLike[str],
    *,
    partition_by: str | list[str] | None = None,
    format: str | None = None,
    encoding: str = "utf-8",
    per: str | None = None,
    data_type: str | None = None,
    progress: bool = False,
    max_expansion: float = MAX_EXPANSION,
    engine: Engine = "local",
    storage_options: Mapping[str, Any] | None = None,
) -> Path | str:
    """Return the path of a Parquet file (or hive dataset) holding every record of the files.

    The columns and types are :func:`read_results`'s, from the field catalog: the same field
    has the same Parquet type in every file and every download, so datasets over several
    downloads read back as one. Nested lists are Parquet lists of structs; anything nested that
    the catalog does not know is stored as JSON text, so every file written reads back.

    Streams the files in batches, so memory does not grow with the input, writing
    zstd-compressed row groups of about 24 MB in memory. The field names come from the CSV
    headers and the first block of each JSON-lines file; a field first seen further on makes
    it scan the files whole and write them again.

    ``partition_by`` (a column or list, e.g. ``"download_id"``) writes a hive dataset directory
    ``out/download_id=847070/part-0.parquet``. Either way the output appears complete or not
    at all. ``progress=True`` shows a bar in bytes read over the input's size. ``per``,
    ``data_type``, ``encoding`` and ``max_expansion`` are :func:`read_results`'s: pass
    ``data_type`` for Parquet files whose columns do not depend on the records they hold.

    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "1_0.csv").write_text("upc,prices.amountMax\\n007,1.50\\n")
    >>> _ = (d / "1_1.csv").write_text("upc,prices.amountMax,brand\\n008,2,Acme\\n")
    >>> p = results_to_parquet(d, d / "out.parquet")
    >>> import pyarrow.parquet as pq
    >>> pq.read_table(p).column("prices").to_pylist()[0][0]["amountMax"]
    1.5

    ``engine="dask"`` (``pip install 'dfkit[dask]'``) writes the same rows, columns and types
    with one task per file (or chunk) on the active Dask scheduler, always as a dataset
    directory (``part-NNNNN.parquet`` files in input order without ``partition_by``);
    ``paths_or_dir`` and ``out`` may then be fsspec URLs, opened with ``storage_options``.
    See :mod:`dfkit.results_dask`.
    """
    fmt = _check_format(format)
    if _engine(engine, storage_options, paths_or_dir, [out]) == "dask":
        from dfkit.results_dask import results_to_parquet_dask

        return results_to_parquet_dask(
            paths_or_dir,
            out,
            partition_by=partition_by,
            format=fmt,
            encoding=encoding,
            per=per,
            max_expansion=max_expansion,
            storage_options=storage_options,
            data_type=data_type,
        )
    files = discover(paths_or_dir, format=fmt)
    sizes = [p.stat().st_size for p in files]
    scanned = sum(s for p, s in zip(files, sizes, strict=True) if (fmt or file_format(p)) == "json")
    target = Path(out)
    check_target(target, dataset=partition_by is not None, inputs=files)
    if partition_by is not None:
        check_download_ids(
            [p.name for p in files],
            [partition_by] if isinstance(partition_by, str) else partition_by,
        )
    bar = _progress_bar(progress, sum(sizes))
    try:
        # The first block of each JSON file names its fields almost always; a field first seen
        # later is caught while writing, and then the files are scanned whole and written again.
        schema = result_schema(
            files,
            format=fmt,
            encoding=encoding,
            max_expansion=max_expansion,
            sample_bytes=SAMPLE_BYTES if scanned else None,
            data_type=data_type,
        )
        try:
            return _write(files, target, schema, fmt, encoding, per, partition_by,
                          max_expansion, bar)  # fmt: skip
        except FieldNotInSchema:
            if bar is not None:
                bar.reset()
            schema = result_schema(
                files,
                format=fmt,
                encoding=encoding,
                max_expansion=max_expansion,
                data_type=data_type,
            )
            return _write(files, target, schema, fmt, encoding, per, partition_by,
                          max_expansion, bar)  # fmt: skip
    finally:
        if bar is not None:
            bar.close()


def _write(
    files: list[Path],
    target: Path,
    schema: pa.Schema,
    fmt: FileFormat | None,
    encoding: str,
    per: str | None,
    partition_by: str | list[str] | None,
    max_expansion: float,
    bar: tqdm[Any] | None,
) -> Path:
    """Write the records of ``files`` with ``schema`` to ``target``; return ``target``."""
    level = check_per(schema, per)
    out_schema = element_schema(schema, level) if level else schema
    batches = _batches(
        files,
        schema,
        format=fmt,
        encoding=encoding,
        per=level,
        max_expansion=max_expansion,
        on_bytes=_counter(bar),
        # One Parquet file: CSV is read and converted on one thread while another writes (see
        # _write_file); JSON lines on THREADS (Arrow's JSON parse is the slow part, and its
        # blocks are a third of the memory: 0.2 GB in 0.72x the time, the same peak at 2 GB).
        # A dataset is written as it is read.
        threads=THREADS if partition_by is not None else {"csv": 1, "json": THREADS},
    )
    if partition_by is None:
        # Closed whatever happens: its reading threads stop now, not when a garbage
        # collection finds a failed write's traceback (the process would not exit until then).
        with contextlib.closing(batches), atomic_file(target) as tmp:
            _write_file(batches, out_schema, tmp)
        return target
    parts = partition_columns(partition_by, out_schema)
    with contextlib.closing(batches), atomic_dir(target) as tmpdir:
        source: pa.RecordBatchReader | pads.Scanner
        source = pa.RecordBatchReader.from_batches(out_schema, batches)
        if "use_threads" in KEEP_ORDER:  # pyarrow < 20 scans a reader on threads whatever it is
            source = pads.Scanner.from_batches(source, use_threads=False)  # told: one thread
        pads.write_dataset(
            source,
            tmpdir,
            format="parquet",
            partitioning=pads.partitioning(
                pa.schema([out_schema.field(n) for n in parts]), flavor="hive"
            ),
            basename_template="part-{i}.parquet",
            file_options=pads.ParquetFileFormat().make_write_options(compression="zstd"),
            max_rows_per_group=1 << 17,
            max_partitions=1 << 20,
            existing_data_behavior="overwrite_or_ignore",
            **KEEP_ORDER,
        )
    return target


def _write_file(batches: Iterator[pa.RecordBatch], schema: pa.Schema, path: Path) -> None:
    """Write ``batches`` to ``path`` in row groups of about 3/4 of ``ROW_GROUP_BYTES``.

    Parquet's writer runs on one thread: each row group is written on a thread of its own
    while the next is read, so reading and writing keep two cores busy (at 2 GB of CSV, 13-15
    s against 18-21 s). Two row groups are then held at once, one written and one gathered,
    so each is smaller: the peak stays that of one full row group written between reads. CSV
    batches come from one reading thread that also converts them: more converting threads,
    with a row group being written, held too many blocks at once for the memory bound. JSON
    lines' blocks hold a third as much and take longer to parse: they are converted on
    ``THREADS`` (see _write).
    """
    group_bytes = ROW_GROUP_BYTES * 3 // 4
    writer = pq.ParquetWriter(str(path), schema, compression="zstd", memory_pool=memory_pool())
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dfkit-write") as pool:
            written: Future[None] | None = None
            pending: list[pa.RecordBatch] = []
            size = 0
            try:
                for batch in batches:
                    pending.append(batch)
                    size += batch.nbytes
                    if size >= group_bytes:
                        if written is not None:
                            written.result()  # at most one row group written, one gathered
                        written = pool.submit(_flush, writer, pending, schema)
                        pending, size = [], 0
            except Exception:
                if written is not None:
                    written.result()  # the earlier rows' failure (a full disk) comes first
                raise
            if written is not None:
                written.result()
            _flush(writer, pending, schema)
    finally:
        writer.close()


def _flush(writer: pq.ParquetWriter, batches: list[pa.RecordBatch], schema: pa.Schema) -> None:
    if not batches:
        return
    table = pa.Table.from_batches(batches, schema=schema)
    writer.write_table(table, row_group_size=max(table.num_rows, 1))
    del table, batches[:]
    # Hand freed buffers back to the OS, so RSS follows what is in use.
    # (The default pool too, when the records are read with another: see memory_pool.)
    memory_pool().release_unused()
    pa.default_memory_pool().release_unused()
