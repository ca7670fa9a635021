"""Fetching result files: ``fetch_results`` and its job and fetcher machinery.

A download's data is in its result files (CSV, or newline-delimited JSON ``.txt``), about
10,000 records each, behind pre-signed S3 links that expire after 7 days::

    fetch_results(downloads, "data/")   -> manifest DataFrame; files data/<id>_<n>.<ext>

Reading and converting the fetched files is :mod:`dfkit.results`'s job.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import pandas as pd
import requests

from dfkit._atomic import atomic_file
from dfkit.errors import DfkitError, ResultFetchError
from dfkit.progress import interactive
from dfkit.redaction import redact, shown_url
from dfkit.transport import link_problem, result_files_session

if TYPE_CHECKING:
    from tqdm import tqdm

    from dfkit.client import Client

__all__ = ["fetch_results"]

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
    problem = link_problem(job.url)
    if problem:
        job.done("failed", problem)
        return
    ext = _extension(job.url, job.format)
    if ext is None:
        job.done("failed", f"cannot tell the file type of {shown_url(job.url)} (format unknown)")
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
        problem = link_problem(url)
        if problem:
            raise DfkitError(problem)
        job.url = url
        return url

    def _get(self, url: str, path: Path) -> int:
        where = shown_url(url)
        with self.session.get(url, stream=True, timeout=self.timeout) as r:
            if r.url and r.url != url and link_problem(r.url):
                raise DfkitError(f"{where} redirected to {shown_url(r.url)}: not https")
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

    show = interactive() if progress is None else progress
    bar: tqdm[Any] | None = None
    if show and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=None, unit="B", unit_scale=True, unit_divisor=1024, desc="results")
    session = (
        client.files_session
        if client is not None
        else result_files_session(_RETRIES, pool_maxsize=max(workers, 10))
    )
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
