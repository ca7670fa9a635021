"""Where files live (local paths or fsspec URLs), and how a write appears there whole.

A location is a local path, or an fsspec URL (``s3://bucket/key``, ``gs://``, ``abfs://``,
``file://``) opened with ``storage_options`` (credentials, an endpoint), as pandas and Dask take
them. fsspec (and s3fs, gcsfs or adlfs for their stores) is needed for URLs only; ``import
dfkit`` never imports it.

No write is ever seen half done under its final name:

- **One file** (``fetch_results(dest=URL)``): on a local file system it is written under a
  temporary name and renamed (:mod:`dfkit._atomic`); on an object store it is uploaded to its
  final key only once complete and checked (:func:`upload`): a PUT, or the completion of a
  multipart upload, makes an object appear whole or not at all.
- **A dataset directory** (``results_to_parquet(engine="dask")``, :func:`atomic_fs_dir`): on a
  local file system the new tree is swapped in by a rename. Object stores have no rename, so
  the commit is a sequence, Hadoop's and Spark's: the parts are written under a hidden staging
  prefix ``.NAME.<12 hex>.tmp/`` beside ``NAME``; then ``NAME/_SUCCESS`` is deleted, each
  staged object is copied to its final key (server side; a copy replaces one object whole), the
  previous dataset's objects that the new one lacks are deleted, and ``NAME/_SUCCESS`` is
  written last. A reader sees the previous dataset until the commit starts, then for its
  duration a mix of previous and new objects (each one whole) **without** ``_SUCCESS``, then
  the new dataset with ``_SUCCESS``. A reader that must never see a mix waits for
  ``_SUCCESS`` (as Airflow sensors and warehouse loaders do). A commit cut short raises
  :class:`~dfkit.ExportError` saying the dataset is half replaced, and keeps the staging prefix
  (the whole new dataset) for an hour; rerunning replaces the dataset.

Staging prefixes of killed runs are removed by the next commit beside them once untouched for
:data:`dfkit._atomic.STALE_AFTER` seconds (an hour).
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dfkit._atomic import STALE_AFTER, TMP_NAME, atomic_dir, tmp_name
from dfkit.errors import (
    DfkitError,
    ExportError,
    InputNotFoundError,
    MissingDependencyError,
    ResultFileError,
)
from dfkit.redaction import redact, register_option_secrets

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = [
    "LEASE",
    "LEASE_EVERY",
    "OBJECT_STORES",
    "STORAGE_EXTRA",
    "SUCCESS",
    "Staging",
    "atomic_fs_dir",
    "check_output",
    "filesystem",
    "filesystem_of",
    "is_local",
    "is_url",
    "join",
    "require_fsspec",
    "store_errors",
    "sweep_staging",
    "upload",
]

#: What to install for URLs: fsspec and s3fs come with the Dask engine's extra.
STORAGE_EXTRA = "dfkit[dask]"
#: The marker written last into a committed dataset directory (the Hadoop/Spark convention).
SUCCESS = "_SUCCESS"
#: The object a live run keeps fresh in its staging directory (never published).
LEASE = ".lease"
#: Seconds between two renewals of the lease: well within the sweep's hour.
LEASE_EVERY = STALE_AFTER / 6
#: fsspec protocols whose writes are whole objects (an upload appears complete or not at all).
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl", "memory"})

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path: object) -> bool:
    """Return True for an fsspec URL such as ``s3://bucket/key`` (not a local path).

    >>> from pathlib import Path
    >>> is_url("s3://bucket/data/"), is_url("data/"), is_url(Path("x.csv"))
    (True, False, False)
    """
    return isinstance(path, str) and bool(_URL.match(path))


def require_fsspec(what: str) -> None:
    """Return None when fsspec imports; else raise naming the extra that installs it.

    >>> require_fsspec("dest='s3://bucket/data/'")  # with fsspec installed
    """
    try:
        import fsspec  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            f"{what} needs fsspec (and s3fs for s3://), which is not installed: "
            f"pip install '{STORAGE_EXTRA}'"
        ) from None


def filesystem(
    path: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None
) -> tuple[AbstractFileSystem, str]:
    """Return the fsspec file system of ``path`` and the path within it.

    >>> fs, root = filesystem("file:///tmp/data")
    >>> root
    '/tmp/data'
    """
    require_fsspec(str(path))
    from fsspec.core import url_to_fs

    register_option_secrets(storage_options)  # masked in messages and logs from now on

    try:
        fs, root = url_to_fs(os.fspath(path), **dict(storage_options or {}))
    except (ImportError, ValueError) as e:
        # An unknown protocol, or one whose package (gcsfs, adlfs, ...) is missing. The error
        # names the protocol, never the options' values (they hold secrets).
        raise MissingDependencyError(f"{path}: cannot open this location: {e}") from None
    return fs, root


def filesystem_of(
    path: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None
) -> tuple[AbstractFileSystem | None, str]:
    """Return ``(filesystem, path)`` for pyarrow: None and the path itself when it is local.

    >>> filesystem_of("data/out")
    (None, 'data/out')
    """
    if not is_url(path):
        return None, os.fspath(path)
    return filesystem(path, storage_options)


@contextlib.contextmanager
def store_errors(url: str, what: str, *, reading: bool = False) -> Iterator[None]:
    """Run a block of store calls; raise what the store raises as a DfkitError naming ``url``.

    The one place a store's own errors (s3fs's ``TypeError`` for an unknown option, botocore's
    ``NoCredentialsError`` or ``EndpointConnectionError``, an ``OSError``) become dfkit's: the
    first line is ``URL: what failed: reason``, the reason redacted. Reading, a missing object
    is an :class:`~dfkit.InputNotFoundError` and anything else a
    :class:`~dfkit.ResultFileError`; writing, an :class:`~dfkit.ExportError`.

    >>> with store_errors("s3://bucket/out", "writing the dataset"):
    ...     raise TypeError("AioSession() got an unexpected keyword argument 'bogus'")
    Traceback (most recent call last):
    dfkit.errors.ExportError: s3://bucket/out: writing the dataset failed: TypeError: ...
    """
    try:
        yield
    except DfkitError:
        raise
    except Exception as e:
        if reading and isinstance(e, FileNotFoundError):
            raise InputNotFoundError(url) from None
        text = str(e).strip().splitlines()
        reason = redact(f"{type(e).__name__}: {text[0]}" if text else type(e).__name__)
        message = f"{url}: {what} failed: {reason}"
        if reading:
            raise ResultFileError(message, path=url) from None
        raise ExportError(message) from None


def check_output(fs: AbstractFileSystem, path: str, url: str, *, dataset: bool) -> None:
    """Return None when ``url`` (``path`` on ``fs``) may be written; else raise ExportError.

    On an object store the bucket must exist (dfkit never creates one), and a dataset cannot
    be a bucket's root (its staging prefix beside it would have to be a bucket).

    >>> check_output(filesystem("file:///tmp")[0], "/tmp/out", "file:///tmp/out", dataset=True)
    """
    if is_local(fs) or not (_protocols(fs) & OBJECT_STORES) or "memory" in _protocols(fs):
        return
    bucket, _, key = path.strip("/").partition("/")
    if dataset and not key.strip("/"):
        raise ExportError(
            f"{url}: a bucket's root cannot hold a dataset (its staging prefix would sit "
            f"beside it, outside the bucket): name a prefix, such as {url.rstrip('/')}/data"
        )
    with store_errors(url, "checking the bucket"):
        if fs.exists(bucket):
            return
        # exists() says False for any failure (no connection, a bad option, no access): a
        # listing raises the real reason, and FileNotFoundError only when there is no bucket.
        with contextlib.suppress(FileNotFoundError):
            fs.ls(bucket)
            return
        raise ExportError(f"{url}: no such bucket {bucket!r} (dfkit does not create buckets)")


def is_local(fs: AbstractFileSystem) -> bool:
    """Return whether ``fs`` is the local file system (where a rename is atomic).

    >>> is_local(filesystem("file:///tmp")[0])
    True
    """
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def join(url: str, name: str) -> str:
    """Return the URL of ``name`` inside the "folder" ``url``.

    >>> join("s3://bucket/data/", "5_0.csv"), join("s3://bucket/data", "5_0.csv")
    ('s3://bucket/data/5_0.csv', 's3://bucket/data/5_0.csv')
    """
    return url.rstrip("/") + "/" + name


def _protocols(fs: AbstractFileSystem) -> set[str]:
    protocol = fs.protocol
    return {protocol} if isinstance(protocol, str) else set(protocol)


def upload(fs: AbstractFileSystem, local: str | os.PathLike[str], path: str) -> None:
    """Put the complete local file ``local`` at ``path`` on ``fs``, appearing there whole.

    On an object store this is one upload (a PUT, or a multipart upload that s3fs aborts on
    failure: nothing appears); elsewhere (SFTP, HDFS, ...) the file is put under a hidden
    temporary name beside ``path`` and renamed.

    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "1_0.csv").write_text("id\\nA\\n")
    >>> fs, root = filesystem(d.as_uri())
    >>> upload(fs, d / "1_0.csv", root + "/copy.csv")
    >>> (d / "copy.csv").read_text()
    'id\\nA\\n'
    """
    if _protocols(fs) & OBJECT_STORES:
        fs.put_file(os.fspath(local), path)
        return
    parent, name = posixpath.split(path)
    tmp = posixpath.join(parent, tmp_name(name))
    try:
        fs.put_file(os.fspath(local), tmp)
        fs.mv(tmp, path)
    except BaseException:
        with contextlib.suppress(Exception):
            fs.rm(tmp)
        raise


# --- datasets -----------------------------------------------------------------------------------


def _modified(entry: Mapping[str, Any]) -> float | None:
    """An object's modification time (seconds since the epoch), as its file system gives it."""
    for key in ("LastModified", "mtime", "updated", "last_modified", "created"):
        value = entry.get(key)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


def sweep_staging(
    fs: AbstractFileSystem, path: str, *, older_than: float = STALE_AFTER
) -> list[str]:
    """Return the staging prefixes of ``path``'s killed commits removed from beside it.

    Only ``.NAME.<12 hex>.tmp`` prefixes of ``path``'s name count, and only those whose newest
    object is older than ``older_than`` seconds (a live run keeps adding parts), or that hold
    nothing at all.

    >>> import tempfile
    >>> fs, root = filesystem(tempfile.mkdtemp())
    >>> fs.makedirs(root + "/.out.0123456789ab.tmp")
    >>> fs.pipe_file(root + "/.out.0123456789ab.tmp/part-0.parquet", b"...")
    >>> [p.rsplit("/", 1)[1] for p in sweep_staging(fs, root + "/out", older_than=-1)]
    ['.out.0123456789ab.tmp']
    """
    parent, name = posixpath.split(path.rstrip("/"))
    try:
        entries = fs.ls(parent, detail=True)
    except FileNotFoundError:
        return []
    now = time.time()
    removed = []
    for entry in entries:
        base = posixpath.basename(entry["name"].rstrip("/"))
        m = TMP_NAME.fullmatch(base)
        if m is None or m["name"] != name:
            continue
        objects = fs.find(entry["name"], detail=True).values()
        times = [t for t in (_modified(o) for o in objects) if t is not None]
        if times and now - max(times) <= older_than:
            continue
        if not times and objects:
            continue  # no times to judge by: leave it
        with contextlib.suppress(FileNotFoundError):
            fs.rm(entry["name"], recursive=True)
        removed.append(entry["name"])
    return removed


@dataclass
class Staging:
    """A dataset's staging directory, and the files its writers wrote there (relative names).

    The commit publishes exactly :attr:`files`; one missing from the directory stops it.
    """

    path: str
    files: list[str] = field(default_factory=list)

    def wrote(self, names: Iterable[str]) -> None:
        """Record files written into the staging directory (names relative to it)."""
        self.files.extend(names)

    def missing(self, found: Iterable[str]) -> list[str]:
        """Return the recorded files absent from ``found`` (full paths, as ``fs.find`` lists)."""
        present = set(found)
        return [n for n in self.files if posixpath.join(self.path, n) not in present]


def _check_staged(staging: Staging, found: Iterable[str], path: str) -> None:
    missing = staging.missing(found)
    if missing:
        raise ExportError(
            f"{path}: {len(missing)} of the {len(staging.files)} files written are missing "
            f"from the staging directory {staging.path} ({', '.join(sorted(missing)[:5])}): "
            f"something removed them while the run wrote; nothing was published: rerun"
        )


def _previous(
    fs: AbstractFileSystem, path: str, replaceable: Callable[[str], bool] | None
) -> set[str]:
    """The objects under ``path`` now; raise ExportError if one is not ``replaceable``.

    ``replaceable`` judges each object's name relative to ``path``: the commit deletes only
    objects it accepts, and nothing at all when some other object has appeared (a user's
    notes uploaded while the run wrote). Folder marker objects (``path/``) do not count.
    """
    if not fs.isdir(path):
        return set()
    found = {
        name
        for name, entry in fs.find(path, detail=True).items()
        if entry.get("type") != "directory" and name.rstrip("/") != path
    }
    if replaceable is not None:
        foreign = sorted(f for f in found if not replaceable(f[len(path) + 1 :]))
        if foreign:
            raise ExportError(
                f"{path}: {foreign[0]} appeared during the run and is not part of a dataset; "
                f"refusing to replace the folder (nothing was changed)"
            )
    return found


def _publish(fs: AbstractFileSystem, staging: Staging, path: str, previous: set[str]) -> None:
    """Copy the staged files over ``path`` (see the module's docstring), ``_SUCCESS`` last."""
    names = sorted(set(staging.files))
    written = [posixpath.join(staging.path, n) for n in names]
    success = posixpath.join(path, SUCCESS)
    done = 0
    try:
        if success in previous:
            fs.rm_file(success)
        if written:
            fs.copy(written, [posixpath.join(path, n) for n in names])
        done = len(written)
        stale = sorted(previous - {posixpath.join(path, n) for n in names} - {success})
        if stale:
            fs.rm(stale)
        fs.pipe_file(success, json.dumps({"committer": "dfkit", "files": names}).encode())
    except Exception as e:
        raise ExportError(
            f"{path}: the commit stopped after {done} of {len(written)} objects ({e}); the "
            f"dataset there is half replaced (no {SUCCESS}); the complete new one is kept "
            f"at {staging.path} for an hour: rerun to replace it"
        ) from e
    fs.rm(staging.path, recursive=True)


@contextlib.contextmanager
def _lease(fs: AbstractFileSystem, staging: str) -> Iterator[None]:
    """Keep the object ``staging/LEASE`` fresh while the block runs, so no sweep removes it."""
    lease = posixpath.join(staging, LEASE)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(LEASE_EVERY):
            with contextlib.suppress(Exception):  # the next renewal, or the commit, tells
                fs.pipe_file(lease, str(time.time()).encode())

    fs.pipe_file(lease, str(time.time()).encode())
    thread = threading.Thread(target=renew, name=f"dfkit-lease {staging}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        # The last part is fresh now, so the staging stays safe from sweeps without it.
        with contextlib.suppress(Exception):
            fs.rm_file(lease)


@contextlib.contextmanager
def atomic_fs_dir(
    fs: AbstractFileSystem, path: str, *, replaceable: Callable[[str], bool] | None = None
) -> Iterator[Staging]:
    """Yield a hidden staging directory beside ``path`` on ``fs``; on success commit it.

    The writers record what they wrote with :meth:`Staging.wrote`; the commit publishes
    exactly those files, and refuses (nothing published) if one of them has gone. Locally a
    rename (:func:`dfkit._atomic.atomic_dir`); on an object store the staged objects are
    published over ``path`` with ``_SUCCESS`` written last (the module's docstring says what a
    reader sees meanwhile), and a lease object in the staging directory, renewed every
    :data:`LEASE_EVERY` seconds, keeps other runs' sweeps off it. A failure before the commit
    leaves ``path`` as it was and no staging objects. With ``replaceable`` (a test of a name
    relative to ``path``, such as :func:`dfkit.parquet.is_dataset_path`), the commit refuses
    to replace ``path`` (:class:`~dfkit.ExportError`, nothing changed) when it holds an object
    the test rejects.

    >>> import tempfile
    >>> fs, root = filesystem(tempfile.mkdtemp() + "/out")
    >>> with atomic_fs_dir(fs, root) as staging:
    ...     fs.pipe_file(staging.path + "/part-0.parquet", b"...")
    ...     staging.wrote(["part-0.parquet"])
    >>> sorted(p.rsplit("/", 1)[1] for p in fs.find(root))
    ['_SUCCESS', 'part-0.parquet']
    """
    if is_local(fs):
        with atomic_dir(path) as local:
            staging = Staging(str(local))
            yield staging
            _check_staged(staging, fs.find(staging.path), path)
            _previous(fs, path, replaceable)
            (local / SUCCESS).write_bytes(b"")
        return
    sweep_staging(fs, path)
    parent, name = posixpath.split(path.rstrip("/"))
    staging = Staging(posixpath.join(parent, tmp_name(name)))
    try:
        with _lease(fs, staging.path):
            yield staging
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            fs.rm(staging.path, recursive=True)
        raise
    fs.invalidate_cache()
    root = path.rstrip("/")
    try:
        _check_staged(staging, fs.find(staging.path), path)
        previous = _previous(fs, root, replaceable)
    except ExportError:
        with contextlib.suppress(FileNotFoundError):
            fs.rm(staging.path, recursive=True)
        raise
    _publish(fs, staging, root, previous)
    fs.invalidate_cache()
