"""Result files: fetch them safely in parallel, read them as a DataFrame, stream them to Parquet.

A download's data is in its result files (CSV, or newline-delimited JSON ``.txt``), about
10,000 records each, behind pre-signed S3 links that expire after 7 days::

    fetch_results(downloads, "data/")   -> manifest DataFrame; files data/<id>_<n>.<ext>
    read_results("data/")               -> every record (+ download_id, source_file)
    results_to_parquet("data/", "x.parquet") -> Parquet file or hive dataset, in constant memory

``read_results`` and ``results_to_parquet`` give the same columns and types; how a column's
type is decided (never at the cost of information) lives in ``dfkit._resultfiles``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

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
from dfkit.client import ResultFilesSession, _interactive, _is_loopback, redact
from dfkit.errors import DfkitError, ResultFetchError, ResultFileError

if TYPE_CHECKING:
    from tqdm import tqdm

    from dfkit.client import Client

__all__ = ["fetch_results", "read_results", "results_to_parquet"]

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


# --- fetching ---------------------------------------------------------------------------------

#: A download id usable in a file name: letters, digits, "-" and "_", not starting with "-".
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_URL_EXTENSIONS = ("csv", "txt", "json", "jsonl")
_FORMAT_EXTENSIONS = {"csv": "csv", "json": "txt"}
_CHUNK = 1 << 20
_RETRIES = 5
_TIMEOUT = (10.0, 60.0)

Status = Literal["downloaded", "skipped", "failed"]


@dataclass
class _Job:
    """One result file to fetch (or the reason it is not fetched)."""

    id: str
    result_index: int | None
    url: str | None = None
    format: str | None = None
    path: Path | None = None
    bytes: int | None = None
    status: Status | None = None
    error: str | None = None

    def done(self, status: Status, error: str | None = None) -> _Job:
        self.status, self.error = status, error
        return self


class _LinkExpired(Exception):
    pass


class _Stopped(Exception):
    pass


def _shown(url: str) -> str:
    """The URL without its query string (an S3 signature) or credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" + ("?<redacted>" if parts.query else "")


def _result_urls(download: Mapping[str, Any]) -> list[str | None]:
    out: list[str | None] = []
    for item in download.get("results") or []:
        if isinstance(item, Mapping):
            item = item.get("url")
        out.append(item if isinstance(item, str) and item else None)
    return out


def _jobs_from_dict(d: Mapping[str, Any]) -> list[_Job]:
    raw_id = d.get("id", d.get("_id"))
    did = "" if raw_id is None else str(raw_id)
    status = str(d.get("status") or "").lower()
    fmt = d.get("format")
    fmt = str(fmt).lower() if fmt is not None else None
    if status != "completed":
        return [_Job(did, None).done("skipped", f"status is {status or 'missing'!r}")]
    urls = _result_urls(d)
    if not urls:
        return [_Job(did, None).done("skipped", "completed without result files")]
    return [_Job(did, n, url, fmt) for n, url in enumerate(urls)]


def _jobs_from_frame(df: pd.DataFrame, client: Client | None) -> list[_Job]:
    missing = [c for c in ("id", "status") if c not in df.columns]
    if "url" in df.columns and "result_index" not in df.columns:
        missing.append("result_index")
    if missing:
        raise ValueError(
            f"expected a downloads frame (dfkit.downloads_frame); it has no column {missing[0]!r}"
        )
    if "url" not in df.columns:
        if client is None:
            raise ValueError(
                "a per-download frame carries no result links: pass client= to look them up, "
                "or build the frame with per='result'"
            )
        jobs: list[_Job] = []
        for did, status in zip(df["id"], df["status"], strict=True):
            if str(status) != "completed":
                jobs.append(_Job(str(did), None).done("skipped", f"status is {str(status)!r}"))
                continue
            try:
                jobs += _jobs_from_dict(client.download(str(did)))
            except DfkitError as e:
                jobs.append(_Job(str(did), None).done("failed", redact(str(e))))
        return jobs
    fmts = df["format"] if "format" in df.columns else pd.Series([None] * len(df), index=df.index)
    jobs = []
    for did, status, url, n, fmt in zip(
        df["id"], df["status"], df["url"], df["result_index"], fmts, strict=True
    ):
        did = "" if pd.isna(did) else str(did)
        status = "" if pd.isna(status) else str(status)
        if status != "completed":
            jobs.append(_Job(did, None).done("skipped", f"status is {status or 'missing'!r}"))
        elif pd.isna(url) or pd.isna(n):
            jobs.append(_Job(did, None).done("skipped", "completed without result files"))
        else:
            f = None if pd.isna(fmt) else str(fmt).lower()
            jobs.append(_Job(did, int(n), str(url), f))
    return jobs


def _extension(url: str, fmt: str | None) -> str | None:
    name = urlsplit(url).path.rsplit("/", 1)[-1].lower()
    parts = name.split(".")
    by_format = _FORMAT_EXTENSIONS.get(fmt or "")
    if len(parts) > 1 and parts[-1] in _URL_EXTENSIONS:
        return parts[-1]
    if len(parts) > 1 and parts[-1] == "gz":
        inner = parts[-2] if len(parts) > 2 and parts[-2] in _URL_EXTENSIONS else by_format
        return f"{inner}.gz" if inner else "gz"
    return by_format


def _url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if parts.hostname and (
        scheme == "https" or (scheme == "http" and _is_loopback(parts.hostname))
    ):
        return None
    return f"refusing {_shown(url)}: only https links are fetched (http on loopback only)"


def _check_job(job: _Job, dest: Path) -> None:
    """Fill in ``job.path``, or mark the job failed when its id, URL or name is unsafe."""
    if job.status is not None or job.url is None:
        return
    if not _SAFE_ID.match(job.id):
        job.done(
            "failed",
            f"download id {job.id!r} is not safe in a file name "
            "(expected letters, digits, '-' or '_')",
        )
        return
    problem = _url_problem(job.url)
    if problem:
        job.done("failed", problem)
        return
    ext = _extension(job.url, job.format)
    if ext is None:
        job.done("failed", f"cannot tell the file type of {_shown(job.url)} (format unknown)")
        return
    path = dest / f"{job.id}_{job.result_index}.{ext}"
    if path.resolve().parent != dest.resolve():
        job.done("failed", f"refusing file name {path.name!r}: it resolves outside {dest}")
        return
    job.path = path


class _Fetcher:
    """Downloads jobs over a credential-free session, refreshing expired links once per id."""

    def __init__(
        self, session: requests.Session, client: Client | None, bar: tqdm[Any] | None
    ) -> None:
        self.session = session
        self.client = client
        self.bar = bar
        self.timeout: Any = client.timeout if client is not None else _TIMEOUT
        self._lock = threading.Lock()
        self._refresh_locks: dict[str, threading.Lock] = {}
        self._fresh: dict[str, list[str | None] | str] = {}
        #: Set when the caller is interrupted: downloads in flight stop at their next chunk.
        self.stop = threading.Event()

    def run(self, job: _Job) -> _Job:
        assert job.url is not None and job.path is not None and job.result_index is not None
        try:
            try:
                job.bytes = self._get(job.url, job.path)
            except _LinkExpired as expired:
                if self.client is None:
                    return job.done(
                        "failed",
                        f"link expired ({expired}); result links are valid 7 days: pass "
                        "client= to fetch fresh ones",
                    )
                url = self._refreshed(job)
                job.bytes = self._get(url, job.path)
        except _LinkExpired as expired:
            return job.done("failed", f"link still rejected after a refresh ({expired})")
        except _Stopped:
            return job.done("failed", "interrupted")
        except (OSError, requests.RequestException, DfkitError) as e:
            return job.done("failed", redact(f"{type(e).__name__}: {e}"))
        return job.done("downloaded")

    def _refreshed(self, job: _Job) -> str:
        """The job's link from one fresh ``GET /downloads/{id}``, shared by the id's files."""
        assert self.client is not None and job.result_index is not None
        with self._lock:
            lock = self._refresh_locks.setdefault(job.id, threading.Lock())
        with lock:
            if job.id not in self._fresh:
                try:
                    self._fresh[job.id] = _result_urls(self.client.download(job.id))
                except DfkitError as e:
                    self._fresh[job.id] = f"refreshing the links failed: {redact(str(e))}"
            fresh = self._fresh[job.id]
        if isinstance(fresh, str):
            raise DfkitError(fresh)
        if job.result_index >= len(fresh) or fresh[job.result_index] is None:
            raise DfkitError(f"the refreshed download has no result {job.result_index}")
        url = fresh[job.result_index]
        assert url is not None
        problem = _url_problem(url)
        if problem:
            raise DfkitError(problem)
        job.url = url
        return url

    def _get(self, url: str, path: Path) -> int:
        where = _shown(url)
        with self.session.get(url, stream=True, timeout=self.timeout) as r:
            if r.url and r.url != url and _url_problem(r.url):
                raise DfkitError(f"{where} redirected to {_shown(r.url)}: not https")
            if r.status_code == 403:
                body = r.raw.read(4096, decode_content=True) or b""
                if b"<Error>" in body or b"<?xml" in body:
                    code = re.search(rb"<Code>([^<]{1,80})</Code>", body)
                    msg = re.search(rb"<Message>([^<]{1,200})</Message>", body)
                    detail = " ".join(
                        m.group(1).decode("utf-8", "replace") for m in (code, msg) if m
                    )
                    raise _LinkExpired(f"HTTP 403 {detail or 'with an XML body'} from {where}")
            if r.status_code != 200:
                raise DfkitError(f"HTTP {r.status_code} from {where}")
            expected = r.headers.get("Content-Length")
            if self.bar is not None and expected is not None and expected.isdigit():
                with self._lock:
                    self.bar.total = (self.bar.total or 0) + int(expected)
                    self.bar.refresh()
            size = 0
            with atomic_file(path) as tmp, open(tmp, "wb") as f:
                for chunk in r.iter_content(chunk_size=_CHUNK):
                    if self.stop.is_set():
                        raise _Stopped
                    f.write(chunk)
                    size += len(chunk)
                    if self.bar is not None:
                        with self._lock:
                            self.bar.update(len(chunk))
                if expected is not None and expected.isdigit() and int(expected) != size:
                    raise DfkitError(f"{where}: connection closed after {size} of {expected} bytes")
            return size


def _own_session(workers: int) -> requests.Session:
    session = ResultFilesSession()
    retry = Retry(
        total=_RETRIES,
        connect=_RETRIES,
        read=_RETRIES,
        status=_RETRIES,
        other=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=frozenset({429, 500, 502, 503, 504}),
        backoff_factor=0.5,
        backoff_max=30.0,
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=max(workers, 10))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def fetch_results(
    downloads: pd.DataFrame | Mapping[str, Any] | Sequence[Mapping[str, Any]],
    dest: str | os.PathLike[str],
    *,
    workers: int = 4,
    overwrite: bool = False,
    progress: bool | None = None,
    client: Client | None = None,
    errors: Literal["raise", "ignore"] = "raise",
) -> pd.DataFrame:
    """Return a manifest of the result files fetched into ``dest``, one row per file.

    ``downloads`` is a per-result downloads frame (``downloads_frame(..., per="result")``), a
    download object, or a list of them; a per-download frame has no links and needs
    ``client=`` to look them up. Only ``completed`` downloads are fetched, ``workers`` files at
    a time, each streamed to ``dest/<id>_<n>.<ext>`` under a temporary name and renamed when
    complete. A file already there counts as done (no request) unless ``overwrite=True``, so a
    rerun resumes an interrupted one.

    Links are fetched with no ``Authorization`` header and no cookies, https only (http only on
    loopback); connection errors and 5xx are retried. An expired link (S3's 403 with an XML
    body) is refreshed once with ``client.download(id)`` when ``client`` is given.

    The manifest has columns ``id``, ``result_index``, ``path``, ``bytes``, ``status``
    (``downloaded``, ``skipped`` or ``failed``) and ``error``; one failure does not stop the
    other files, but :class:`~dfkit.ResultFetchError` is raised at the end (its ``manifest``
    lists every file) unless ``errors="ignore"``. ``progress`` shows a byte progress bar;
    the default shows it in terminals and notebooks only.

    >>> import tempfile
    >>> from dfkit.testing import FakeDatafiniti
    >>> with FakeDatafiniti(records_per_file=10) as fake:
    ...     d = fake.add_download({"id": "5", "status": "completed", "format": "CSV",
    ...                            "num_records": 25, "results": ["a", "b", "c"]})
    ...     m = fetch_results(d, tempfile.mkdtemp(), progress=False)
    >>> m[["result_index", "status"]].to_dict("list")
    {'result_index': [0, 1, 2], 'status': ['downloaded', 'downloaded', 'downloaded']}
    """
    if errors not in ("raise", "ignore"):
        raise ValueError(f"errors must be 'raise' or 'ignore', not {errors!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    if isinstance(downloads, pd.DataFrame):
        jobs = _jobs_from_frame(downloads, client)
    elif isinstance(downloads, Mapping):
        jobs = _jobs_from_dict(downloads)
    else:
        jobs = [j for d in downloads for j in _jobs_from_dict(d)]
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    todo: list[_Job] = []
    for job in jobs:
        _check_job(job, folder)
        if job.status is not None or job.path is None:
            continue
        if job.path.exists() and not overwrite:
            job.bytes = job.path.stat().st_size
            job.done("skipped", None)
        else:
            todo.append(job)

    show = _interactive() if progress is None else progress
    bar: tqdm[Any] | None = None
    if show and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=None, unit="B", unit_scale=True, unit_divisor=1024, desc="results")
    session = client.files_session if client is not None else _own_session(workers)
    fetcher = _Fetcher(session, client, bar)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dfkit-fetch")
    try:
        list(pool.map(fetcher.run, todo))
    except BaseException:
        # Ctrl-C: start nothing new, and make the files in flight stop (leaving no partial file).
        fetcher.stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
        if client is None:
            session.close()

    manifest = _manifest(jobs)
    failed = [j for j in jobs if j.status == "failed"]
    if failed and errors == "raise":
        lines = [f"  {j.id}_{j.result_index}: {j.error}" for j in failed[:20]]
        if len(failed) > 20:
            lines.append(f"  ... and {len(failed) - 20} more (see .manifest)")
        raise ResultFetchError(
            f"{len(failed)} of {len(jobs)} result files failed:\n" + "\n".join(lines),
            manifest=manifest,
        )
    return manifest


def _manifest(jobs: list[_Job]) -> pd.DataFrame:
    string = pd.StringDtype("pyarrow")
    manifest: pd.DataFrame = pd.DataFrame(
        {
            "id": pd.array([j.id for j in jobs], dtype=string),
            "result_index": pd.array([j.result_index for j in jobs], dtype="Int64"),
            "path": pd.array([str(j.path) if j.path else None for j in jobs], dtype=string),
            "bytes": pd.array([j.bytes for j in jobs], dtype="Int64"),
            "status": pd.Categorical(
                [j.status for j in jobs], categories=["downloaded", "skipped", "failed"]
            ),
            "error": pd.array([j.error for j in jobs], dtype=string),
        }
    )
    return manifest
