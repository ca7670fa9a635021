"""Fetching result files: ``fetch_results`` and its job and fetcher machinery.

A download's data is in its result files (CSV, or newline-delimited JSON ``.txt``), about
10,000 records each, behind pre-signed S3 links that expire after 7 days::

    fetch_results(downloads, "data/")   -> manifest DataFrame; files data/<id>_<n>.<ext>

Reading and converting the fetched files is :mod:`dfkit.results`'s job.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import re
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import pandas as pd
import requests
from urllib3.exceptions import HTTPError, ReadTimeoutError

from dfkit import transport
from dfkit._atomic import atomic_file, is_disk_full, sweep_stale
from dfkit.errors import ArgumentError, DfkitError, DiskFullError, ResultFetchError
from dfkit.progress import interactive
from dfkit.redaction import redact, shown_url
from dfkit.resultfiles import unclosed_quote
from dfkit.storage import check_output, filesystem, is_local, is_url, join, upload
from dfkit.transport import failure_kind, link_problem, result_files_session, watched_call

if TYPE_CHECKING:
    from tqdm import tqdm

    from dfkit.client import Client

__all__ = [
    "MANIFEST_STATUSES",
    "MAX_FILE_BYTES",
    "MIN_FILE_DEADLINE",
    "MIN_THROUGHPUT",
    "fetch_results",
    "file_deadline_for",
]

#: A download id usable in a file name: letters, digits, "-" and "_", not starting with "-".
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_URL_EXTENSIONS = ("csv", "txt", "json", "jsonl")
_FORMAT_EXTENSIONS = {"csv": "csv", "json": "txt"}
_CHUNK = 1 << 20
_RETRIES = 5
_TIMEOUT = (10.0, 60.0)
#: Bytes of a body looked at to tell a result file from an error page.
_SNIFF_BYTES = 4096
#: How long an interrupted call waits for its downloads in flight to delete their partial files.
_STOP_GRACE = 0.5

Status = Literal["downloaded", "present", "skipped", "failed"]
#: Every manifest status, in the order the manifest's categorical lists them:
#: ``downloaded`` (fetched by this call), ``present`` (already in ``dest``, not fetched again),
#: ``skipped`` (nothing to fetch: the download is not completed, or has no result files) and
#: ``failed`` (``error`` says why).
MANIFEST_STATUSES: tuple[Status, ...] = ("downloaded", "present", "skipped", "failed")
#: Default of ``fetch_results(max_file_bytes=...)``: the most one file may take on disk.
MAX_FILE_BYTES = 1 << 30
#: The default deadline of one file assumes at least this throughput, in bytes a second ...
MIN_THROUGHPUT = 100_000
#: ... and is never shorter than this many seconds (10 minutes).
MIN_FILE_DEADLINE = 600.0


def file_deadline_for(size: int | None, max_file_bytes: int = MAX_FILE_BYTES) -> float:
    """Return the default deadline in seconds of fetching one file of ``size`` bytes.

    That is the time the file takes at :data:`MIN_THROUGHPUT` (100 KB/s), at least
    :data:`MIN_FILE_DEADLINE` (10 minutes); a file of unknown size (no ``Content-Length``) is
    given the time ``max_file_bytes`` would take.

    >>> file_deadline_for(1_000_000), file_deadline_for(500_000_000), file_deadline_for(None)
    (600.0, 5000.0, 10737.41824)
    """
    return max(MIN_FILE_DEADLINE, (max_file_bytes if size is None else size) / MIN_THROUGHPUT)


@dataclass
class _Job:
    """One result file to fetch (or the reason it is not fetched)."""

    id: str
    result_index: int | None
    url: str | None = None
    format: str | None = None
    #: The file's name in ``dest`` (``<id>_<n>.<ext>``) and where it is (a path or a URL).
    name: str | None = None
    path: str | None = None
    bytes: int | None = None
    status: Status | None = None
    error: str | None = None
    #: The earlier job with the same file name and link, whose outcome this one shares.
    same_as: _Job | None = None
    #: The exception behind a failure, chained to the ResultFetchError that reports it.
    cause: BaseException | None = None

    def done(
        self, status: Status, error: str | None = None, cause: BaseException | None = None
    ) -> _Job:
        self.status, self.error, self.cause = status, error, cause
        return self


class _LinkExpired(Exception):
    pass


class _Stopped(Exception):
    pass


class _DiskFull(Exception):
    def __init__(self, path: str, error: OSError) -> None:
        super().__init__(path)
        self.path, self.error = path, error


@dataclass(frozen=True)
class _Unusable:
    """A result entry with no link to fetch, and why."""

    reason: str


def _result_links(download: Mapping[str, Any]) -> list[str | _Unusable]:
    """Each entry of ``download["results"]``: its URL, or why it has none."""
    out: list[str | _Unusable] = []
    for n, item in enumerate(download.get("results") or []):
        url = item.get("url") if isinstance(item, Mapping) else item
        if isinstance(url, str) and url:
            out.append(url)
        elif isinstance(item, Mapping):
            keys = ", ".join(sorted(str(k) for k in item)[:5]) or "none"
            out.append(_Unusable(f"results[{n}] is an object without a 'url' (keys: {keys})"))
        elif isinstance(item, str):
            out.append(_Unusable(f"results[{n}] is an empty string"))
        else:
            out.append(_Unusable(f"results[{n}] is {type(item).__name__}, not a link"))
    return out


def _jobs_from_dict(d: Mapping[str, Any]) -> list[_Job]:
    raw_id = d.get("id", d.get("_id"))
    did = "" if raw_id is None else str(raw_id)
    status = str(d.get("status") or "").lower()
    fmt = d.get("format")
    fmt = str(fmt).lower() if fmt is not None else None
    if status != "completed":
        return [_Job(did, None).done("skipped", f"status is {status or 'missing'!r}")]
    links = _result_links(d)
    if not links:
        return [_Job(did, None).done("skipped", "completed without result files")]
    return [
        _Job(did, n).done("failed", link.reason)
        if isinstance(link, _Unusable)
        else _Job(did, n, link, fmt)
        for n, link in enumerate(links)
    ]


def _jobs_from_frame(df: pd.DataFrame, client: Client | None) -> list[_Job]:
    missing = [c for c in ("id", "status") if c not in df.columns]
    if "url" in df.columns and "result_index" not in df.columns:
        missing.append("result_index")
    if missing:
        raise ArgumentError(
            f"expected a downloads frame (dfkit.downloads_frame); it has no column {missing[0]!r}"
        )
    if "url" not in df.columns:
        if client is None:
            raise ArgumentError(
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
        elif pd.isna(n):
            jobs.append(_Job(did, None).done("skipped", "completed without result files"))
        elif pd.isna(url) or not str(url):
            jobs.append(_Job(did, int(n)).done("failed", f"results[{int(n)}] has no link"))
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


def _check_job(job: _Job, dest: _Folder) -> None:
    """Fill in ``job.name``, or mark the job failed when its id, URL or name is unsafe."""
    if job.status is not None or job.url is None:
        return
    if not _SAFE_ID.match(job.id):
        job.done(
            "failed",
            f"download id {job.id!r} is not safe in a file name "
            "(expected letters, digits, '-' or '_')",
        )
        return
    problem = link_problem(job.url)
    if problem:
        job.done("failed", problem)
        return
    ext = _extension(job.url, job.format)
    if ext is None:
        job.done("failed", f"cannot tell the file type of {shown_url(job.url)} (format unknown)")
        return
    name = f"{job.id}_{job.result_index}.{ext}"
    if dest.local is not None and (dest.local / name).resolve().parent != dest.local.resolve():
        job.done("failed", f"refusing file name {name!r}: it resolves outside {dest.local}")
        return
    job.name, job.path = name, dest.where(name)


def _claim_paths(jobs: list[_Job]) -> None:
    """Make sure no two jobs write one file: a repeated link shares the first job's outcome,
    a different link under the same name fails (ids ``"5"`` and ``5`` both name ``5_0.csv``).

    Names are compared case-insensitively, as macOS and Windows file systems do.
    """
    owners: dict[str, _Job] = {}
    for job in jobs:
        if job.status is not None or job.name is None:
            continue
        first = owners.setdefault(job.name.casefold(), job)
        if first is job:
            continue
        if first.url == job.url:
            job.same_as = first
        else:
            job.done(
                "failed",
                f"{job.name} is also the file of another result entry with a different "
                f"link (download id {first.id!r} given twice?): not fetched, to lose neither",
            )
            job.name = job.path = None


_NOT_FILE_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/xml", "text/xml"})
_ERROR_KEYS = frozenset({"error", "errors", "message", "code", "status", "statuscode", "detail"})


def _body_problem(first: bytes, content_type: str, ext: str) -> str | None:
    """Why a 200 body whose first bytes are ``first`` is not a result file of type ``ext``."""
    mime = content_type.split(";", 1)[0].strip().lower()
    gzipped = ext.endswith("gz")
    if mime in _NOT_FILE_TYPES:
        return f"the body is {mime}{_gist(first)}, not a {ext} file"
    if gzipped:
        if not first:
            return "the body is empty, not gzip data"
        if first.startswith(b"\x1f\x8b"):
            return None
        return f"the body is not gzip data{_gist(first)}"
    head = first.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head:
        # A Datafiniti CSV has a header line even when it holds no record; JSON lines of no
        # record are an empty file.
        if ext == "csv":
            return f"the body is {'blank' if first else 'empty'}, not a CSV file"
        return None
    if head.startswith(b"<"):
        return f"the body looks like HTML or XML{_gist(first)}, not a {ext} file"
    if ext == "csv":
        if head[:1] in (b"{", b"["):
            return f"the body looks like JSON{_gist(first)}, not a CSV file"
        return _csv_header_problem(head, whole=len(first) < _SNIFF_BYTES)
    if not head.startswith(b"{"):
        return f"the body does not start with a JSON object{_gist(first)}"
    line = head.split(b"\n", 1)[0]
    try:
        value = json.loads(line)
    except ValueError:
        return None  # a record longer than the sniffed bytes
    if isinstance(value, dict) and value and {k.lower() for k in value} <= _ERROR_KEYS:
        return f"the body is an error object{_gist(first)}, not a record"
    return None


#: A CSV header's field name: a Datafiniti field path (``reviews.dateAdded``, ``ean / upc``),
#: maybe quoted; it starts with a letter and ends with a letter, digit, ``_`` or ``]``.
_FIELD_NAME = re.compile(rb'^("?)[A-Za-z_](?:[A-Za-z0-9_.:\[\]/ -]{0,98}[A-Za-z0-9_\]])?\1$')


def _csv_header_problem(head: bytes, *, whole: bool) -> str | None:
    """Why ``head`` (the start of a body, BOM removed) is not a Datafiniti CSV, or None.

    A Datafiniti CSV starts with a header line of comma-separated field names ending in a line
    break; a header longer than ``head`` is judged on the names it shows.
    """
    line, newline, _ = head.partition(b"\n")
    names = line.removesuffix(b"\r").split(b",")
    if not newline:
        if whole:
            return f"the body is {len(head):,} bytes of text with no line break ({_quote(head)})"
        names = names[:-1]  # the last name may be cut off
    # One column named in words ("Access Denied") is prose, not a header.
    prose = len(names) == 1 and b" " in names[0]
    if prose or not all(_FIELD_NAME.match(n) for n in names):
        return f"the first line is not a CSV header of field names ({_quote(line)})"
    return None


def _quote(text: bytes) -> str:
    """The start of ``text`` as a short, printable, redacted quote."""
    shown = " ".join(text[:200].decode("utf-8", "replace").split())
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return repr(redact(shown))


def _check_body(where: str, first: bytes, content_type: str, ext: str) -> None:
    problem = _body_problem(first, content_type, ext)
    if problem:
        raise DfkitError(f"{problem} ({where})")


def _gist(body: bytes) -> str:
    """A short, redacted hint of what an error body says (``" (AccessDenied: ...)"``), or ``""``."""
    text = body[:_SNIFF_BYTES].decode("utf-8", "replace")
    found = [
        m.group(1).strip()
        for pattern in (
            r"<Code>([^<]{1,80})</Code>",
            r"<Message>([^<]{1,160})</Message>",
            r"<title>([^<]{1,80})</title>",
            r'"(?:error|message)"\s*:\s*"([^"]{1,160})"',
        )
        for m in [re.search(pattern, text, re.IGNORECASE)]
        if m
    ]
    return f" ({redact(': '.join(found[:2]))})" if found else ""


class _Fetcher:
    """Downloads jobs over a credential-free session, refreshing expired links once per id."""

    def __init__(
        self,
        session: requests.Session,
        client: Client | None,
        bar: tqdm[Any] | None,
        max_file_bytes: int,
        file_deadline: float | None,
        dest: _Folder,
    ) -> None:
        self.session = session
        self.dest = dest
        self.client = client
        self.bar = bar
        self.max_file_bytes = max_file_bytes
        self.file_deadline = file_deadline
        self.timeout: Any = client.timeout if client is not None else _TIMEOUT
        self._lock = threading.Lock()
        self._refresh_locks: dict[str, threading.Lock] = {}
        self._fresh: dict[str, list[str | _Unusable] | str] = {}
        #: The calls in progress (``transport.watched_call``), which ``halt`` ends at once.
        self._in_flight: list[Any] = []
        self._fetched = 0
        #: Set when the caller is interrupted: downloads in flight stop at their next chunk.
        self.stop = threading.Event()
        #: The first file the disk had no room for; every other download stops.
        self.disk_full: _DiskFull | None = None

    def run_all(self, jobs: list[_Job], workers: int) -> None:
        """Fetch ``jobs``, ``workers`` at a time; Ctrl-C returns within about a second."""
        pending = iter(jobs)

        def work() -> None:
            while not self.stop.is_set():
                with self._lock:
                    job = next(pending, None)
                if job is None:
                    return
                self._count(self.run(job))

        # Daemon threads: a download stuck in a connect or a retry sleep cannot hold up the
        # caller's Ctrl-C (or the interpreter's exit); it stops at its next step, writing nothing.
        threads = [
            threading.Thread(target=work, name=f"dfkit-fetch-{i}", daemon=True)
            for i in range(min(workers, len(jobs)))
        ]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.1)
        except BaseException:
            self.halt()
            deadline = time.monotonic() + _STOP_GRACE
            for t in threads:
                t.join(max(0.0, deadline - time.monotonic()))
            raise

    def halt(self) -> None:
        """Stop every download: none starts, and those in flight drop their connection."""
        self.stop.set()
        with self._lock:
            calls = list(self._in_flight)
        for call in calls:
            call.expire()

    def run(self, job: _Job) -> _Job:
        assert job.url is not None and job.name is not None and job.result_index is not None
        try:
            try:
                job.bytes = self._get(job.url, job.name)
            except _LinkExpired as expired:
                if self.client is None:
                    return job.done(
                        "failed",
                        f"link expired ({expired}); result links are valid 7 days: pass "
                        "client= to fetch fresh ones",
                    )
                url = self._refreshed(job)
                job.bytes = self._get(url, job.name)
        except _LinkExpired as expired:
            return job.done("failed", f"link still rejected after a refresh ({expired})", expired)
        except _DiskFull as full:
            with self._lock:
                self.disk_full = self.disk_full or full
            self.halt()
            return job.done("failed", f"no space left on device writing {full.path}", full)
        except _Stopped as e:
            return job.done("failed", "interrupted", e)
        except Exception as e:  # a worker thread must report every failure, not die of it
            if self.stop.is_set():
                return job.done("failed", "interrupted", e)
            if isinstance(e, DfkitError):
                return job.done("failed", redact(str(e)), e)
            where = f"{job.name} from {shown_url(job.url)}"
            return job.done("failed", f"{failure_kind(e)} ({where})", e)
        return job.done("downloaded")

    def _count(self, job: _Job) -> None:
        if self.bar is None:
            return
        with self._lock:
            if job.status == "downloaded":
                self._fetched += job.bytes or 0
            fetched = self.bar.format_sizeof(self._fetched, "B", 1024)
            self.bar.set_postfix_str(fetched, refresh=False)
            self.bar.update(1)

    def _refreshed(self, job: _Job) -> str:
        """The job's link from one fresh ``GET /downloads/{id}``, shared by the id's files."""
        assert self.client is not None and job.result_index is not None
        with self._lock:
            lock = self._refresh_locks.setdefault(job.id, threading.Lock())
        with lock:
            if job.id not in self._fresh:
                try:
                    self._fresh[job.id] = _result_links(self.client.download(job.id))
                except DfkitError as e:
                    self._fresh[job.id] = f"refreshing the links failed: {redact(str(e))}"
            fresh = self._fresh[job.id]
        if isinstance(fresh, str):
            raise DfkitError(fresh)
        if job.result_index >= len(fresh):
            raise DfkitError(f"the refreshed download has no result {job.result_index}")
        url = fresh[job.result_index]
        if isinstance(url, _Unusable):
            raise DfkitError(f"the refreshed download's {url.reason}")
        problem = link_problem(url)
        if problem:
            raise DfkitError(problem)
        job.url = url
        return url

    def _get(self, url: str, name: str) -> int:
        """Fetch ``url`` into ``dest/name`` within the file's deadline; return its bytes."""
        where = f"{name} from {shown_url(url)}"
        start = transport.monotonic()
        # Until the headers say the file's size, the shortest default deadline applies.
        allowed = self.file_deadline or MIN_FILE_DEADLINE
        try:
            with (
                watched_call(where, start + allowed, late=_late(allowed)) as call,
                self._tracked(call),
            ):
                r = self.session.get(url, stream=True, timeout=self.timeout)
        except requests.RequestException as e:  # a failure the deadline did not cause
            raise DfkitError(f"{failure_kind(e)} ({where})") from e
        with r:
            if self.file_deadline is None:
                length = r.headers.get("Content-Length", "")
                size = int(length) if length.isdigit() else None
                allowed = file_deadline_for(size, self.max_file_bytes)
            with watched_call(where, start + allowed, late=_late(allowed)) as call:
                call.watch(r)
                with self._tracked(call):
                    return self._save(r, url, name, where, call.expired)

    @contextlib.contextmanager
    def _tracked(self, call: Any) -> Iterator[None]:
        """Keep ``call`` where ``halt`` can end it, for the duration of the block."""
        with self._lock:
            self._in_flight.append(call)
        try:
            if self.stop.is_set():
                call.expire()
            yield
        finally:
            with self._lock:
                self._in_flight.remove(call)

    def _save(
        self,
        r: requests.Response,
        url: str,
        name: str,
        where: str,
        expired: threading.Event,
    ) -> int:
        if self.stop.is_set():
            raise _Stopped
        if r.url and r.url != url and link_problem(r.url):
            raise DfkitError(f"redirected to {shown_url(r.url)}: not https ({where})")
        if r.status_code == 403:
            body = r.raw.read(_SNIFF_BYTES, decode_content=True) or b""
            if b"<Error>" in body or b"<?xml" in body:
                code = re.search(rb"<Code>([^<]{1,80})</Code>", body)
                msg = re.search(rb"<Message>([^<]{1,200})</Message>", body)
                detail = " ".join(m.group(1).decode("utf-8", "replace") for m in (code, msg) if m)
                raise _LinkExpired(f"HTTP 403 {detail or 'with an XML body'} ({where})")
        if r.status_code != 200:
            raise DfkitError(f"HTTP {r.status_code} ({where})")
        ext = name.split(".", 1)[1]
        limit = self.max_file_bytes
        encoding = r.headers.get("Content-Encoding", "").strip().lower()
        # A .gz file is kept as sent: decoding a Content-Encoding: gzip would save plain text
        # under a .gz name.
        decode = bool(encoding) and encoding != "identity" and not ext.endswith("gz")
        expected = r.headers.get("Content-Length", "")
        if expected.isdigit() and not decode and int(expected) > limit:
            raise DfkitError(
                f"{int(expected):,} bytes, over max_file_bytes={limit:,} "
                f"(pass a larger max_file_bytes to accept it) ({where})"
            )
        content_type = r.headers.get("Content-Type", "")
        first = b""
        size = 0
        of = f" of {int(expected):,}" if expected.isdigit() else ""
        # A CSV body cut inside a quoted value reads as a short value: counting its quotes is
        # cheap, and only a body whose quotes do not pair up is parsed to be sure.
        quotes = 0 if ext == "csv" else None
        try:
            with self.dest.writing(name) as tmp, open(tmp, "wb") as f:
                try:
                    for chunk in r.raw.stream(_CHUNK, decode_content=decode):
                        if self.stop.is_set():
                            raise _Stopped
                        if len(first) < _SNIFF_BYTES:
                            first += chunk[: _SNIFF_BYTES - len(first)]
                            if len(first) == _SNIFF_BYTES:
                                _check_body(where, first, content_type, ext)
                        size += len(chunk)
                        if quotes is not None:
                            quotes += chunk.count(b'"')
                        if size > limit:
                            raise DfkitError(
                                f"the file grows past {_limit_hint(limit)}"
                                + (f" (sent {encoding}-encoded)" if decode else "")
                                + f" ({where})"
                            )
                        f.write(chunk)
                except ReadTimeoutError as e:
                    if expired.is_set():
                        raise  # the deadline's watchdog: watched_call says so
                    raise DfkitError(
                        f"the link stopped sending (read timeout) after {_sent(r, size):,}{of} "
                        f"bytes ({where})"
                    ) from e
                except (HTTPError, ConnectionError) as e:
                    if expired.is_set():
                        raise
                    raise DfkitError(
                        f"connection closed after {_sent(r, size):,}{of} bytes ({where})"
                    ) from e
                if expired.is_set():  # a body without a length simply ends when shut
                    raise ConnectionError("the deadline's watchdog closed the connection")
                if len(first) < _SNIFF_BYTES:
                    _check_body(where, first, content_type, ext)
                # The raw stream's length, whatever the Content-Encoding.
                sent = r.raw.tell()
                if expected.isdigit() and int(expected) != sent:
                    raise DfkitError(f"connection closed after {sent:,}{of} bytes ({where})")
                if quotes is not None and quotes % 2:
                    f.flush()
                    cut = unclosed_quote(tmp, name=name)
                    if cut is not None:
                        opened = f" (opened on line {cut.line})" if cut.line else ""
                        raise DfkitError(
                            f"the body ends inside a quoted value{opened}: it was cut short or "
                            f"is malformed ({where})"
                        )
                if self.stop.is_set():
                    raise _Stopped
        except OSError as e:
            if is_disk_full(e):
                raise _DiskFull(self.dest.written_at(name), e) from e
            raise
        return size


def _late(allowed: float) -> str:
    """What a file past its deadline of ``allowed`` seconds failed of."""
    return (
        f"deadline passed: the file did not arrive within "
        f"{f'{allowed:,.0f}' if allowed >= 10 else f'{allowed:g}'} s "
        "(pass a larger file_deadline to wait longer)"
    )


def _sent(r: requests.Response, size: int) -> int:
    """The bytes of the body read so far (as sent, whatever the Content-Encoding)."""
    try:
        return int(r.raw.tell())
    except (AttributeError, OSError, ValueError):
        return size


def _limit_hint(limit: int) -> str:
    return (
        f"max_file_bytes={limit:,} (a body that expands this far is likely a compression "
        "bomb; pass a larger max_file_bytes to accept it)"
    )


class _Folder:
    """Where fetched files go: a local folder, or a "folder" (prefix) on an object store.

    Either way a file appears under its name only complete and checked: locally it is written
    under a temporary name and renamed; on an object store it is spooled to a local temporary
    file, then uploaded in one piece (:func:`dfkit.storage.upload`).
    """

    def __init__(
        self, dest: str | os.PathLike[str], storage_options: Mapping[str, Any] | None
    ) -> None:
        if not isinstance(dest, (str, os.PathLike)):
            raise ArgumentError(f"dest must be a folder path or URL, not {type(dest).__name__}")
        self.url: str | None = None
        self.fs: Any = None
        self.root = ""
        if is_url(dest):
            self.fs, self.root = filesystem(dest, storage_options)
            self.root = self.root.rstrip("/")
            if not is_local(self.fs):
                self.url = str(dest)
                check_output(self.fs, self.root, self.url, dataset=False)
        elif storage_options is not None:
            raise ArgumentError(
                f"storage_options is for a dest URL (s3://...), not the local folder {dest!r}"
            )
        #: The local folder, or None for an object store.
        self.local = None if self.url else Path(self.root if is_url(dest) else dest)
        if self.local is not None:
            self._make_local(self.local)

    @staticmethod
    def _make_local(folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as e:
            raise ArgumentError(f"dest {str(folder)!r} is not a folder: {e.strerror}") from e
        except OSError as e:
            if is_disk_full(e):
                raise DiskFullError(folder, e) from e
            raise
        sweep_stale(folder)

    def where(self, name: str) -> str:
        """The file's path, or URL, as the manifest shows it."""
        return str(self.local / name) if self.local is not None else join(str(self.url), name)

    def written_at(self, name: str) -> str:
        """Where the file is written as it arrives: its path, or the local spool's for a store."""
        if self.local is not None:
            return self.where(name)
        return f"the local spool folder {tempfile.gettempdir()} (for {self.where(name)})"

    def sizes(self, names: Iterable[str]) -> dict[str, int]:
        """The size of each of ``names`` already in the folder (one listing on a store)."""
        if self.local is not None:
            out = {}
            for name in names:
                with contextlib.suppress(FileNotFoundError):
                    out[name] = (self.local / name).stat().st_size
            return out
        self.fs.invalidate_cache(self.root)  # fsspec keeps listings: another run may have written
        try:
            listed = self.fs.ls(self.root, detail=True)
        except FileNotFoundError:
            return {}
        found = {
            posixpath.basename(e["name"]): int(e.get("size") or 0)
            for e in listed
            if e.get("type") == "file"
        }
        return {n: found[n] for n in names if n in found}

    @contextlib.contextmanager
    def writing(self, name: str) -> Iterator[Path]:
        """Yield a temporary local path; when the block succeeds, the file takes its name."""
        if self.local is not None:
            with atomic_file(self.local / name, sweep=False) as tmp:
                yield tmp
            return
        fd, spool = tempfile.mkstemp(prefix=f".dfkit-{name}.", suffix=".tmp")
        os.close(fd)
        try:
            yield Path(spool)
            try:
                upload(self.fs, spool, posixpath.join(self.root, name))
            except Exception as e:
                raise DfkitError(
                    f"storing {self.where(name)} failed: {type(e).__name__}: {redact(str(e))[:300]}"
                ) from e
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spool)


def fetch_results(
    downloads: pd.DataFrame | Mapping[str, Any] | Sequence[Mapping[str, Any]],
    dest: str | os.PathLike[str],
    *,
    workers: int = 4,
    overwrite: bool = False,
    progress: bool | None = None,
    client: Client | None = None,
    errors: Literal["raise", "ignore"] = "raise",
    max_file_bytes: int = MAX_FILE_BYTES,
    file_deadline: float | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Return a manifest of the result files fetched into ``dest``, one row per result entry.

    ``downloads`` is a per-result downloads frame (``downloads_frame(..., per="result")``), a
    download object, or a list of them; a per-download frame has no links and needs
    ``client=`` to look them up. Only ``completed`` downloads are fetched, ``workers`` files at
    a time, each streamed to ``dest/<id>_<n>.<ext>`` under a temporary name and renamed when
    complete. A file already there counts as done (no request) unless ``overwrite=True``, so a
    rerun resumes an interrupted one (a file only ever takes its name complete, so one that is
    there is whole). Two entries that would write the same file (ids ``"5"`` and ``5``) never
    overwrite each other: the second fails, unless it is the same link.

    ``dest`` may be an fsspec URL (``s3://bucket/datafiniti/``, ``gs://``, ``abfs://``; needs
    fsspec and the store's package: ``pip install 'dfkit[dask]'`` has s3fs), opened with
    ``storage_options`` (credentials, ``client_kwargs={"endpoint_url": ...}``), the only
    credentials the store is given; a bucket that does not exist is an
    :class:`~dfkit.ExportError` before anything is fetched. Each file is then spooled to a
    local temporary file, checked as below, and uploaded to ``<dest>/<id>_<n>.<ext>`` in one
    piece, so no partial or unchecked object ever appears under that key; files already in
    ``dest`` are found with one listing.

    Links are fetched with no ``Authorization`` header and no cookies, https only (http only on
    loopback); connection errors and 5xx are retried. An expired link (S3's 403 with an XML
    body) is refreshed once with ``client.download(id)`` when ``client`` is given. A 200 body
    that is not a result file (an HTML or XML error page, a JSON error object, text where gzip
    was expected, an empty or blank body for a CSV or ``.gz`` link: Datafiniti writes a CSV's
    header even when it holds no record) fails its file and is never saved; so does a file
    that grows past ``max_file_bytes`` (1 GiB by default) on disk. Each file must arrive within
    ``file_deadline`` seconds, retries included (by default the time it takes at 100 KB/s,
    at least 10 minutes: :func:`file_deadline_for`); one past it fails, its connection shut.

    The manifest has columns ``id``, ``result_index``, ``path``, ``bytes``, ``status`` and
    ``error``. ``status`` is ``downloaded`` (fetched now), ``present`` (already in ``dest``,
    not fetched again), ``skipped`` (nothing to fetch: the download is not completed, or has no
    result files; ``error`` says which) or ``failed`` (``error`` says why; an entry with no
    usable link fails too). One failure does not stop the other files, but
    :class:`~dfkit.ResultFetchError` is raised at the end (its ``manifest`` lists every file)
    unless ``errors="ignore"``. A full disk stops every file and raises
    :class:`~dfkit.DiskFullError` naming the file. Ctrl-C stops within about a second, leaving
    no partial file. ``progress`` shows a bar over the files to fetch; the default shows it in
    terminals and notebooks only.

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
        raise ArgumentError(f"errors must be 'raise' or 'ignore', not {errors!r}")
    if workers < 1:
        raise ArgumentError(f"workers must be >= 1, got {workers!r}")
    if max_file_bytes < 1:
        raise ArgumentError(f"max_file_bytes must be >= 1, got {max_file_bytes!r}")
    if file_deadline is not None and (
        isinstance(file_deadline, bool)
        or not isinstance(file_deadline, (int, float))
        or not file_deadline > 0
    ):
        raise ArgumentError(f"file_deadline must be a number of seconds > 0, not {file_deadline!r}")
    if isinstance(downloads, pd.DataFrame):
        jobs = _jobs_from_frame(downloads, client)
    elif isinstance(downloads, Mapping):
        jobs = _jobs_from_dict(downloads)
    elif isinstance(downloads, Iterable):
        items = list(downloads)
        bad = [d for d in items if not isinstance(d, Mapping)]
        if bad:
            raise ArgumentError(
                f"downloads: expected download objects, got a {type(bad[0]).__name__}"
            )
        jobs = [j for d in items for j in _jobs_from_dict(d)]
    else:
        raise ArgumentError(
            "downloads: expected a downloads frame, a download object or a list of them, "
            f"got {type(downloads).__name__}"
        )
    folder = _Folder(dest, storage_options)
    for job in jobs:
        _check_job(job, folder)
    _claim_paths(jobs)
    todo = [j for j in jobs if j.status is None and j.name is not None and j.same_as is None]
    there = {} if overwrite else folder.sizes(j.name for j in todo if j.name)
    for job in todo:
        if job.name in there:
            job.bytes = there[job.name]
            job.done("present")
    todo = [j for j in todo if j.status is None]

    show = interactive() if progress is None else progress
    bar: tqdm[Any] | None = None
    if show and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), unit="file", desc="results")
    session = (
        client.files_session
        if client is not None
        else result_files_session(_RETRIES, pool_maxsize=max(workers, 10))
    )
    fetcher = _Fetcher(session, client, bar, max_file_bytes, file_deadline, folder)
    try:
        fetcher.run_all(todo, workers)
    finally:
        if bar is not None:
            bar.close()
        if client is None:
            session.close()
    for job in jobs:
        if job.same_as is not None:
            first = job.same_as
            job.bytes, job.status, job.error = first.bytes, first.status, first.error
    if fetcher.disk_full is not None:
        raise DiskFullError(fetcher.disk_full.path, fetcher.disk_full.error)

    manifest = _manifest(jobs)
    failed = [j for j in jobs if j.status == "failed"]
    if failed and errors == "raise":
        files = sum(j.status != "skipped" for j in jobs)
        # The first line names the first failure, so a one-line report (the CLI's) says it all.
        head = f"{_entry(failed[0])}: {failed[0].error}"
        lines = [f"  {_entry(j)}: {j.error}" for j in failed[:20]] if len(failed) > 1 else []
        if len(failed) > 20:
            lines.append(f"  ... and {len(failed) - 20} more (see .manifest)")
        noun = "result file" if files == 1 else "result files"
        raise ResultFetchError(
            "\n".join([f"{len(failed)} of {files} {noun} failed; {head}", *lines]),
            manifest=manifest,
        ) from failed[0].cause
    return manifest


def _entry(job: _Job) -> str:
    return f"download {job.id}" if job.result_index is None else f"{job.id}_{job.result_index}"


def _manifest(jobs: list[_Job]) -> pd.DataFrame:
    string = pd.StringDtype("pyarrow")
    manifest: pd.DataFrame = pd.DataFrame(
        {
            "id": pd.array([j.id for j in jobs], dtype=string),
            "result_index": pd.array([j.result_index for j in jobs], dtype="Int64"),
            "path": pd.array([j.path for j in jobs], dtype=string),
            "bytes": pd.array([j.bytes for j in jobs], dtype="Int64"),
            "status": pd.Categorical([j.status for j in jobs], categories=list(MANIFEST_STATUSES)),
            "error": pd.array([j.error for j in jobs], dtype=string),
        }
    )
    return manifest
