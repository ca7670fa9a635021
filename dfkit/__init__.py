"""dfkit: the Datafiniti v4 downloads API as pandas DataFrames.

Fetch (``Client``) -> shape (``downloads_frame``) -> analyse (``status_counts``, ...)
-> export (``to_parquet``) / plot (``plot_status_counts``, ...).

>>> import dfkit
>>> df = dfkit.downloads_frame(dfkit.sample_downloads())  # one row per download
>>> df.columns[:4].tolist()
['id', 'status', 'num_records', 'created_at']
"""

from __future__ import annotations

from dfkit._version import __version__
from dfkit.accessor import DfkitAccessor  # importing it registers df.dfkit
from dfkit.analysis import (
    breakdown,
    completion_times,
    credits_over_time,
    downloads_over_time,
    records_over_time,
    status_counts,
    summary,
)
from dfkit.client import Client
from dfkit.errors import (
    APIError,
    ArgumentError,
    AuthenticationError,
    DfkitError,
    DfkitWarning,
    DiskFullError,
    DownloadCancelled,
    DownloadFailed,
    ExportError,
    InputIsDirectoryError,
    InputNotFoundError,
    MissingDependencyError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ResponseError,
    ResultFetchError,
    ResultFileError,
    SchemaError,
    ServerError,
    WaitTimeout,
)
from dfkit.fetch import fetch_results
from dfkit.frame import DownloadsFrames, downloads_frame, downloads_frames
from dfkit.parquet import read_parquet, to_parquet
from dfkit.plots import (
    STATUS_COLORS,
    plot_breakdown,
    plot_completion_times,
    plot_credits_over_time,
    plot_downloads_over_time,
    plot_records_over_time,
    plot_status_counts,
)
from dfkit.results import read_results, results_to_parquet
from dfkit.sample import sample_downloads
from dfkit.schema import COLUMNS, STATUSES, schema_markdown

__all__ = [
    "COLUMNS",
    "STATUSES",
    "STATUS_COLORS",
    "APIError",
    "ArgumentError",
    "AuthenticationError",
    "Client",
    "DfkitAccessor",
    "DfkitError",
    "DfkitWarning",
    "DiskFullError",
    "DownloadCancelled",
    "DownloadFailed",
    "DownloadsFrames",
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
    "__version__",
    "breakdown",
    "completion_times",
    "credits_over_time",
    "downloads_frame",
    "downloads_frames",
    "downloads_over_time",
    "fetch_results",
    "plot_breakdown",
    "plot_completion_times",
    "plot_credits_over_time",
    "plot_downloads_over_time",
    "plot_records_over_time",
    "plot_status_counts",
    "read_parquet",
    "read_results",
    "records_over_time",
    "results_to_parquet",
    "sample_downloads",
    "schema_markdown",
    "status_counts",
    "summary",
    "to_parquet",
]
