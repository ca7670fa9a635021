"""Result files on disk: find them, and read each one into Arrow batches typed by the catalog.

``read_results`` and ``results_to_parquet`` (and the Dask engine) read files only through the
two functions below, so every engine gives the same columns with the same types:

``result_schema(sources, *, format=None, encoding="utf-8", sample_bytes=None) -> pa.Schema``
    The Arrow schema of the records of ``sources`` (paths, or open binary files). Each field's
    type comes from the field catalog (:mod:`dfkit.catalog`), never from the values, so only
    *which* fields the files carry is read: a CSV's header, a JSON-lines file's keys (all of
    its records, or the first ``sample_bytes`` of each file). The schema ends with the
    ``download_id`` and ``source_file`` columns.

``read_result_batches(source, schema, *, format=None, encoding="utf-8", name=None,
byte_range=None, block_size=None, max_expansion=MAX_EXPANSION, on_bytes=None, threads=THREADS,
release_memory=True) -> Iterator[pa.RecordBatch]``
    The records of one file (a path, or an open binary file such as an fsspec one, with
    ``name`` its file name) as record batches of exactly ``schema``, about ``block_size``
    bytes of input each (by default ``BLOCK_BYTES`` of the format; CSV twelve blocks at a
    time), converted on ``threads`` threads. ``byte_range=(start, end)`` reads only the JSON
    lines that start in ``[start, end)`` of an uncompressed JSON-lines file, or the records
    of ``[start, end)`` of an uncompressed UTF-8 CSV when ``start`` is a record's first byte
    (as :func:`dfkit.ranges.csv_ranges` finds them) and no record spans rows
    (:func:`csv_records_span_rows`), so one file can be split into partitions.
    A field the schema lacks raises :class:`FieldNotInSchema`, a
    ``ResultFileError`` (with ``sample_bytes`` that can happen; a full schema pass never misses
    one).

Both are stable: other engines build on them. Every failure is a ``ResultFileError`` whose
message starts with the file name (and the line when there is one).

How a file becomes typed columns (see the README's "Result records schema"):

- CSV is read as text by Arrow's CSV reader; dotted columns of a catalogued nested list
  (``reviews.rating``, ``prices.amountMax``) become that list. Datafiniti writes one row per
  element, the record's other cells repeated: consecutive rows that agree on all of those are
  one record (a record cut by a block's end is held for the next block); multi-valued cells
  (``categories``, ``dateSeen``, ``sourceURLs``) are split by
  :func:`dfkit.catalog.split_rule`; a cell holding a JSON array (``prices`` in some files) is
  parsed.
- JSON lines are parsed by Arrow's JSON reader, block by block, then conformed to the catalog
  types (a lone value where the catalog keeps several becomes a one-element list). A block
  that Arrow cannot parse as one table (a field that is a string in one record and a list in
  the next) is read record by record instead, with the same result.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import csv
import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from dfkit.catalog import (
    TIMESTAMP,
    arrow_type,
    is_records,
    record_struct,
    split_rule,
    top_level_fields,
)
from dfkit.errors import ArgumentError, ResultFileError

__all__ = [
    "BLOCK_BYTES",
    "BOM",
    "DOCUMENT_HEAD",
    "DOWNLOAD_ID",
    "MAX_EXPANSION",
    "SOURCE_FILE",
    "THREADS",
    "FieldNotInSchema",
    "FileFormat",
    "PathsOrDir",
    "ResultFileNotFound",
    "Source",
    "can_read_in_ranges",
    "csv_records_span_rows",
    "discover",
    "download_id_of",
    "file_format",
    "is_json_document",
    "memory_pool",
    "natural_key",
    "read_result_batches",
    "result_schema",
    "unclosed_quote",
    "with_catalog_fields",
]

FileFormat = Literal["csv", "json"]
PathsOrDir = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
#: A result file: a path, or an open binary file (``name=`` then gives its file name).
Source = str | os.PathLike[str] | IO[bytes]

#: Columns added to every row: the download id (from the file name) and the file's name.
DOWNLOAD_ID = "download_id"
SOURCE_FILE = "source_file"
#: Bytes of input read per block, by format; a CSV record must fit in one block (the real
#: files' longest is 13 KB). A CSV batch takes about three times its input in memory (Arrow's
#: text columns, then the typed ones), and Arrow's CSV parser allocates many times its block,
#: memory that jemalloc keeps once freed until it is released: at 2 GB of CSV to Parquet, 1
#: MB blocks peak 30-70 MB lower than 2 MB ones, and 512 KB blocks lower again. JSON blocks
#: are cheaper to hold and costlier to start.
BLOCK_BYTES: dict[FileFormat, int] = {"csv": 512 << 10, "json": 4 << 20}
#: CSV blocks converted together: each column's conversion costs some calls whatever its
#: size, so twelve parsed blocks (6 MB of input) are joined first. (At 2 GB of CSV to
#: Parquet, medians of 4 rounds: 512 KB blocks twelve at a time took 0.84x the time of 1 MB
#: blocks four at a time, peaking at 350 MB against 350; eight at a time 0.92x, 322 MB;
#: sixteen 0.82x, 368 MB.)
_CSV_BLOCKS_PER_BATCH = 12
#: A CSV file with a record longer than its blocks is read again in blocks of the power of two
#: above that record, up to this size (Arrow's parser takes many times its block: a longer
#: record is an error that names the setting to raise).
_MAX_GROWN_CSV_BLOCK = 16 << 20
#: A compressed file may expand to at most this many times its size (and 64 MB at least);
#: more is refused as a decompression bomb unless ``max_expansion`` is raised.
MAX_EXPANSION = 200.0
_MIN_EXPANDED = 64 << 20

_EXTENSIONS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".txt": "json",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}
#: ``<id>_<n>.<ext>``, the name ``fetch_results`` (and Datafiniti) gives result files.
_NAME = re.compile(r"^(?P<id>[A-Za-z0-9][A-Za-z0-9_-]*)_(?P<n>[0-9]+)\.")
#: A run of digits too long for orjson to keep exact (it turns such integers into floats).
_LONG_DIGITS = re.compile(rb"[0-9]{17}")
_OFFSET = r"[+-][0-9]{2}:?[0-9]{2}$"
#: Bytes of a JSON file's start that tell a whole document from JSON lines.
DOCUMENT_HEAD = 1 << 16
#: The UTF-8 byte order mark some result files start with (it belongs to line 1).
BOM = b"\xef\xbb\xbf"
#: Threads that convert one file's blocks at once (Arrow releases the GIL as it parses and
#: converts, so they run on as many cores); ``read_result_batches(threads=)`` changes it.
THREADS = max(1, min(4, os.cpu_count() or 1))


def memory_pool() -> pa.MemoryPool:
    """Return the Arrow memory pool that result files are read, converted and written with.

    jemalloc where pyarrow has it and the process's default pool is mimalloc that nobody
    chose (``ARROW_DEFAULT_MEMORY_POOL`` unset): Arrow's CSV reader allocates some 19 bytes per
    byte of input, which mimalloc (with transparent huge pages) hands back to the OS and
    faults in again, zeroed by the kernel; jemalloc keeps freed pages for a second and shares
    them between threads (on the 0.2 GB benchmark CSVs: half the kernel time, a tenth less
    peak memory). The default pool otherwise: when ``ARROW_DEFAULT_MEMORY_POOL`` names one,
    when the default is not mimalloc (pyarrow 15's jemalloc, or a pool set with
    ``pa.set_memory_pool``), or in a build without jemalloc. (Setting mimalloc itself with
    ``pa.set_memory_pool`` cannot be told from the default: name it in the variable to keep
    it.) The process's default pool is never changed.

    >>> memory_pool().backend_name in ("jemalloc", "mimalloc", "system")
    True
    """
    default = pa.default_memory_pool()
    if default.backend_name != "mimalloc" or os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return default
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc (on Windows, for one)
        return default


def file_format(path: str | os.PathLike[str]) -> FileFormat | None:
    """Return ``"csv"`` or ``"json"`` from the file's extension (``.gz`` allowed), else None.

    >>> file_format("847070_0.csv.gz"), file_format("847070_1.txt"), file_format("notes.md")
    ('csv', 'json', None)
    """
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return _EXTENSIONS.get(os.path.splitext(name)[1])


def can_read_in_ranges(name: str, format: FileFormat, encoding: str = "utf-8") -> bool:
    """Return whether ``read_result_batches(byte_range=...)`` can read this file in ranges.

    Only uncompressed files can, and CSV only in UTF-8 (where a range's first byte is known).

    >>> can_read_in_ranges("1_0.csv", "csv"), can_read_in_ranges("1_0.txt.gz", "json")
    (True, False)
    """
    return not name.lower().endswith(".gz") and (
        format == "json" or codecs.lookup(encoding).name == "utf-8"
    )


def csv_records_span_rows(
    source: Source,
    *,
    name: str | None = None,
    encoding: str = "utf-8",
    max_expansion: float = MAX_EXPANSION,
) -> bool:
    """True when the CSV ``source`` writes a record over several rows, one per element of a
    nested list (its header has ``reviews.*``-like columns and others): such a file is read
    whole, never in byte ranges, so that no record is cut in two.

    >>> import io
    >>> csv_records_span_rows(io.BytesIO(b"id,reviews.rating\\na,5\\n"), name="1_0.csv")
    True
    >>> csv_records_span_rows(io.BytesIO(b"id,name\\na,b\\n"), name="1_0.csv")
    False
    """
    name = _name_of(source, name)
    with _open(source, name, encoding=encoding, max_expansion=max_expansion) as stream:
        header, _ = _csv_header(stream, name)
    return _record_columns(_csv_plan(header)) is not None


def is_json_document(head: bytes) -> bool:
    """Return whether a JSON file starting with ``head`` is one document, not JSON lines.

    A document (a pretty-printed search answer, a list of objects) is read whole, never in
    ranges; ``head`` is the file's first :data:`DOCUMENT_HEAD` bytes.

    >>> is_json_document(b'{\\n  "records": []\\n}'), is_json_document(b'{"id": "a"}\\n')
    (True, False)
    """
    body = head[3:] if head.startswith(BOM) else head
    first_line = body.lstrip().split(b"\n", 1)[0].strip()
    return first_line in (b"{", b"[") or body.lstrip().startswith(b"[")


def download_id_of(name: str) -> str | None:
    """Return the download id in a result file name ``<id>_<n>.<ext>``, or None.

    >>> download_id_of("847070_2.csv"), download_id_of("data.csv")
    ('847070', None)
    """
    m = _NAME.match(name)
    return m.group("id") if m else None


def natural_key(name: str) -> list[tuple[int, int, str]]:
    """Return the key that sorts file names in natural order (numbers by their value).

    >>> sorted(["847070_10.csv", "847070_2.csv"], key=natural_key)
    ['847070_2.csv', '847070_10.csv']
    """
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"([0-9]+)", name)]


def discover(paths_or_dir: PathsOrDir, *, format: FileFormat | None = None) -> list[Path]:
    """Return the result files named by a directory, a path, or a list of them, in order.

    In a directory, files with a result extension (csv, txt, json, jsonl, optionally .gz) are
    taken in natural order; hidden files (such as unfinished downloads) are not; a directory
    without any is an error. A file named explicitly must exist and, unless ``format`` is
    given, have a result extension.
    """
    items: list[str | os.PathLike[str]] = (
        [paths_or_dir] if isinstance(paths_or_dir, (str, os.PathLike)) else list(paths_or_dir)
    )
    files: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = [
                c
                for c in p.iterdir()
                if c.is_file() and not c.name.startswith(".") and file_format(c) is not None
            ]
            if not found:
                raise ResultFileError(
                    f"no result files in {p} (expected .csv, .txt, .json or .jsonl files, "
                    "optionally .gz)",
                    path=str(p),
                )
            files.extend(sorted(found, key=lambda p: natural_key(p.name)))
        elif p.is_file():
            if format is None and file_format(p) is None:
                raise ResultFileError(
                    f"{p.name}: cannot tell the format from the extension; expected .csv, .txt, "
                    ".json or .jsonl (optionally .gz), or pass format='csv' or 'json'",
                    path=str(p),
                )
            files.append(p)
        else:
            raise ResultFileNotFound(f"no such result file or directory: {p}", path=str(p))
    return files


class ResultFileNotFound(ResultFileError, FileNotFoundError):
    """A result file or directory that does not exist (also a ``FileNotFoundError``)."""


class FieldNotInSchema(ResultFileError):
    """A file has a field (``field``, dotted) the schema it is read with does not have."""

    def __init__(self, message: str, *, path: str, field: str) -> None:
        super().__init__(message, path=path)
        self.field = field


# --- opening: decompression (capped), transcoding, counting ------------------------------------


class _Input(io.RawIOBase):
    """A readable binary stream over a result file: gunzipped, capped, UTF-8, counted."""

    def __init__(
        self,
        raw: IO[bytes],
        name: str,
        *,
        gz: bool,
        encoding: str,
        max_expansion: float,
        on_bytes: Callable[[int], None] | None,
        at_start: bool = True,
    ) -> None:
        self.name_ = name
        self._raw = raw
        self._on_bytes = on_bytes
        self._raw_pos = _tell(raw)
        self._stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw
        self._limit: int | None = None
        if gz:
            size = _size(raw)
            if size is not None:
                self._limit = max(_MIN_EXPANDED, int(size * max_expansion))
        self._expanded = 0
        self._max_expansion = max_expansion
        self._decoder = (
            None
            if codecs.lookup(encoding).name == "utf-8"
            else codecs.getincrementaldecoder(encoding)()
        )
        self._encoding = encoding
        self._pending = b""
        self._eof = False
        # Line breaks decoded so far, to name a decode error's line (None: read from within
        # the file, where the line is not known).
        self._lines: int | None = 0 if at_start else None

    def readable(self) -> bool:
        return True

    def _read_raw(self, n: int) -> bytes:
        try:
            data: bytes = self._stream.read(n)
        except (EOFError, zlib.error, gzip.BadGzipFile) as e:
            raise ResultFileError(
                f"{self.name_}: the gzip data is truncated or corrupt ({e}) after "
                f"{self._expanded:,} bytes",
                path=self.name_,
            ) from None
        if self._on_bytes is not None:
            pos = _tell(self._raw)
            if pos is not None and self._raw_pos is not None:
                self._on_bytes(pos - self._raw_pos)
                self._raw_pos = pos
            else:
                self._on_bytes(len(data))
        self._expanded += len(data)
        if self._limit is not None and self._expanded > self._limit:
            raise ResultFileError(
                f"{self.name_}: expands to more than {self._limit:,} bytes "
                f"({self._max_expansion:g} times its compressed size); refusing it as a "
                "possible decompression bomb (raise max_expansion= to read it)",
                path=self.name_,
            )
        return data

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            return b"".join(iter(lambda: self.read(1 << 20), b""))
        if self._decoder is None:
            return self._read_raw(n)
        while len(self._pending) < n and not self._eof:
            data = self._read_raw(max(n, 1 << 16))
            try:
                if not data:
                    self._eof = True
                    text = self._decoder.decode(b"", final=True)
                else:
                    text = self._decoder.decode(data)
            except UnicodeDecodeError as e:
                raise self._decode_error(e) from None
            if self._lines is not None:
                self._lines += text.count("\n")
            self._pending += text.encode("utf-8")
        out, self._pending = self._pending[:n], self._pending[n:]
        return out

    def _decode_error(self, e: UnicodeDecodeError) -> ResultFileError:
        """The error for bytes that are not ``encoding``: their line, the byte, and latin-1
        (which reads any byte) to try."""
        line = None
        if self._lines is not None:
            before = e.object[: e.start].decode(self._encoding, errors="replace")
            line = self._lines + before.count("\n") + 1
        where = f"line {line}: " if line else ""
        byte = e.object[e.start : e.start + 1].hex()
        return ResultFileError(
            f"{self.name_}: {where}not valid {self._encoding} ({e.reason}: byte 0x{byte}); "
            "pass the file's encoding as encoding= (encoding='latin-1' reads any bytes)",
            path=self.name_,
            line=line,
        )

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def _tell(f: IO[bytes]) -> int | None:
    try:
        return f.tell()
    except (OSError, AttributeError, ValueError):
        return None


def _size(f: IO[bytes]) -> int | None:
    try:
        return os.fstat(f.fileno()).st_size
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        size = getattr(f, "size", None)
        return int(size) if isinstance(size, int) else None


def _name_of(source: Source, name: str | None) -> str:
    if name is not None:
        return Path(name).name
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    return Path(str(getattr(source, "name", "<file>"))).name


@contextlib.contextmanager
def _open(
    source: Source,
    name: str,
    *,
    encoding: str,
    max_expansion: float,
    on_bytes: Callable[[int], None] | None = None,
    seek: int = 0,
) -> Iterator[_Input]:
    gz = name.lower().endswith(".gz")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ArgumentError(f"encoding: unknown encoding {encoding!r}") from None
    if isinstance(source, (str, os.PathLike)):
        try:
            raw: IO[bytes] = open(source, "rb")  # noqa: SIM115
        except FileNotFoundError:
            raise ResultFileNotFound(f"no such result file: {source}", path=str(source)) from None
        with raw:
            if seek:
                raw.seek(seek)
            yield _Input(
                raw,
                name,
                gz=gz,
                encoding=encoding,
                max_expansion=max_expansion,
                on_bytes=on_bytes,
                at_start=not seek,
            )
    else:
        if seek:
            source.seek(seek)
        yield _Input(
            source,
            name,
            gz=gz,
            encoding=encoding,
            max_expansion=max_expansion,
            on_bytes=on_bytes,
            at_start=not seek,
        )


def _format_of(name: str, format: FileFormat | None) -> FileFormat:
    fmt = format or file_format(name)
    if fmt is None:
        raise ResultFileError(
            f"{name}: cannot tell the format from the extension; pass format='csv' or 'json'",
            path=name,
        )
    return fmt


# --- converting blocks on threads, in order ---------------------------------------------------

_T = TypeVar("_T")
_R = TypeVar("_R")


def _converted(
    items: Iterator[_T], convert: Callable[[_T], _R], threads: int, *, release: bool = True
) -> Iterator[tuple[_T, Future[_R]]]:
    """Yield (item, the future of ``convert(item)``) in the order of ``items``.

    ``items`` is read in the caller's thread; up to ``threads`` conversions run on a pool
    meanwhile, and at most ``threads + 1`` items are held, which bounds the memory. A
    conversion's error is raised by its future's ``result()``, where its rows would be.
    ``release``: each pool thread hands the memory it freed back to the OS after each item.
    """
    if threads <= 1:
        for item in items:
            done: Future[_R] = Future()
            try:
                done.set_result(convert(item))
            except Exception as e:  # raised by result(), as from the pool
                done.set_exception(e)
            yield item, done
        return

    def run(item: _T) -> _R:
        try:
            return convert(item)
        finally:
            # Each thread keeps the memory it freed for itself: hand it back to the OS, so the
            # process's memory follows what is in use (with two threads, about 60 MB less).
            # Not when the caller keeps every batch: the next block reuses that memory, where
            # fresh pages would cost the kernel a third of the read's time to zero.
            if release:
                memory_pool().release_unused()
                pa.default_memory_pool().release_unused()  # what Arrow took from it

    pending: collections.deque[tuple[_T, Future[_R]]] = collections.deque()
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dfkit-convert")
    try:
        for item in items:
            pending.append((item, pool.submit(run, item)))
            if len(pending) >= threads:
                yield pending.popleft()
        while pending:
            yield pending.popleft()
    finally:
        for _, future in pending:
            future.cancel()
        pool.shutdown(wait=True)


# --- errors on values ---------------------------------------------------------------------------


class _BadValue(Exception):
    def __init__(self, path: str, value: Any, expected: str) -> None:
        super().__init__(path)
        self.path, self.value, self.expected = path, value, expected

    def error(
        self, name: str, where: str = "", line: int | None = None, more: int = 0
    ) -> ResultFileError:
        shown = repr(self.value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        others = f" (and {more} more bad value{'s' if more > 1 else ''})" if more else ""
        return ResultFileError(
            f"{name}: {where}{self.path}: {shown} is not {self.expected}{others} (the field "
            f"catalog types {self.path!r} as {arrow_type(self.path)})",
            path=name,
            line=line,
        )


class _Unfit(Exception):
    """The fast (Arrow) path cannot give this block the schema's types; read it record by record."""


class _UnknownField(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


_KIND_WORDS = {
    "double": "a number",
    "int64": "an integer",
    "bool": "a flag (true or false)",
}


def _expected(t: pa.DataType) -> str:
    if t == TIMESTAMP:
        return "a date and time"
    return _KIND_WORDS.get(str(t), str(t))


# --- converting text (CSV cells, JSON strings) --------------------------------------------------


def _first_bad(values: pa.Array, ok: pa.Array) -> Any:
    bad = pc.filter(values, pc.invert(pc.fill_null(ok, True)))
    return bad[0].as_py() if len(bad) else None


#: What a timestamp finer than a microsecond is not (the catalog's timestamps are in µs).
_MICROSECONDS = "a date and time to the microsecond (finer digits would be lost)"
#: Fractional seconds beyond microseconds that are not all zeros.
_FINER = re.compile(r"[T ]\d{2}:\d{2}:\d{2}[.,]\d{6}0*[1-9]")


def _blanks_to_nulls(values: pa.Array, trimmed: pa.Array | None = None) -> pa.Array | None:
    """``values`` with its empty and blank strings null (``trimmed``: the values trimmed, if
    at hand), or None when it has none: no value, as an empty CSV cell."""
    pool = memory_pool()
    if trimmed is None:
        trimmed = pc.utf8_trim_whitespace(values, memory_pool=pool)
    blank = pc.equal(trimmed, "", memory_pool=pool)
    if not pc.any(blank).as_py():
        return None
    return pc.if_else(blank, pa.scalar(None, values.type), values, memory_pool=pool)


def _text_to_timestamps(values: pa.Array, path: str) -> pa.Array:
    if values.null_count == len(values):
        return pa.nulls(len(values), TIMESTAMP)
    try:
        # A value ending in Z has no offset: the regular expression runs only on the others.
        zulu = pc.ends_with(values, "Z")
        others = values if not pc.all(zulu).as_py() else None
        if others is None or not pc.any(pc.match_substring_regex(others, _OFFSET)).as_py():
            return pc.cast(values, TIMESTAMP, memory_pool=memory_pool())
    except pa.ArrowInvalid:
        pass
    if (unblanked := _blanks_to_nulls(values)) is not None:
        return _text_to_timestamps(unblanked, path)
    # Dates without a zone, offsets other than Z (older Arrow misreads them), odd precisions.
    series = pd.Series(values.to_pandas(), dtype=object)
    parsed = pd.to_datetime(series, utc=True, format="ISO8601", errors="coerce")
    bad = series.notna() & parsed.isna()
    if bad.any():
        raise _BadValue(path, series[bad].iloc[0], "a date and time")
    exact = pa.array(parsed, type=pa.timestamp("ns", tz="UTC"))
    try:
        return exact.cast(TIMESTAMP)
    except pa.ArrowInvalid:  # nanoseconds that microseconds cannot hold: never truncated
        ns = exact.cast(pa.int64()).fill_null(0).to_numpy()
        first = int(np.flatnonzero(ns % 1000 != 0)[0])
        raise _BadValue(path, series.iloc[first], _MICROSECONDS) from None


def _text_to(values: pa.Array, t: pa.DataType, path: str) -> pa.Array:
    """Text values as type ``t`` (a scalar type); a value that does not fit raises _BadValue.

    Values are read trimmed (``" 5"`` is 5); an empty or blank one is null, but in text."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), t)
    if t == pa.string():
        return values
    if t == TIMESTAMP:
        return _text_to_timestamps(values, path)
    pool = memory_pool()
    if t == pa.bool_():
        lower = pc.utf8_lower(pc.utf8_trim_whitespace(values, memory_pool=pool), memory_pool=pool)
        if (unblanked := _blanks_to_nulls(lower, lower)) is not None:
            lower = unblanked
        ok = pc.or_kleene(pc.is_in(lower, pa.array(["true", "false"])), pc.is_null(lower))
        if not pc.all(pc.fill_null(ok, True)).as_py():
            raise _BadValue(path, _first_bad(values, ok), "a flag (true or false)")
        return pc.equal(lower, "true", memory_pool=pool)
    try:
        try:
            # Most values have no blanks around them: trim (a copy) only when the cast fails.
            return pc.cast(values, t, memory_pool=pool)
        except pa.ArrowInvalid:
            trimmed = pc.utf8_trim_whitespace(values, memory_pool=pool)
            if (unblanked := _blanks_to_nulls(trimmed, trimmed)) is not None:
                trimmed = unblanked
            return pc.cast(trimmed, t, memory_pool=pool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # The first value that fails as the conversion failed it: trimmed (" 5" is a number).
        trimmed = pc.utf8_trim_whitespace(values).to_pylist()
        for v, bare in zip(values.to_pylist(), trimmed, strict=True):
            if bare == "":
                continue  # no value
            try:
                pc.cast(pa.array([bare], pa.string()), t)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise _BadValue(path, v, _expected(t)) from None
        raise


def _one_each(values: pa.Array, valid: np.ndarray[Any, Any], t: pa.ListType) -> pa.Array:
    """A list per row: the row's value as a one-element list, null where ``valid`` is False."""
    offsets = np.zeros(len(valid) + 1, dtype=np.int32)
    np.cumsum(valid, out=offsets[1:])
    pool = memory_pool()
    kept = pc.filter(values, pa.array(valid), memory_pool=pool) if not valid.all() else values
    return pa.ListArray.from_arrays(
        pa.array(offsets),
        kept,
        type=t,
        mask=pa.array(~valid) if not valid.all() else None,
        pool=pool,
    )


_COMMA, _SPACE, _SLASH, _A, _Z = ord(","), ord(" "), ord("/"), ord("a"), ord("z")
#: What follows a comma that starts the next URL (``https?://`` or ``//``), as the bytes'
#: little-endian integer and how many bytes it has.
_URL_STARTS = [(int.from_bytes(b, "little"), len(b)) for b in (b"https://", b"http://", b"//")]


def _split_cells(values: pa.Array, path: str) -> pa.ListArray:
    """Comma-joined CSV cells as lists of strings, split by the catalog's rule for ``path``.

    Exactly ``re.split(r",(?=https?://|//)", cell)`` (URL lists: where the next URL starts) or
    ``re.split(r",(?! )", cell)`` (other lists: at a comma not followed by a space) for each
    cell, a null staying null, in one pass over the cells' bytes: numpy finds the commas that
    split (a comma and what follows it are ASCII, never part of a multibyte UTF-8 character);
    the cells' bytes are then cut into items and those commas, and Arrow keeps the items.
    ``keys`` are split as other lists, but for the commas inside an address key
    (:func:`dfkit.catalog.split_rule`; see :func:`_key_commas`).
    """
    if values.type != pa.string():
        values = values.cast(pa.string())
    n = len(values)
    valid = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    _, offsets_buf, data_buf = values.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=n + 1, offset=4 * values.offset)
    if not valid.all() and (np.diff(offsets)[~valid] != 0).any():
        # A null that still spans bytes (Arrow's CSV reader never makes one): drop its bytes.
        return _split_cells(pa.array(values.to_pylist(), pa.string()), path)
    first, size = int(offsets[0]), int(offsets[-1] - offsets[0])
    data = np.frombuffer(data_buf, dtype=np.uint8) if size else np.zeros(1, dtype=np.uint8)
    starts = offsets[:-1][valid].astype(np.int64)  # where each non-null cell starts
    ends = offsets[1:][valid].astype(np.int64)
    commas = np.flatnonzero(data[first : first + size] == _COMMA) + first
    cell = np.searchsorted(starts, commas, side="right") - 1  # among the non-null cells
    left = ends[cell] - commas - 1  # the bytes after each comma in its cell
    rule = split_rule(path)
    if not len(commas):
        split = np.zeros(0, dtype=bool)
    elif rule == "urls":
        split = _url_commas(data, commas, left)
    else:
        split = (left == 0) | (data[np.minimum(commas + 1, len(data) - 1)] != _SPACE)
        if rule == "keys":
            split &= _key_commas(data, commas, cell, starts, ends, first, size)
    at, at_cell = commas[split], cell[split]
    m, v = len(at), len(starts)
    per_cell = np.bincount(at_cell, minlength=v)
    before = np.zeros(v + 1, dtype=np.int64)  # the splitting commas in the cells before each
    np.cumsum(per_cell, out=before[1:])
    # The bytes cut into pieces: each cell's items, and between two items the comma that
    # split them; a cell's first piece is its first item.
    pieces = np.empty(v + 2 * m + 1, dtype=np.int32)
    head = np.arange(v) + 2 * before[:-1]
    pieces[head] = starts
    comma_piece = head[at_cell] + 1 + 2 * (np.arange(m) - before[at_cell])
    pieces[comma_piece] = at
    pieces[comma_piece + 1] = at + 1
    pieces[-1] = first + size
    # Offsets from 0, over the cells' bytes only: Arrow 15's kernels (``if_else``) misread
    # string arrays whose first offset is not 0, and made invalid arrays of them.
    pieces -= first
    cells = data_buf.slice(first, size) if data_buf is not None else None
    items = pa.StringArray.from_buffers(v + 2 * m, pa.py_buffer(pieces), cells)
    if m:
        keep = np.ones(v + 2 * m, dtype=bool)
        keep[comma_piece] = False
        items = pc.filter(items, pa.array(keep), memory_pool=memory_pool())
    per_row = np.zeros(n, dtype=np.int64)
    per_row[valid] = per_cell + 1
    list_offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(per_row, out=list_offsets[1:])
    return pa.ListArray.from_arrays(
        pa.array(list_offsets),
        items,
        mask=None if valid.all() else pa.array(~valid),
    )


def _url_commas(
    data: np.ndarray[Any, Any], commas: np.ndarray[Any, Any], left: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Which of ``commas`` (offsets in ``data``, with ``left`` bytes of their cell after each)
    start the next URL: the 8 bytes after each are read as one integer, and compared."""
    ahead = np.zeros(len(commas), dtype=np.uint64)
    inside = commas + 9 <= len(data)  # the few others, at the data's very end, one by one
    if inside.any():
        words = np.ndarray((len(data) - 8,), dtype="<u8", buffer=data, offset=1, strides=(1,))
        ahead[inside] = words[commas[inside]]
    for i in np.flatnonzero(~inside):
        after = data[commas[i] + 1 : commas[i] + 9].tobytes()
        ahead[i] = int.from_bytes(after.ljust(8, b"\0"), "little")
    split = np.zeros(len(commas), dtype=bool)
    for start, k in _URL_STARTS:
        mask = np.uint64((1 << (8 * k)) - 1)
        split |= (left >= k) & ((ahead & mask) == np.uint64(start))
    return split


def _key_commas(
    data: np.ndarray[Any, Any],
    commas: np.ndarray[Any, Any],
    cell: np.ndarray[Any, Any],
    starts: np.ndarray[Any, Any],
    ends: np.ndarray[Any, Any],
    first: int,
    size: int,
) -> np.ndarray[Any, Any]:
    """Which of ``commas`` (in ``cell`` of the cells ``starts``..``ends``) may split a keys
    cell: those before the cell's first address key, and those that start another one.

    An address key (``us/ms/tupelo/3581nglosterst,stec/-1055723171``) starts with two
    lowercase letters and ``/``, and has three ``/`` before the next comma (or its cell's end);
    its address may hold commas, which a comma-joined list of keys cannot tell from the commas
    between keys, but only another address key follows an address key in a real cell.
    """
    slashes = np.flatnonzero(data[first : first + size] == _SLASH) + first
    same = np.zeros(len(commas), dtype=bool)
    same[:-1] = cell[1:] == cell[:-1]
    after_stop = np.where(same, np.roll(commas, -1), ends[cell])  # the next comma or the end
    has = np.bincount(cell, minlength=len(starts)) > 0
    first_comma = np.searchsorted(cell, np.arange(len(starts)), side="left")
    start_stop = np.where(has, commas[np.minimum(first_comma, len(commas) - 1)], ends)
    after = _address_keys(data, slashes, commas + 1, after_stop)
    at_start = _address_keys(data, slashes, starts, start_stop)
    # Whether an address key came before each comma in its cell: at its start, or after an
    # earlier comma of the cell.
    before = np.zeros(len(commas) + 1, dtype=np.int64)
    np.cumsum(after, out=before[1:])
    seen = at_start[cell] | (before[:-1] > before[first_comma[cell]])
    ok: np.ndarray[Any, Any] = after | ~seen
    return ok


def _address_keys(
    data: np.ndarray[Any, Any],
    slashes: np.ndarray[Any, Any],
    at: np.ndarray[Any, Any],
    stop: np.ndarray[Any, Any],
) -> np.ndarray[Any, Any]:
    """Whether an address key starts at each of ``at`` (a value running to ``stop``): two
    lowercase letters, ``/``, and three ``/`` in all before ``stop``."""
    last = len(data) - 1
    a, b = data[np.minimum(at, last)], data[np.minimum(at + 1, last)]
    letters = (a >= _A) & (a <= _Z) & (b >= _A) & (b <= _Z)
    n_slashes = np.searchsorted(slashes, stop) - np.searchsorted(slashes, at)
    ok: np.ndarray[Any, Any] = letters & (data[np.minimum(at + 2, last)] == _SLASH)
    return ok & (n_slashes >= 3)


def _text_column(values: pa.Array, t: pa.DataType, path: str) -> pa.Array:
    """One CSV column (text) as type ``t``: scalar, or a list of scalars split from the cell."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_list(t):
        if pa.types.is_struct(t.value_type):
            return _json_cells(values, t, path)
        if t.value_type != pa.string() and (unblanked := _blanks_to_nulls(values)) is not None:
            values = unblanked  # a blank cell holds no values (text lists keep theirs)
        lists = _split_cells(values, path)
        if lists.type == t:  # lists of text: as split
            return lists
        # An empty item between two commas: no value. (``values`` are the items, in order:
        # a null list holds none.)
        flat = lists.values
        pool = memory_pool()
        empty = pc.equal(flat, "", memory_pool=pool)
        flat = pc.if_else(empty, pa.scalar(None, pa.string()), flat, memory_pool=pool)
        inner = _text_to(flat, t.value_type, path)
        return pa.ListArray.from_arrays(lists.offsets, inner, type=t, mask=lists.is_null())
    return _text_to(values, t, path)


def _json_cells(values: pa.Array, t: pa.DataType, path: str) -> pa.Array:
    """CSV cells that hold JSON (``prices`` as ``[{"amountMax": ...}]``), as type ``t``."""
    out: list[Any] = []
    for v in values.to_pylist():
        if v is None:
            out.append(None)
            continue
        try:
            out.append(_py(orjson.loads(v), t, path))
        except orjson.JSONDecodeError:
            raise _BadValue(path, v, "a JSON list of objects") from None
    return pa.array(out, type=t)


# --- converting Python values (the record-by-record path) ---------------------------------------


def _py(v: Any, t: pa.DataType, path: str) -> Any:
    """A JSON value as a Python value that ``pa.array(..., type=t)`` takes, by the catalog."""
    if v is None:
        return None
    if pa.types.is_list(t):
        if isinstance(v, str) and not v.strip() and t.value_type != pa.string():
            return None  # no values, as a blank CSV cell
        items = v if isinstance(v, list) else [v]
        return [_py(x, t.value_type, path) for x in items]
    if pa.types.is_struct(t):
        if not isinstance(v, dict):
            raise _BadValue(path, v, "an object")
        names = {f.name for f in t}
        for k in v:
            if k not in names:
                raise _UnknownField(f"{path}.{k}")
        return {f.name: _py(v.get(f.name), f.type, f"{path}.{f.name}") for f in t}
    if t == pa.string():
        if isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "true" if v else "false"
        return _json_text(v)
    if isinstance(v, (list, dict)):
        raise _BadValue(path, v, _expected(t))
    if isinstance(v, str) and not v.strip():
        return None  # no value, as an empty CSV cell (text fields keep theirs)
    if t == pa.bool_():
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.strip().lower() in ("true", "false"):
            return v.strip().lower() == "true"
        raise _BadValue(path, v, "a flag (true or false)")
    if isinstance(v, bool):
        raise _BadValue(path, v, _expected(t))
    if isinstance(v, str) and "_" in v:
        raise _BadValue(path, v, _expected(t))  # Python reads "1_000"; CSV's Arrow does not
    if t == pa.float64():
        try:
            return float(v)
        except ValueError:
            raise _BadValue(path, v, "a number") from None
    if t == pa.int64():
        if isinstance(v, float):
            if v.is_integer():
                return int(v)
            raise _BadValue(path, v, "an integer")  # never truncated
        try:
            return int(v)
        except ValueError:
            raise _BadValue(path, v, "an integer") from None
    if t == TIMESTAMP:
        if not isinstance(v, str):
            raise _BadValue(path, v, "a date and time")
        return _timestamp(v, path)
    raise AssertionError(t)


def _timestamp(text: str, path: str) -> datetime:
    """One ISO 8601 date or date and time as an aware UTC datetime (no zone: UTC)."""
    if _FINER.search(text):
        raise _BadValue(path, text, _MICROSECONDS)
    try:
        t = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        parsed = pd.to_datetime(pd.Series([text]), utc=True, format="ISO8601", errors="coerce")[0]
        if pd.isna(parsed):
            raise _BadValue(path, text, "a date and time") from None
        result: datetime = parsed.to_pydatetime()
        return result
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def _json_text(v: Any) -> str:
    try:
        return orjson.dumps(v).decode()
    except TypeError:  # integers beyond 64 bits
        return json.dumps(v, ensure_ascii=False)


# --- conforming Arrow's parse (the fast path) ---------------------------------------------------


def _conform(arr: pa.Array, t: pa.DataType, path: str) -> pa.Array:
    """Arrow's inferred ``arr`` as type ``t``; raises _Unfit when only the slow path can."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    src = arr.type
    if src == t:
        return arr
    if pa.types.is_null(src):
        return pa.nulls(len(arr), t)
    if pa.types.is_list(t):
        if pa.types.is_list(src):
            inner = _conform(arr.values, t.value_type, path)
            return pa.ListArray.from_arrays(
                arr.offsets, inner, type=t, mask=arr.is_null() if arr.null_count else None
            )
        # A lone value where the catalog keeps several: a list of it, or null if it reads as
        # none (a blank string where dates go).
        inner = _conform(arr, t.value_type, path)
        valid = np.asarray(inner.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        return _one_each(inner, valid, t)
    if pa.types.is_struct(t):
        if not pa.types.is_struct(src):
            raise _Unfit(path)
        names = [f.name for f in src]
        for n in names:
            if t.get_field_index(n) < 0:
                raise _UnknownField(f"{path}.{n}")
        children = arr.flatten()
        out = []
        for f in t:
            i = src.get_field_index(f.name)
            child = children[i] if i >= 0 else pa.nulls(len(arr), f.type)
            out.append(_conform(child, f.type, f"{path}.{f.name}"))
        return pa.StructArray.from_arrays(
            out, fields=list(t), mask=arr.is_null() if arr.null_count else None
        )
    if pa.types.is_nested(src):
        raise _Unfit(path)  # an object where the catalog expects a scalar: JSON text, or an error
    if pa.types.is_string(src) or pa.types.is_large_string(src):
        return _text_to(arr.cast(pa.string()), t, path)
    if t == pa.string():
        if pa.types.is_timestamp(src):
            # Arrow inferred a timestamp from text: give the text back as Datafiniti writes it.
            return pc.strftime(arr, format="%Y-%m-%dT%H:%M:%SZ")
        if pa.types.is_boolean(src):
            return pc.if_else(arr, "true", "false")
        if pa.types.is_floating(src):
            raise _Unfit(path)  # Python's repr keeps the shortest exact text
        return arr.cast(pa.string())
    if t == TIMESTAMP and pa.types.is_timestamp(src):
        return arr.cast(pa.timestamp(src.unit)).cast(pa.timestamp("us")).cast(TIMESTAMP)
    if t == pa.float64() and (pa.types.is_integer(src) or pa.types.is_floating(src)):
        return arr.cast(t)
    if t == pa.int64() and pa.types.is_integer(src):
        return arr.cast(t)
    if t == pa.int64() and pa.types.is_floating(src):
        try:
            return arr.cast(t)  # safe cast: fails on a fraction
        except pa.ArrowInvalid:
            raise _Unfit(path) from None
    raise _Unfit(path)


# --- CSV ----------------------------------------------------------------------------------------


#: How much of a CSV file is read, at most, to find its header's end.
_HEADER_CAP = 16 << 20


def _csv_header(stream: _Input, name: str) -> tuple[list[str], bytes]:
    """Return the header's column names and the bytes read to find them."""
    head = b""
    while True:
        chunk = stream.read(1 << 16)
        head += chunk
        text = head.decode("utf-8", errors="replace")
        if text.startswith("\ufeff"):
            text = text[1:]
        rows = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(rows, None)
            complete = next(rows, None) is not None or not chunk
        except csv.Error:
            complete = not chunk
            header = None
        if complete or len(head) > _HEADER_CAP:
            break
    if head.startswith(BOM):
        head = head[3:]
    if not header:
        return [], head
    seen: set[str] = set()
    for col in header:
        if col == "":
            raise ResultFileError(f"{name}: line 1: empty column name", path=name, line=1)
        if col in seen:
            raise ResultFileError(
                f"{name}: line 1: column {col!r} appears twice", path=name, line=1
            )
        seen.add(col)
    for key, cols in _csv_plan(header).items():
        if is_records(key) and key in cols and len(cols) > 1:
            # Two ways of writing one list: keeping one would drop the other's values.
            dotted = next(c for c in cols if c != key)
            raise ResultFileError(
                f"{name}: line 1: both a {key!r} column (the list as JSON) and {key}.* columns"
                f" ({dotted!r}); a result file has one or the other",
                path=name,
                line=1,
            )
    return header, head


def _header_is_the_file(head: bytes) -> bool:
    """Whether the file is its header alone, without a line break: ``head`` (the bytes
    :func:`_csv_header` read) holds none and closes its quotes. Without a line break,
    :func:`_csv_header` read on to the file's end, unless the header passed its 16 MB cap."""
    if b"\n" in head or b"\r" in head or head.count(b'"') % 2:
        return False
    return len(head) <= _HEADER_CAP


class _Replay(io.RawIOBase):
    """``head`` then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: _Input) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        # Arrow and _blocks call read(): hand the stream's bytes on without copying them again.
        if not self._head:
            return self._stream.read(n)
        if n is None or n < 0:
            data, self._head = self._head + self._stream.read(), b""
            return data
        data, self._head = self._head[:n], self._head[n:]
        if len(data) < n:
            # The rest of the head alone would be a short block to Arrow: one a record can
            # straddle twice, which Arrow refuses as a record longer than a block.
            data += self._stream.read(n - len(data))
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def _csv_plan(header: list[str]) -> dict[str, list[str]]:
    """Target column -> the CSV columns it is built from (nested lists gather their children)."""
    plan: dict[str, list[str]] = {}
    for col in header:
        parent = col.split(".", 1)[0]
        key = parent if "." in col and is_records(parent) else col
        plan.setdefault(key, []).append(col)
    return plan


def _record_columns(plan: dict[str, list[str]]) -> tuple[list[str], list[str]] | None:
    """(the CSV columns a record repeats on each of its rows, the nested lists spread over
    them), or None when every row is a record of its own.

    Datafiniti writes a record with a nested list (``reviews``, ``menus``, ``prices``) as one
    CSV row per element, the record's other columns repeated on each. Consecutive rows that
    agree on all those columns are one record; a file without dotted list columns (or with
    nothing else) has one record per row.
    """
    spread = [key for key, cols in plan.items() if is_records(key) and cols != [key]]
    own = [c for key, cols in plan.items() if key not in spread for c in cols]
    return (own, spread) if spread and own else None


def _same_rows(batch: pa.RecordBatch, columns: list[str]) -> np.ndarray[Any, Any]:
    """For each row after the first, whether it agrees with the row before on ``columns``."""
    n = batch.num_rows
    same = np.ones(max(n - 1, 0), dtype=bool)
    for c in columns:
        col = batch.column(c)
        here, before = col.slice(1), col.slice(0, n - 1)
        eq = pc.equal(here, before)
        if eq.null_count:  # a null agrees only with a null
            eq = pc.if_else(pc.is_null(eq), pc.and_(pc.is_null(here), pc.is_null(before)), eq)
        same &= np.asarray(eq.to_numpy(zero_copy_only=False), dtype=bool)
    return same


def _record_starts(
    batch: pa.RecordBatch, columns: list[str], before: pa.RecordBatch | None
) -> np.ndarray[Any, Any]:
    """The rows of ``batch`` that start a record; ``before`` ends with the row before it."""
    starts = np.flatnonzero(~_same_rows(batch, columns)) + 1
    if batch.num_rows and (
        before is None
        or any(
            batch.column(c)[0].as_py() != before.column(c)[before.num_rows - 1].as_py()
            for c in columns
        )
    ):
        starts = np.concatenate([[0], starts])
    return starts


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    """The rows of ``batches`` as one batch; the list is emptied, so that a large record's
    rows are held once, not twice, while it is converted."""
    if len(batches) == 1:
        return batches.pop()
    table = pa.Table.from_batches(batches).combine_chunks(memory_pool=memory_pool())
    batches.clear()
    return pa.RecordBatch.from_arrays(
        [c.chunk(0) if c.num_chunks else pa.array([], c.type) for c in table.columns],
        schema=table.schema,
    )


def _csv_records(
    batch: pa.RecordBatch,
    schema: pa.Schema,
    plan: dict[str, list[str]],
    starts: np.ndarray[Any, Any],
    grain: tuple[list[str], list[str]],
) -> dict[str, pa.Array]:
    """The columns of CSV rows whose records start at rows ``starts``, one row per record.

    ``grain`` is (the columns a record repeats on each of its rows, the nested lists spread
    over them): :func:`_record_columns`. A record's rows agree on the repeated columns, so
    those are converted from its first row only (the real Amazon file repeats them on 999
    rows); the spread lists are converted from every row and joined over the record's rows.
    """
    if len(starts) == batch.num_rows:
        return _csv_columns(batch, schema, plan)
    own, spread = grain
    pool = memory_pool()
    firsts = pc.take(batch.select(own), pa.array(starts), memory_pool=pool)
    out = _csv_columns(firsts, schema, {k: c for k, c in plan.items() if k not in spread})
    for key, values in _csv_columns(batch, schema, {k: plan[k] for k in spread}).items():
        offsets = np.asarray(values.offsets.to_numpy(zero_copy_only=False))
        joined = np.append(offsets[starts], offsets[-1]).astype(np.int32)
        empty = joined[1:] == joined[:-1]
        out[key] = pa.ListArray.from_arrays(
            pa.array(joined),
            values.values,
            type=values.type,
            mask=pa.array(empty) if empty.any() else None,
            pool=pool,
        )
    return out


def _csv_target(header: list[str]) -> list[pa.Field]:
    fields = []
    for key, cols in _csv_plan(header).items():
        if is_records(key):
            extra = tuple(c.split(".", 1)[1] for c in cols if c != key)
            fields.append(pa.field(key, pa.list_(record_struct(key, extra))))
        else:
            fields.append(pa.field(key, arrow_type(key)))
    return fields


def _csv_columns(
    batch: pa.RecordBatch, schema: pa.Schema, plan: dict[str, list[str]]
) -> dict[str, pa.Array]:
    out: dict[str, pa.Array] = {}
    n = batch.num_rows
    for key, cols in plan.items():
        t = schema.field(key).type
        if not is_records(key):
            out[key] = _text_column(batch.column(key), t, key)
            continue
        struct_t: pa.StructType = t.value_type
        if cols == [key]:  # the whole list as JSON in one cell
            out[key] = _json_cells(batch.column(key), t, key)
            continue
        children = []
        valid = np.zeros(n, dtype=bool)
        for f in struct_t:
            col = f"{key}.{f.name}"
            if col in cols:
                values = batch.column(col)
                valid |= np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
                children.append(_text_column(values, f.type, col))
            else:
                children.append(pa.nulls(n, f.type))
        struct = pa.StructArray.from_arrays(children, fields=list(struct_t))
        out[key] = _one_each(struct, valid, t)
    return out


def _csv_bad_values(
    batch: pa.RecordBatch, schema: pa.Schema, plan: dict[str, list[str]]
) -> tuple[int, _BadValue, int]:
    """Return (row, error, how many more) for a batch with bad values: found cell by cell."""
    bad: list[tuple[int, _BadValue]] = []
    for key, cols in plan.items():
        one = {key: cols}
        try:
            _csv_columns(batch, schema, one)
            continue
        except _BadValue:
            pass
        for i in range(batch.num_rows):
            try:
                _csv_columns(batch.slice(i, 1), schema, one)
            except _BadValue as e:
                bad.append((i, e))
    i, first = min(bad, key=lambda b: b[0])
    return i, first, len(bad) - 1


def _csv_line(
    source: Source, name: str, encoding: str, max_expansion: float, record: int
) -> int | None:
    """Return the line (as an editor counts) where CSV record ``record`` starts, if reopenable."""
    if not isinstance(source, (str, os.PathLike)):
        return None
    with _open(source, name, encoding=encoding, max_expansion=max_expansion) as stream:
        text = io.TextIOWrapper(io.BufferedReader(stream), encoding="utf-8", newline="")
        reader = csv.reader(text)
        end = 0
        for k, _ in enumerate(reader):
            if k == record:
                return end + 1
            end = reader.line_num
    return None


def _csv_range_line(source: Source, name: str, start: int, end: int, record: int) -> int | None:
    """Return the line where record ``record`` of the range ``[start, end)`` starts."""
    if not isinstance(source, (str, os.PathLike)):
        return None
    with open(source, "rb") as f:
        before = 0  # the lines before ``start`` (a record's start, so a line's start)
        while f.tell() < start:
            chunk = f.read(min(1 << 20, start - f.tell()))
            if not chunk:
                break
            before += chunk.count(b"\n")
        text = io.TextIOWrapper(io.BytesIO(f.read(end - start)), encoding="utf-8", newline="")
        reader = csv.reader(text)
        line = 0
        for k, _ in enumerate(reader):
            if k == record:
                return before + line + 1
            line = reader.line_num
    return None


class _Limited(io.RawIOBase):
    """The next ``n`` bytes of ``stream``, counted to ``on_bytes``."""

    def __init__(self, stream: _Input, n: int, on_bytes: Callable[[int], None] | None) -> None:
        self._stream, self._left, self._on_bytes = stream, n, on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._stream.read(min(len(b), self._left)) if self._left > 0 else b""
        self._left -= len(data)
        b[: len(data)] = data
        if self._on_bytes is not None and data:
            self._on_bytes(len(data))
        return len(data)


def _quote_problem(
    source: Source, name: str, encoding: str, max_expansion: float
) -> ResultFileError | None:
    """The line where a quote opens and never closes, found by rescanning the file.

    Quotes are read as Arrow reads them: a quote opens a quoted value only at the start of a
    field (``5" screen`` is text), and inside one ``""`` is a quote and the next lone quote
    closes it.
    """
    with _open(source, name, encoding=encoding, max_expansion=max_expansion) as stream:
        opened = None  # the line of the quoted value that is open
        for lineno, raw in enumerate(io.BufferedReader(stream), 1):
            pos = 0
            while True:
                if opened is None:
                    start = _FIELD_QUOTE.search(raw, pos)
                    if start is None:
                        break
                    opened, pos = lineno, start.end()
                else:
                    end = _CLOSING_QUOTE.match(raw, pos)
                    if end is None:
                        break
                    opened, pos = None, end.end()
    if opened is None:
        return None
    return _unclosed_error(name, f"line {opened}", opened)


#: A quote that opens a quoted value (at the start of a line or after a comma), and the rest
#: of a quoted value up to its closing quote (``""`` is a quote in it).
_FIELD_QUOTE = re.compile(rb'(?:^|(?<=,))"')
_CLOSING_QUOTE = re.compile(rb'(?:[^"]|"")*"(?!")')


def _unclosed_error(name: str, where: str, line: int | None) -> ResultFileError:
    return ResultFileError(
        f"{name}: {where}: a quoted value opens here and is never closed; the file looks cut "
        "short or malformed",
        path=name,
        line=line,
    )


class _Tail(io.RawIOBase):
    """``stream`` as it is read, keeping (without copying) the chunks of its last ``keep`` bytes."""

    def __init__(self, stream: Any, keep: int) -> None:
        self._stream, self._keep = stream, keep
        self._chunks: collections.deque[bytes] = collections.deque()
        self._kept = 0
        self.read_all = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._stream.read(n)
        if data:
            self._chunks.append(data)
            self._kept += len(data)
            self.read_all += len(data)
            while self._kept - len(self._chunks[0]) >= self._keep:
                self._kept -= len(self._chunks.popleft())
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def tail(self) -> bytes:
        return b"".join(self._chunks)


def _open_quote(tail: bytes, value: str | None, *, whole: bool) -> int | None:
    """The offset in ``tail`` (the input's last bytes) of the quote that opens the last value
    and never closes, or None when the input does not end inside quotes.

    Arrow's CSV reader takes a quote as opening only at a field's start, reads ``""`` inside
    quotes as one quote and leaves the quotes at any other quote; when its input ends inside
    quotes it keeps what it read as the last value, silently (a quote opened in another column
    than the last leaves the record short, which it does report). So the input ends inside
    quotes exactly when its bytes end with ``"`` plus the last value with its quotes doubled,
    and that quote starts a field (the tail's start if ``whole``, else after ``,`` or a line
    break): a closed value of quotes only (four quotes for one) has another quote before. Checking
    this one value costs nothing per byte, wherever the file's quotes break RFC 4180.
    """
    raw = b'"' + (value or "").replace('"', '""').encode("utf-8")
    if not tail.endswith(raw):
        return None
    at = len(tail) - len(raw)
    if at == 0:
        return 0 if whole else None
    if tail[at - 1 : at] not in _FIELD_ENDS:
        return None
    # A last value that is just a line break, closed and followed by the same line break
    # (``,"\n"\n``), also ends the bytes with a quote and that value: the quote that opens it
    # then starts a field itself.
    if value in ("\n", "\r\n", "\r") and tail[:at].endswith(raw):
        before = at - len(raw) - 1
        if (before < 0 and whole) or tail[before : before + 1] in _FIELD_ENDS:
            return None
    return at


#: The bytes a CSV field starts after (besides the input's start).
_FIELD_ENDS = (b",", b"\n", b"\r")


def _file_tail(path: str | os.PathLike[str], end: int, start: int, n: int) -> tuple[bytes, int]:
    """Return the last ``n`` bytes of ``[start, end)`` of the file (fewer at its start), and
    their offset."""
    with open(path, "rb") as f:
        end = min(end, f.seek(0, os.SEEK_END))
        at = max(start, end - n)
        f.seek(at)
        return f.read(end - at), at


def _lines_before(path: str | os.PathLike[str], offset: int) -> int:
    with open(path, "rb") as f:
        lines = 0
        while f.tell() < offset:
            chunk = f.read(min(1 << 20, offset - f.tell()))
            if not chunk:
                break
            lines += chunk.count(b"\n")
    return lines


def _check_closed(
    source: Source,
    name: str,
    last: pa.RecordBatch,
    record: int,
    byte_range: tuple[int, int] | None,
    tracked: _Tail | None,
) -> None:
    """Raise if the CSV input (the file, or its ``byte_range``) ends inside an open quote.

    ``last`` is the last batch Arrow read and ``record`` its last record's number.
    """
    value = last.column(last.num_columns - 1)[last.num_rows - 1].as_py()
    # The value with its quote, twice (see _open_quote), and the byte before.
    need = 2 * (len((value or "").replace('"', '""').encode("utf-8")) + 1) + 1
    start, end = byte_range or (0, 1 << 62)
    ranged = start > 0
    if tracked is not None:  # kept more than Arrow takes in one value (it refuses longer ones)
        tail = tracked.tail()
        if _open_quote(tail, value, whole=ranged and len(tail) == tracked.read_all) is not None:
            where = f"record {record + 1} from byte {start}" if ranged else f"record {record}"
            raise _unclosed_error(name, where, None)
        return
    assert isinstance(source, (str, os.PathLike))
    tail, base = _file_tail(source, end, start, need)
    at = _open_quote(tail, value, whole=ranged and base == start)
    if at is not None:
        line = _lines_before(source, base + at) + 1
        raise _unclosed_error(name, f"line {line}", line)


def _csv_field_count_problem(
    source: Source, name: str, ncols: int, encoding: str, max_expansion: float
) -> ResultFileError | None:
    with _open(source, name, encoding=encoding, max_expansion=max_expansion) as stream:
        text = io.TextIOWrapper(io.BufferedReader(stream), encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        try:
            for row in reader:
                if reader.line_num == 1 or not row:
                    continue
                if len(row) != ncols:
                    return ResultFileError(
                        f"{name}: line {reader.line_num}: expected {ncols} fields as in the "
                        f"header, found {len(row)}",
                        path=name,
                        line=reader.line_num,
                    )
        except (csv.Error, UnicodeDecodeError):
            return None
    return None


#: The bytes cp1252 leaves undefined (Python's codec refuses them); latin-1 reads any byte.
_CP1252_UNDEFINED = re.compile(b"[\x81\x8d\x8f\x90\x9d]")


def _suggested_encoding(cp1252_reads: bool) -> str:
    """The ``encoding=`` to suggest for bytes that are not UTF-8: cp1252 (what most such
    files are) when it reads them all, else latin-1 (which reads any)."""
    return "cp1252" if cp1252_reads else "latin-1"


def _not_utf8_error(
    name: str, line: int | None, reason: str, byte: int, encoding: str
) -> ResultFileError:
    where = f"line {line}: " if line else ""
    return ResultFileError(
        f"{name}: {where}not valid UTF-8 ({reason} at byte {byte}); "
        f"pass encoding= (for example encoding={encoding!r}) to read it",
        path=name,
        line=line,
    )


def _cp1252_reads_file(source: str | os.PathLike[str], name: str, max_expansion: float) -> bool:
    """Whether cp1252 reads every byte of the file (uncompressed)."""
    with _open(source, name, encoding="utf-8", max_expansion=max_expansion) as stream:
        while chunk := stream.read(1 << 22):
            if _CP1252_UNDEFINED.search(chunk):
                return False
    return True


def _check_utf8(
    name: str,
    first_line: int,
    block: bytes | memoryview,
    cp1252_reads_file: Callable[[], bool] | None = None,
) -> None:
    """Raise the error for the first bytes of ``block`` that are not UTF-8 (first_line: the
    number of its first line, 0 if unknown). The encoding it suggests reads every byte of
    the file (by ``cp1252_reads_file``), or of the block when the file cannot be read again."""
    whole = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(),
        1,
        [None, pa.py_buffer(np.array([0, len(block)], dtype=np.int64)), pa.py_buffer(block)],
    )
    try:  # Arrow's check: no copy, no Python string, without the GIL
        whole.cast(pa.large_string())
        return
    except pa.ArrowInvalid:
        pass
    data = bytes(block)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = data.rfind(b"\n", 0, e.start) + 1
        line = first_line + data.count(b"\n", 0, e.start) if first_line else None
        reads = not _CP1252_UNDEFINED.search(data)
        if reads and cp1252_reads_file is not None:
            reads = cp1252_reads_file()
        raise _not_utf8_error(
            name, line, e.reason, e.start - line_start, _suggested_encoding(reads)
        ) from None


def _not_utf8(source: Source, name: str, encoding: str, max_expansion: float) -> ResultFileError:
    """The error for a file that is not UTF-8: its first line that is not, and an encoding
    that reads all of its bytes (the file is read to its end for that)."""
    found: tuple[int, str, int] | None = None
    reads = True
    with _open(source, name, encoding=encoding, max_expansion=max_expansion) as stream:
        lines = io.BufferedReader(stream)
        for lineno, raw in enumerate(lines, 1):
            reads = reads and not _CP1252_UNDEFINED.search(raw)
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                found = (lineno, e.reason, e.start)
                break
        while reads and (chunk := lines.read(1 << 22)):
            reads = not _CP1252_UNDEFINED.search(chunk)
    if found is not None:
        return _not_utf8_error(name, *found, _suggested_encoding(reads))
    return ResultFileError(
        f"{name}: not valid UTF-8; pass encoding= (for example "
        f"encoding={_suggested_encoding(reads)!r})",
        path=name,
    )


def _longest_record(stream: Any, chunk_bytes: int = 1 << 22) -> tuple[int, int]:
    """(line, size in bytes) of the longest CSV record in ``stream``: a record ends at a line
    break outside quotes (an even count of ``"`` before it). One numpy pass, no CSV parser
    (Python's refuses fields over 128 KB)."""
    quoted = 0  # 1 inside a quoted value at the chunk's start
    line = 1  # the physical line the current record starts on
    newlines = 0  # line breaks before the chunk
    start = 0  # where the current record starts, in bytes from the stream's start
    pos = 0
    best = (1, 0)
    while chunk := stream.read(chunk_bytes):
        a = np.frombuffer(chunk, dtype=np.uint8)
        lf = a == 10
        inside = (np.cumsum(a == 34) + quoted) & 1
        ends = np.flatnonzero(lf & (inside == 0))
        if len(ends):
            lines_to = np.cumsum(lf)[ends] + newlines  # line breaks up to each record's end
            stops = ends + pos + 1
            sizes = np.diff(stops, prepend=start)
            k = int(np.argmax(sizes))
            if sizes[k] > best[1]:
                best = (line if k == 0 else int(lines_to[k - 1]) + 1, int(sizes[k]))
            start, line = int(stops[-1]), int(lines_to[-1]) + 1
        quoted = int(inside[-1])
        newlines += int(lf.sum())
        pos += len(a)
    if pos - start > best[1]:  # the last record, without a line break
        best = (line, pos - start)
    return best


def _long_record(
    source: Source, name: str, encoding: str, max_expansion: float, block_size: int, setting: str
) -> ResultFileError:
    """The error for a CSV record too long for Arrow's blocks (it reads no record that spans
    two block boundaries): the longest record's line and size, found by rescanning the file
    when it can be reopened. A block larger than that record reads the file."""
    what = f"longer than the {block_size:,}-byte blocks CSV files are read in; raise {setting}"
    if isinstance(source, (str, os.PathLike)):
        with _open(source, name, encoding=encoding, max_expansion=max_expansion) as stream:
            line, size = _longest_record(io.BufferedReader(stream))
        return _RecordTooLong(
            f"{name}: line {line}: a record of {size:,} bytes (as UTF-8), {what} above its "
            "size to read the file",
            path=name,
            line=line,
            size=size,
        )
    return ResultFileError(f"{name}: a record is {what} to read the file", path=name)


class _RecordTooLong(ResultFileError):
    """A CSV record longer than the blocks the file was read in: ``size`` bytes."""

    def __init__(self, message: str, *, path: str, line: int, size: int) -> None:
        super().__init__(message, path=path, line=line)
        self.size = size


def _csv_error(
    source: Source,
    name: str,
    ncols: int,
    exc: Exception,
    encoding: str,
    max_expansion: float,
    block_size: int,
) -> ResultFileError:
    """Say where Arrow stumbled (Arrow does not say), rescanning the file once."""
    if "UTF8" in str(exc) or "UTF-8" in str(exc) or isinstance(exc, UnicodeDecodeError):
        return _not_utf8(source, name, encoding, max_expansion)
    if isinstance(source, (str, os.PathLike)):
        problem = _quote_problem(source, name, encoding, max_expansion) or _csv_field_count_problem(
            source, name, ncols, encoding, max_expansion
        )
        if problem is not None:
            return problem
    if "straddl" in str(exc):  # Arrow: "straddling object straddles two block boundaries"
        setting = (
            "dfkit.resultfiles.BLOCK_BYTES['csv']"
            if block_size == BLOCK_BYTES["csv"]
            else "block_size"  # the caller's own
        )
        return _long_record(source, name, encoding, max_expansion, block_size, setting)
    if "Empty CSV file or block" in str(exc):  # the file has a line break: the header is longer
        return ResultFileError(
            f"{name}: line 1: the header is longer than the {block_size:,}-byte blocks CSV files"
            " are read in; raise block_size above its size",
            path=name,
            line=1,
        )
    return ResultFileError(f"{name}: cannot be read as CSV: {exc}", path=name)


class _CarriageReturnHeld:
    """``stream``'s bytes, read so that no piece but the last ends with a carriage return.

    Arrow's CSV reader drops the LF that starts one of its input buffers when the buffer before
    ended with CR, even inside a quoted value (apache/arrow#51368, open in Arrow 26): a quoted
    CRLF that a block boundary cut came back as a lone CR, silently. A CR ending a piece is
    held back and handed over at the head of the next one, so a CRLF always arrives whole;
    but not while no line has ended yet (Arrow needs the header's end in its first buffer, and
    a header is never quoted across lines).
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._held = False
        self._lined = False  # whether a piece handed over held a line break
        self.closed = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            rest = bytes(self._stream.read())
            held, self._held = self._held, False
            return b"\r" + rest if held else rest
        if self._held and n == 1:
            self._held = False
            return b"\r"
        data = bytes(self._stream.read(max(n - self._held, 1)))
        if self._held:
            self._held = False
            data = b"\r" + data
        while data.endswith(b"\r") and n > 1:
            if not self._lined and b"\n" not in data and b"\r" not in data[:-1]:
                break  # the first line's own end: Arrow must see it now
            if len(data) > 1:
                self._held = True
                return self._handed(data[:-1])
            more = bytes(self._stream.read(1))  # a lone CR: what follows decides
            if not more:
                break  # the input's last byte
            data += more
        return self._handed(data)

    def _handed(self, data: bytes) -> bytes:
        self._lined = self._lined or b"\n" in data or b"\r" in data
        return data

    def close(self) -> None:
        self.closed = True


class _Utf8Checked:
    """``stream``'s bytes, checked to be UTF-8 as they are read: a piece that is not raises
    UnicodeDecodeError.

    Arrow's own check (``ConvertOptions.check_utf8``) took a tenth to a third of its CSV
    parse on the benchmark's files. Result files are mostly ASCII, which ``bytes.isascii``
    tells at memory speed; a piece that is not is decoded, incrementally, since a character
    may be cut between two pieces (CPython's decoder: about 3 GB/s on mixed text).
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._cut = False  # whether the last piece ended inside a character
        self.closed = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._stream.read(n)
        if self._cut or not data.isascii():
            self._decoder.decode(data, final=not data)
            self._cut = bool(self._decoder.getstate()[0])
        return data

    def close(self) -> None:
        self.closed = True


def _text_reader(raw: Any, header: list[str], block_size: int, *, named: bool) -> Any:
    """Arrow's reader of the CSV ``raw`` as text columns (``named``: ``raw`` has no header).

    ``raw`` reaches Arrow through :class:`_CarriageReturnHeld`, so a CRLF inside a quoted value
    is never cut between two of Arrow's buffers (where Arrow would drop its LF), and
    :class:`_Utf8Checked`, which raises UnicodeDecodeError for bytes that are not UTF-8.
    """
    return pacsv.open_csv(
        _Utf8Checked(_CarriageReturnHeld(raw)),
        memory_pool=memory_pool(),
        # Blocks are parsed here, one after another, and converted on other threads.
        read_options=pacsv.ReadOptions(
            block_size=block_size, use_threads=False, column_names=header if named else None
        ),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            check_utf8=False,  # checked by _Utf8Checked, at a fraction of the cost
        ),
    )


def _read_blocks(reader: Any, n: int) -> pa.RecordBatch:
    """The next ``n`` batches of Arrow's CSV ``reader`` as one (fewer at the file's end);
    StopIteration when none is left."""
    batches = [reader.read_next_batch()]
    try:
        while len(batches) < n:
            batches.append(reader.read_next_batch())
    except StopIteration:
        pass
    return _joined(batches)


def unclosed_quote(
    path: str | os.PathLike[str], *, name: str | None = None
) -> ResultFileError | None:
    """Return the error for a CSV file (uncompressed UTF-8) ending inside quotes, else None.

    The file is parsed as the reader parses it (Arrow's CSV reader, text only) and only that
    is checked, as the reader checks it: other problems are left to the reader.
    ``fetch_results`` calls it on a body whose quotes do not pair up.

    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "3_0.csv").write_bytes(b'id,text\\n1,"hel')
    >>> error = unclosed_quote(d / "3_0.csv")
    >>> error.line, str(error).split(";")[0]
    (2, '3_0.csv: line 2: a quoted value opens here and is never closed')
    >>> _ = (d / "3_1.csv").write_bytes(b'id,size\\n1,5" screen\\n')
    >>> print(unclosed_quote(d / "3_1.csv"))
    None
    """
    name = _name_of(path, name)
    try:
        with _open(path, name, encoding="utf-8", max_expansion=MAX_EXPANSION) as stream:
            header, _ = _csv_header(stream, name)
    except ResultFileError:
        return None  # a header the reader refuses in its own words
    if not header:
        return None
    last, rows = None, 0
    try:
        with pa.OSFile(os.fspath(path)) as raw:
            for batch in _text_reader(raw, header, BLOCK_BYTES["csv"], named=False):
                rows += batch.num_rows
                last = batch if batch.num_rows else last
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        if "UTF8" in str(e) or "UTF-8" in str(e) or isinstance(e, UnicodeDecodeError):
            return None  # another encoding: the reader is told which
        return _quote_problem(path, name, "utf-8", MAX_EXPANSION)  # a record cut short
    if last is None:
        return None
    try:
        _check_closed(path, name, last, rows, None, None)
    except ResultFileError as e:
        return e
    return None


def _csv_batches(
    source: Source,
    name: str,
    schema: pa.Schema,
    *,
    encoding: str,
    block_size: int,
    max_expansion: float,
    on_bytes: Callable[[int], None] | None,
    threads: int,
    byte_range: tuple[int, int] | None = None,
    release_memory: bool = True,
    blocks_per_batch: int = _CSV_BLOCKS_PER_BATCH,
) -> Iterator[dict[str, pa.Array]]:
    """The columns of a CSV file, or of the records in ``byte_range`` (which must start at a
    record: :func:`dfkit.ranges.csv_ranges`); a range after the first gets the file's header.
    """
    # A plain UTF-8 file is handed to Arrow as a native file: no Python buffers in between.
    native = (
        byte_range is None
        and isinstance(source, (str, os.PathLike))
        and not name.lower().endswith(".gz")
        and codecs.lookup(encoding).name == "utf-8"
    )
    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(
            _open(
                source,
                name,
                encoding=encoding,
                max_expansion=max_expansion,
                on_bytes=None if native else on_bytes,
            )
        )
        header, head = _csv_header(stream, name)
        if not header:
            return
        _check_fields(name, [f.name for f in _csv_target(header)], schema)
        if _header_is_the_file(head):
            return  # no records (Arrow refuses a file without a line break: "Empty CSV")
        plan = _csv_plan(header)
        grain = _record_columns(plan)
        if grain is not None and byte_range is not None:
            raise ArgumentError(
                f"byte_range: {name}'s records span several rows (its {grain[1][0]!r} columns):"
                " it is read whole"
            )
        raw: Any = _Replay(head, stream)
        if native:
            raw = stack.enter_context(pa.OSFile(os.fspath(source)))  # type: ignore[arg-type]
        start, end = byte_range or (0, 0)
        if byte_range is not None and isinstance(source, (str, os.PathLike)):
            # A mapped file's range: Arrow reads it natively (through Python: 2.3x the time).
            mapped = stack.enter_context(pa.memory_map(os.fspath(source)))
            raw = pa.BufferReader(mapped.read_at(min(end, mapped.size()) - start, start))
        elif byte_range is not None and not isinstance(source, (str, os.PathLike)):
            source.seek(start)  # back from the header, also to 0 (``_open`` seeks if > 0)
            ranged = stack.enter_context(
                _open(source, name, encoding=encoding, max_expansion=max_expansion, seek=start)
            )
            raw = _Limited(ranged, end - start, on_bytes)
        # Where the input's last bytes will be, to tell whether it ends inside quotes.
        tracked = None
        if not isinstance(source, (str, os.PathLike)) or (byte_range is None and not native):
            raw = tracked = _Tail(raw, 2 * block_size + 2)
        read = 0
        try:
            reader = _text_reader(raw, header, block_size, named=bool(start))
        except (pa.ArrowInvalid, UnicodeDecodeError) as e:
            raise _csv_error(
                source, name, len(header), e, encoding, max_expansion, block_size
            ) from None

        def parsed() -> Iterator[tuple[int, pa.RecordBatch, np.ndarray[Any, Any] | None]]:
            """(CSV rows before it, batch of text columns, the rows that start a record or None
            if each row is one) for each batch Arrow reads. With records spread over rows, a
            batch ends at its last whole record: the rest is held for the next batch."""
            nonlocal read
            rows = 0
            last = None
            held: list[pa.RecordBatch] = []  # the rows of a record that may go on
            held_at = 0
            while True:
                try:
                    batch = _read_blocks(reader, blocks_per_batch)
                except StopIteration:
                    if last is not None:
                        record = rows + (0 if start else 1) - 1
                        _check_closed(source, name, last, record, byte_range, tracked)
                    if held:
                        yield held_at, _joined(held), np.zeros(1, dtype=np.int64)
                    return
                except (pa.ArrowInvalid, UnicodeDecodeError) as e:
                    raise _csv_error(
                        source, name, len(header), e, encoding, max_expansion, block_size
                    ) from None
                if native and on_bytes is not None:
                    position = raw.tell()
                    on_bytes(position - read)
                    read = position
                if grain is None:
                    yield rows, batch, None
                elif batch.num_rows:
                    starts = _record_starts(batch, grain[0], held[-1] if held else None)
                    if len(starts):
                        end = int(starts[-1])
                        whole, at = [*held, batch.slice(0, end)], held_at if held else rows
                        n_held = sum(b.num_rows for b in held)
                        # The held rows start a record; without them, so does row 0.
                        first = starts[:-1] + n_held
                        if held:
                            first = np.concatenate([[0], first])
                        held, held_at = [batch.slice(end)], rows + end
                        if n_held + end:
                            yield at, _joined(whole), first  # (``whole`` let go of)
                    else:
                        held.append(batch)
                rows += batch.num_rows
                last = batch if batch.num_rows else last

        def convert(
            item: tuple[int, pa.RecordBatch, np.ndarray[Any, Any] | None],
        ) -> dict[str, pa.Array]:
            if grain is None or item[2] is None:
                return _csv_columns(item[1], schema, plan)
            return _csv_records(item[1], schema, plan, item[2], grain)

        with contextlib.closing(reader):
            for item, done in _converted(parsed(), convert, threads, release=release_memory):
                try:
                    columns = done.result()
                except _BadValue:
                    rows, batch, _ = item
                    i, bad, more = _csv_bad_values(batch, schema, plan)
                    record = rows + i + (0 if start else 1)  # the header is record 0
                    if start:
                        line = _csv_range_line(source, name, start, end, record)
                    else:
                        line = _csv_line(source, name, encoding, max_expansion, record)
                    # Without a line (an open file, a range), the CSV row: records span rows.
                    where = f"line {line}: " if line else f"row {record}: "
                    raise bad.error(name, where, line, more) from None
                del item, done  # the text is let go of while the columns are used
                yield columns


# --- JSON lines ---------------------------------------------------------------------------------


def _blocks(
    stream: Any, block_size: int, *, skip_first: bool = False, limit: int | None = None
) -> Iterator[tuple[int, bytes | memoryview]]:
    """Yield (first line number or 0 if unknown, whole lines) blocks of about ``block_size``.

    ``skip_first`` drops the bytes up to the first newline (the end of a line that started
    before the range); ``limit`` keeps only the lines that start before that many bytes. A
    block is a view of the bytes read (not a copy of them).
    """
    lineno = 0 if skip_first else 1
    rest = b""
    base = 0  # stream offset of ``rest``'s first byte
    first = True
    while limit is None or base < limit:
        chunk = stream.read(block_size)
        if not chunk:
            break
        if first and not skip_first and chunk.startswith(BOM):
            # The BOM belongs to line 1 (which starts at byte 0, whatever the range's end):
            # blanks in its place keep every offset.
            chunk = b"   " + chunk[3:]
        first = False
        data = rest + chunk if rest else chunk
        if skip_first:
            i = data.find(b"\n")
            if i < 0:
                base += len(data)
                rest = b""
                continue
            base += i + 1
            data = data[i + 1 :]
            skip_first = False
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        end, rest = cut + 1, data[cut + 1 :]
        if limit is not None and base >= limit:
            break  # the range ends where the line skipped above ended: nothing starts in it
        if limit is not None and base + end > limit:
            # Keep the lines that start before ``limit``: up to the newline at or after it - 1.
            end, rest = data.find(b"\n", max(limit - base - 1, 0)) + 1, b""
            base = limit
        else:
            base += end
        yield lineno, memoryview(data)[:end]
        if lineno:
            lineno += data.count(b"\n", 0, end)
    if rest.strip() and (limit is None or base < limit):
        yield lineno, rest


def _parse_lines(name: str, first_line: int, block: bytes) -> list[dict[str, Any]]:
    rows = []
    for i, line in enumerate(block.split(b"\n")):
        line = line.strip()
        if not line:
            continue
        lineno = first_line + i if first_line else None
        where = f"line {lineno}: " if lineno else ""
        try:
            obj = json.loads(line) if _LONG_DIGITS.search(line) else orjson.loads(line)
        except (ValueError, UnicodeDecodeError) as e:
            if isinstance(e, UnicodeDecodeError) or "utf-8" in str(e).lower():
                encoding = _suggested_encoding(not _CP1252_UNDEFINED.search(block))
                raise ResultFileError(
                    f"{name}: {where}not valid UTF-8; pass encoding= (for example "
                    f"encoding={encoding!r}) to read it",
                    path=name,
                    line=lineno,
                ) from None
            raise ResultFileError(
                f"{name}: {where}not valid JSON ({e})", path=name, line=lineno
            ) from None
        if not isinstance(obj, dict):
            raise ResultFileError(
                f"{name}: {where}expected a JSON object (one record per line), "
                f"found {type(obj).__name__}",
                path=name,
                line=lineno,
            )
        rows.append(obj)
    return rows


def _is_answer(line: bytes) -> bool:
    """Whether one line of JSON is a compact search answer (an object with ``records``), not
    a record (no Datafiniti record has a ``records`` field); :func:`_document` checks it."""
    try:
        doc = json.loads(line)
    except ValueError:
        return False  # the JSON-lines reader says what is wrong with it
    return isinstance(doc, dict) and "records" in doc


def _json_kind(v: Any) -> str:
    """What a JSON value is, in words, with the value (shortened)."""
    if v is None:
        return "null"
    kind = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(v), "a number"
    )
    shown = _json_text(v)
    return f"{kind} ({shown if len(shown) <= 40 else shown[:37] + '...'})"


def _document(stream: Any, name: str) -> tuple[list[dict[str, Any]] | None, Any]:
    """Recognise a whole JSON document (a search answer, pretty-printed or on one line) at
    the stream's start.

    Returns (its records, None) for ``{"records": [...]}`` or a list of objects, else
    (None, a stream that replays what was peeked).
    """
    head = stream.read(DOCUMENT_HEAD)
    body = head[3:] if head.startswith(BOM) else head
    if not is_json_document(head):
        if not body.lstrip().startswith(b"{") or b"\n" in body.strip():
            return None, _Replay(head, stream)
        # One line so far: a compact search answer, or a file of one record; read on to the
        # end of the line, and no further if another line follows.
        buf, pos = bytearray(body), 0  # appended to in place, searched once: linear
        while (i := buf.find(b"\n", pos)) < 0 or not buf[i:].strip():
            if not (more := stream.read(1 << 20)):
                break
            pos = len(buf) if i < 0 else i
            buf += more
        body = bytes(buf)
        if b"\n" in body.strip() or not _is_answer(body):
            return None, _Replay((BOM if head.startswith(BOM) else b"") + body, stream)
    else:
        body += stream.read()
    data = body
    try:
        doc = json.loads(data)
    except ValueError as e:
        if isinstance(e, UnicodeDecodeError):
            _check_utf8(name, 1, data)  # not UTF-8: the error naming the line and encoding=
        raise ResultFileError(
            f"{name}: looks like one JSON document (not one record per line) but cannot be "
            f"parsed: {e}",
            path=name,
        ) from None
    answer = isinstance(doc, dict) and "records" in doc
    records = doc["records"] if answer else doc
    if not answer and not isinstance(records, list):
        found = f"an object with keys {sorted(doc)[:8]}" if isinstance(doc, dict) else "a value"
        raise ResultFileError(
            f"{name}: found one JSON document, {found}; expected one record per line (a "
            "result file) or a search answer with a 'records' list of objects",
            path=name,
        )
    if not isinstance(records, list):
        raise ResultFileError(
            f"{name}: records: expected a list of records (JSON objects), found "
            f"{_json_kind(records)}",
            path=name,
        )
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            where = f"records[{i}]" if answer else f"[{i}]"
            raise ResultFileError(
                f"{name}: {where}: expected a record (a JSON object), found {_json_kind(r)}",
                path=name,
            )
    return records, None


def _slow_columns(rows: list[dict[str, Any]], schema: pa.Schema, name: str) -> dict[str, pa.Array]:
    names = set(schema.names)
    for r in rows:
        for k in r:
            if k not in names:
                raise _UnknownField(k)
            if k in (DOWNLOAD_ID, SOURCE_FILE):
                raise ResultFileError(
                    f"{name}: has a field {k!r}, which dfkit adds itself", path=name
                )
    out = {}
    for f in schema:
        if f.name in (DOWNLOAD_ID, SOURCE_FILE):
            continue
        if not any(f.name in r for r in rows):
            out[f.name] = pa.nulls(len(rows), f.type)
            continue
        out[f.name] = pa.array([_py(r.get(f.name), f.type, f.name) for r in rows], type=f.type)
    return out


def _fast_table(block: bytes | memoryview) -> pa.Table:
    return pajson.read_json(
        pa.BufferReader(pa.py_buffer(block)),
        read_options=pajson.ReadOptions(block_size=max(len(block), 1 << 16) + 1),
        memory_pool=memory_pool(),
    )


def _csv_batches_growing(
    source: str | os.PathLike[str],
    name: str,
    schema: pa.Schema,
    *,
    block_size: int,
    on_bytes: Callable[[int], None] | None,
    **options: Any,
) -> Iterator[dict[str, pa.Array]]:
    """:func:`_csv_batches` of a file, read again from its start in larger blocks when a record
    is longer than ``block_size``: the rows already yielded are skipped, and the bytes already
    counted to ``on_bytes`` are not counted again.

    Arrow reads no record that spans two block boundaries. The blocks grow to the power of two
    above the file's longest record (fewer of them per batch, so a batch holds about as much
    input), at most to ``_MAX_GROWN_CSV_BLOCK``; a longer record is the error it was.
    """
    per_batch = _CSV_BLOCKS_PER_BATCH
    done = 0  # rows yielded
    told = 0  # bytes counted to on_bytes
    while True:
        skip = done
        seen = 0

        def count(n: int) -> None:
            nonlocal seen, told
            seen += n
            if seen > told and on_bytes is not None:
                on_bytes(seen - told)
                told = seen

        try:
            for columns in _csv_batches(
                source,
                name,
                schema,
                block_size=block_size,
                blocks_per_batch=per_batch,
                on_bytes=None if on_bytes is None else count,
                **options,
            ):
                n = len(next(iter(columns.values()))) if columns else 0
                if skip:
                    cut = min(skip, n)
                    skip -= cut
                    if cut == n:
                        continue
                    columns = {k: v.slice(cut) for k, v in columns.items()}
                    n -= cut
                done += n
                yield columns
            return
        except _RecordTooLong as e:
            grown = 1 << e.size.bit_length()
            if grown > _MAX_GROWN_CSV_BLOCK or grown <= block_size:
                raise ResultFileError(str(e), path=e.path, line=e.line) from None
            per_batch = max(1, per_batch * block_size // grown)
            block_size = grown


def _json_batches(
    source: Source,
    name: str,
    schema: pa.Schema,
    *,
    encoding: str,
    block_size: int,
    max_expansion: float,
    byte_range: tuple[int, int] | None,
    on_bytes: Callable[[int], None] | None,
    threads: int,
    release_memory: bool = True,
) -> Iterator[dict[str, pa.Array]]:
    start, end = byte_range if byte_range is not None else (0, None)
    with _open(
        source,
        name,
        encoding=encoding,
        max_expansion=max_expansion,
        on_bytes=on_bytes,
        seek=max(start - 1, 0),
    ) as stream:
        records, replay = _document(stream, name) if start == 0 else (None, stream)
        if records is not None:
            for i in range(0, len(records), 10_000):
                yield _slow_columns(records[i : i + 10_000], schema, name)
            return
        blocks = _blocks(
            replay,
            block_size,
            skip_first=start > 0,
            limit=None if end is None else end - max(start - 1, 0),
        )

        utf8 = codecs.lookup(encoding).name == "utf-8"  # else the stream decoded it
        reads_file = (
            (lambda: _cp1252_reads_file(source, name, max_expansion))
            if isinstance(source, (str, os.PathLike))
            else None
        )

        def convert(block: tuple[int, bytes | memoryview]) -> dict[str, pa.Array]:
            if utf8:  # Arrow's JSON parser does not check it
                _check_utf8(name, *block, reads_file)
            return _json_columns(name, schema, *block)

        for _, done in _converted(blocks, convert, threads, release=release_memory):
            yield done.result()


def _json_columns(
    name: str, schema: pa.Schema, first_line: int, block: bytes | memoryview
) -> dict[str, pa.Array]:
    """One block of JSON lines as columns of ``schema``: Arrow's parse, else record by record."""
    try:
        return _json_block(block, schema)
    except (_Unfit, pa.ArrowInvalid, pa.ArrowNotImplementedError, _BadValue, _UnknownField):
        pass
    data = bytes(block)
    rows = _parse_lines(name, first_line, data)
    try:
        return _slow_columns(rows, schema, name)
    except _BadValue:
        raise _json_bad_values(rows, schema, name, first_line, data) from None
    except _UnknownField as u:
        raise FieldNotInSchema(
            f"{name}: field {u.path!r} is not in the schema (it was built from part "
            "of the files only: build it from all of them)",
            path=name,
            field=u.path,
        ) from None


def _json_bad_values(
    rows: list[dict[str, Any]], schema: pa.Schema, name: str, first_line: int, block: bytes
) -> ResultFileError:
    """The error for a block with bad values: the first one's line, and how many more."""
    lines = [first_line + i for i, line in enumerate(block.split(b"\n")) if line.strip()]
    bad: list[tuple[int, _BadValue]] = []
    for lineno, row in zip(lines, rows, strict=True):
        for f in schema:
            if f.name in row and f.name not in (DOWNLOAD_ID, SOURCE_FILE):
                try:
                    _py(row[f.name], f.type, f.name)
                except _BadValue as e:
                    bad.append((lineno, e))
    lineno, first = bad[0]
    if not first_line:
        return first.error(name, more=len(bad) - 1)
    return first.error(name, f"line {lineno}: ", lineno, len(bad) - 1)


def _json_block(block: bytes | memoryview, schema: pa.Schema) -> dict[str, pa.Array]:
    table = _fast_table(block)
    names = set(schema.names)
    for n in table.column_names:
        if n not in names:
            raise _UnknownField(n)
    out = {}
    for f in schema:
        if f.name in (DOWNLOAD_ID, SOURCE_FILE):
            continue
        if f.name in table.column_names:
            out[f.name] = _conform(table.column(f.name), f.type, f.name)
        else:
            out[f.name] = pa.nulls(table.num_rows, f.type)
    return out


# --- schema -------------------------------------------------------------------------------------


def _json_fields(seen: dict[str, dict[str, None]]) -> list[pa.Field]:
    fields = []
    for key in sorted(seen):
        if is_records(key):
            fields.append(pa.field(key, pa.list_(record_struct(key, tuple(seen[key])))))
        else:
            fields.append(pa.field(key, arrow_type(key)))
    return fields


def _note_keys(seen: dict[str, dict[str, None]], key: str, value: Any) -> None:
    children = seen.setdefault(key, {})
    if is_records(key):
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                children.update(dict.fromkeys(item))


def _json_keys(stream: _Input, name: str, sample_bytes: int | None) -> dict[str, dict[str, None]]:
    seen: dict[str, dict[str, None]] = {}
    records, replay = _document(stream, name)
    if records is not None:
        for row in records:
            for k, v in row.items():
                _note_keys(seen, k, v)
        return seen
    read = 0
    block_size = BLOCK_BYTES["json"]
    for first_line, block in _blocks(replay, min(block_size, sample_bytes or block_size)):
        try:
            table = _fast_table(block)
            for f in table.schema:
                children = seen.setdefault(f.name, {})
                t = f.type
                if is_records(f.name):
                    if pa.types.is_list(t):
                        t = t.value_type
                    if pa.types.is_struct(t):
                        children.update(dict.fromkeys(c.name for c in t))
                    elif not pa.types.is_null(t):
                        raise _Unfit(f.name)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, _Unfit):
            for row in _parse_lines(name, first_line, bytes(block)):
                for k, v in row.items():
                    _note_keys(seen, k, v)
        read += len(block)
        if sample_bytes is not None and read >= sample_bytes:
            break
    return seen


def _check_fields(name: str, names: list[str], schema: pa.Schema) -> None:
    for reserved in (DOWNLOAD_ID, SOURCE_FILE):
        if reserved in names:
            raise ResultFileError(
                f"{name}: has a column {reserved!r}, which dfkit adds itself", path=name
            )
    missing = [n for n in names if schema.get_field_index(n) < 0]
    if missing:
        raise FieldNotInSchema(
            f"{name}: field {missing[0]!r} is not in the schema", path=name, field=missing[0]
        )


def with_catalog_fields(schema: pa.Schema, data_type: str) -> pa.Schema:
    """Return ``schema`` with every catalogued top-level field of ``data_type`` it lacks, its
    fields in name order, then ``download_id`` and ``source_file``.

    The columns then no longer depend on which fields the records happen to hold: every
    file of that data type, CSV or JSON lines, whole or a subset, gets the same ones (a field
    the catalog does not know is still there only when some record has it).

    >>> schema = with_catalog_fields(pa.schema([pa.field("zz", pa.string())]), "people")
    >>> schema.names[:3], schema.names[-3:]
    (['address', 'ageMax', 'ageMin'], ['zz', 'download_id', 'source_file'])
    """
    fields = {f.name: f for f in schema if f.name not in (DOWNLOAD_ID, SOURCE_FILE)}
    for name in top_level_fields(data_type):
        fields.setdefault(name, pa.field(name, arrow_type(name)))
    ordered = [fields[n] for n in sorted(fields)]
    return pa.schema(
        [*ordered, pa.field(DOWNLOAD_ID, pa.string()), pa.field(SOURCE_FILE, pa.string())]
    )


def result_schema(
    sources: Iterable[Source],
    *,
    format: FileFormat | None = None,
    encoding: str = "utf-8",
    sample_bytes: int | None = None,
    names: Iterable[str] | None = None,
    max_expansion: float = MAX_EXPANSION,
    data_type: str | None = None,
) -> pa.Schema:
    """Return the Arrow schema of the records in ``sources``, typed by the field catalog.

    Fields come in the order the files first name them (CSV: header order; JSON lines: by
    name, as Datafiniti writes them), then ``download_id`` and ``source_file``. ``names``
    gives the file names of sources that are open files. A field's type never depends on the
    values, so subsets of a file give the same schema; which fields there are depends on the
    records of a JSON-lines file, unless ``data_type`` (``"product"``, ...) adds the rest of
    that data type's catalogued fields (:func:`with_catalog_fields`).

    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "1_0.csv").write_text("postalCode,reviews.rating\\n02134,5\\n")
    >>> result_schema([d / "1_0.csv"]).field("reviews").type.value_type.field("rating").type
    DataType(double)
    """
    merged: dict[str, pa.Field] = {}
    struct_extra: dict[str, dict[str, None]] = {}
    name_list = list(names) if names is not None else None
    for i, source in enumerate(sources):
        name = _name_of(source, name_list[i] if name_list else None)
        fmt = _format_of(name, format)
        with _open(source, name, encoding=encoding, max_expansion=max_expansion) as stream:
            if fmt == "csv":
                header, _ = _csv_header(stream, name)
                fields = _csv_target(header)
            else:
                fields = _json_fields(_json_keys(stream, name, sample_bytes))
        for f in fields:
            _check_fields(name, [f.name], pa.schema([f]))
            if is_records(f.name):
                struct_extra.setdefault(f.name, {}).update(
                    dict.fromkeys(c.name for c in f.type.value_type)
                )
            merged.setdefault(f.name, f)
    out = []
    for n, f in merged.items():
        if is_records(n):
            f = pa.field(n, pa.list_(record_struct(n, tuple(struct_extra[n]))))
        out.append(f)
    out += [pa.field(DOWNLOAD_ID, pa.string()), pa.field(SOURCE_FILE, pa.string())]
    schema = pa.schema(out)
    return with_catalog_fields(schema, data_type) if data_type is not None else schema


def read_result_batches(
    source: Source,
    schema: pa.Schema,
    *,
    format: FileFormat | None = None,
    encoding: str = "utf-8",
    name: str | None = None,
    byte_range: tuple[int, int] | None = None,
    block_size: int | None = None,
    max_expansion: float = MAX_EXPANSION,
    on_bytes: Callable[[int], None] | None = None,
    threads: int = THREADS,
    release_memory: bool = True,
) -> Iterator[pa.RecordBatch]:
    """Yield the records of one result file as record batches of exactly ``schema``.

    ``source`` is a path or an open binary file (``name`` its file name, for the format and
    the ``download_id``/``source_file`` columns). ``on_bytes(n)`` is called with the bytes of
    input consumed, for progress bars. The file is read in this thread and its batches (a
    block of JSON lines, twelve blocks of CSV) are converted on ``threads`` threads (1: all in
    this thread), at most ``threads`` batches ahead of the batch yielded; the batches come in
    the file's order. With ``release_memory`` (the default) the threads hand the memory they
    freed back to the OS after each batch, so the process's memory follows the batches in
    use; a caller that keeps every batch (as ``read_results`` does) passes False and saves
    the kernel zeroing fresh pages again. A CSV path read in the default blocks that holds a
    record longer than a block is read again in blocks above it (up to 16 MB), without
    yielding a row twice; a longer record, or one in an open file or longer than the
    caller's ``block_size``, is a ``ResultFileError`` naming the setting to raise.

    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "7_0.csv").write_text("id,categories\\nA,\\"Food, Drink,Bars\\"\\n")
    >>> schema = result_schema([d / "7_0.csv"])
    >>> [b.to_pylist() for b in read_result_batches(d / "7_0.csv", schema)]
    [[{'id': 'A', 'categories': ['Food, Drink', 'Bars'], 'download_id': '7',
       'source_file': '7_0.csv'}]]
    """
    name = _name_of(source, name)
    fmt = _format_of(name, format)
    if byte_range is not None and not can_read_in_ranges(name, fmt, encoding):
        raise ArgumentError(
            "byte_range: only uncompressed files (CSV in UTF-8) can be read in ranges"
        )
    if fmt == "csv" and not block_size and isinstance(source, (str, os.PathLike)):
        columns = _csv_batches_growing(
            source,
            name,
            schema,
            encoding=encoding,
            block_size=BLOCK_BYTES["csv"],
            max_expansion=max_expansion,
            on_bytes=on_bytes,
            byte_range=byte_range,
            threads=threads,
            release_memory=release_memory,
        )
    elif fmt == "csv":
        columns = _csv_batches(
            source,
            name,
            schema,
            encoding=encoding,
            block_size=block_size or BLOCK_BYTES["csv"],
            max_expansion=max_expansion,
            on_bytes=on_bytes,
            byte_range=byte_range,
            threads=threads,
            release_memory=release_memory,
        )
    else:
        columns = _json_batches(
            source,
            name,
            schema,
            encoding=encoding,
            block_size=block_size or BLOCK_BYTES["json"],
            max_expansion=max_expansion,
            byte_range=byte_range,
            on_bytes=on_bytes,
            threads=threads,
            release_memory=release_memory,
        )
    did = pa.scalar(download_id_of(name), pa.string())
    src = pa.scalar(name, pa.string())
    pool = memory_pool()
    for cols in columns:
        n = len(next(iter(cols.values()))) if cols else 0
        arrays = []
        for f in schema:
            if f.name == DOWNLOAD_ID:
                arrays.append(pa.repeat(did, n, memory_pool=pool))
            elif f.name == SOURCE_FILE:
                arrays.append(pa.repeat(src, n, memory_pool=pool))
            else:
                arrays.append(cols.get(f.name, pa.nulls(n, f.type)))
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)
