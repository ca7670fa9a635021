"""Every exception and warning dfkit raises, in one small tree.

Catch :class:`DfkitError` to handle anything dfkit raises; catch a subclass to handle one
kind of failure::

    DfkitError                      anything dfkit raises
    ├── ArgumentError               a bad argument (``freq="X"``, a non-frame); names it
    │   ├── InputNotFoundError      an input file or folder that does not exist (FileNotFoundError)
    │   └── InputIsDirectoryError   a directory where an input file is expected (IsADirectoryError)
    ├── SchemaError                 input records that do not fit the downloads schema
    ├── ResultFileError             a result file that cannot be read (names file and line)
    ├── ResultFetchError            one or more result files failed to download
    ├── ExportError                 a Parquet file or dataset that cannot be written or read
    │   └── DiskFullError           no space left on the device writing a file (also an OSError)
    ├── MissingDependencyError      an optional extra is needed (names the ``pip install``)
    ├── ResponseError               an API answer whose body is unusable (HTML, truncated, ...)
    ├── NetworkError                connection failures and timeouts once retries are spent
    ├── APIError                    any non-2xx answer from the API
    │   ├── AuthenticationError     401/403, or no token configured
    │   ├── NotFoundError           404: unknown download id or path
    │   ├── RateLimitError          429 after retries (``retry_after`` in seconds, if sent)
    │   └── ServerError             5xx after retries
    ├── DownloadCancelled           ``Client.wait`` saw the download cancelled
    ├── DownloadFailed              ``Client.wait`` saw it end otherwise (``failed``, ...)
    └── WaitTimeout                 ``Client.wait`` ran out of time (``last`` = last object seen)

    DfkitWarning (UserWarning)      something was kept but looks wrong (e.g. an unknown status)

Messages never contain the API token, the password or URL query strings (S3 signatures).
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "APIError",
    "ArgumentError",
    "AuthenticationError",
    "DfkitError",
    "DfkitWarning",
    "DiskFullError",
    "DownloadCancelled",
    "DownloadFailed",
    "ExportError",
    "InputIsDirectoryError",
    "InputNotFoundError",
    "MissingDependencyError",
    "NetworkError",
    "NotFoundError",
    "RateLimitError",
    "ResponseError",
    "ResultFetchError",
    "ResultFileError",
    "SchemaError",
    "ServerError",
    "WaitTimeout",
]


class DfkitError(Exception):
    """Base class of every error dfkit raises."""


class DfkitWarning(UserWarning):
    """Raised as a warning when dfkit keeps data that looks wrong, so nothing is lost silently."""


class ArgumentError(DfkitError, ValueError, TypeError):
    """Raised for a bad argument to a dfkit function; the message names the argument.

    It is also a ``ValueError`` and a ``TypeError``, so code written for either catches it.
    """


class InputNotFoundError(ArgumentError, FileNotFoundError):
    """Raised when a file or directory given as input does not exist; the message names it.

    A ``FileNotFoundError`` too (``errno`` ``ENOENT``, ``filename`` set), as before.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(f"no such file or directory: {os.fspath(path)}")
        self.errno = errno.ENOENT
        self.strerror = os.strerror(errno.ENOENT)
        self.filename = os.fspath(path)

    def __str__(self) -> str:
        return f"{self.strerror}: {self.filename}"


class InputIsDirectoryError(ArgumentError, IsADirectoryError):
    """Raised when a directory is given where an input file is expected; the message names it.

    An ``IsADirectoryError`` too (``errno`` ``EISDIR``, ``filename`` set).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(f"is a directory, not a file: {os.fspath(path)}")
        self.errno = errno.EISDIR
        self.strerror = "is a directory, not a file"
        self.filename = os.fspath(path)

    def __str__(self) -> str:
        return f"{self.filename} is a directory, not a file"


class SchemaError(DfkitError, ValueError):
    """Raised when input records do not fit the downloads schema.

    ``problems`` is a DataFrame with one row per bad value (columns ``index``, ``field``,
    ``value``, ``reason``); the message lists them as ``records[i].field: reason (value)``.
    """

    def __init__(self, message: str, problems: pd.DataFrame | None = None) -> None:
        super().__init__(message)
        if problems is None:
            import pandas as pd

            problems = pd.DataFrame(
                {
                    "index": pd.Series([], dtype="Int64"),
                    "field": pd.Series([], dtype="string"),
                    "value": pd.Series([], dtype="object"),
                    "reason": pd.Series([], dtype="string"),
                }
            )
        self.problems = problems


class ResultFileError(DfkitError, ValueError):
    """Raised when a result file cannot be parsed; names the file and the line number."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class ResultFetchError(DfkitError):
    """Raised after ``fetch_results`` finished when some files failed; ``manifest`` lists all."""

    def __init__(self, message: str, manifest: Any = None) -> None:
        super().__init__(message)
        self.manifest = manifest


class ExportError(DfkitError):
    """Raised when a Parquet file or dataset cannot be written or read back as a downloads frame."""


class DiskFullError(ExportError, OSError):
    """Raised when the disk (or the user's quota) fills up writing a file; names the file.

    An ``OSError`` too, with ``errno`` ``ENOSPC`` (or ``EDQUOT``) and ``filename`` set; what was
    being written is removed, and a file or dataset it would have replaced is kept.
    """

    def __init__(self, path: str | os.PathLike[str], error: OSError | None = None) -> None:
        code = error.errno if error is not None and error.errno else errno.ENOSPC
        super().__init__(code, f"no space left on device writing {os.fspath(path)}")
        self.filename = os.fspath(path)

    def __str__(self) -> str:
        return str(self.strerror)


class MissingDependencyError(DfkitError, ImportError):
    """Raised when a feature needs an optional extra that is not installed (``dfkit[dask]``)."""


class ResponseError(DfkitError):
    """Raised when an API answer's body is unusable: not JSON, truncated, wrong type, too large."""


class NetworkError(DfkitError):
    """Raised for connection failures and timeouts once retries are spent."""


class APIError(DfkitError):
    """Raised for a non-2xx answer; carries ``status``, ``error``, ``message`` and ``details``."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str | None = None,
        api_message: str | None = None,
        details: list[Any] | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = api_message if api_message is not None else message
        self.details = details or []
        self.url = url


class AuthenticationError(APIError):
    """Raised for 401/403 answers, or when no token is configured."""


class NotFoundError(APIError):
    """Raised for a 404: an unknown download id or path."""


class RateLimitError(APIError):
    """Raised for a 429 after retries are spent; ``retry_after`` is the server's hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIError):
    """Raised for a 5xx answer after retries are spent."""


class DownloadCancelled(DfkitError):
    """Raised by ``Client.wait`` when the download was cancelled; ``download`` is its object."""

    def __init__(self, message: str, download: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.download = download


class DownloadFailed(DfkitError):
    """Raised by ``Client.wait`` when the download ended neither completed nor cancelled.

    ``download`` is its last object (status ``failed``, ``error``, missing, ...).
    """

    def __init__(self, message: str, download: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.download = download


class WaitTimeout(DfkitError, TimeoutError):
    """Raised by ``Client.wait`` when ``timeout`` passed; ``last`` is the last object seen."""

    def __init__(self, message: str, last: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.last = last
