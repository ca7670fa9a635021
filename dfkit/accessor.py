"""The ``df.dfkit`` accessor: dfkit's analytics, export and plots as methods of a downloads frame.

Registered when ``dfkit`` is imported. Each method is a thin call of the function of the same
name with the frame as its first argument, so ``df.dfkit.status_counts()`` is
``dfkit.status_counts(df)``. Using ``df.dfkit`` on a frame that lacks the core columns raises
``AttributeError`` naming them (so ``hasattr(df, "dfkit")`` says whether it is a downloads frame).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd

from dfkit import analysis, parquet, plots
from dfkit.errors import ArgumentError
from dfkit.schema import CORE_COLUMNS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["REQUIRED_COLUMNS", "DfkitAccessor", "NotADownloadsFrame"]

#: The columns every downloads frame has, whatever its kind (the schema's core columns).
REQUIRED_COLUMNS: tuple[str, ...] = CORE_COLUMNS


class NotADownloadsFrame(ArgumentError, AttributeError):
    """``df.dfkit`` on a frame without the downloads columns: an ``ArgumentError``, and an
    ``AttributeError`` so that ``hasattr(df, "dfkit")`` is ``False``."""


class DfkitAccessor:
    """``df.dfkit``: dfkit's functions as methods of a downloads frame (per download or per result).

    >>> import dfkit
    >>> df = dfkit.downloads_frame(dfkit.sample_downloads())
    >>> int(df.dfkit.status_counts().sum()) == df["id"].nunique()
    True
    >>> hasattr(pd.DataFrame({"x": [1]}), "dfkit")
    False
    """

    def __init__(self, df: pd.DataFrame) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
        if missing:
            raise NotADownloadsFrame(
                f"df.dfkit needs a downloads frame (see dfkit.downloads_frame); missing "
                f"column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
            )
        self._df = df

    def status_counts(self, *, normalize: bool = False) -> pd.Series:
        """Return :func:`dfkit.status_counts` of the frame."""
        return analysis.status_counts(self._df, normalize=normalize)

    def records_over_time(
        self, freq: str | analysis.Freq = "W", *, by: str | None = None, cumulative: bool = False
    ) -> pd.Series | pd.DataFrame:
        """Return :func:`dfkit.records_over_time` of the frame."""
        return analysis.records_over_time(self._df, freq, by=by, cumulative=cumulative)

    def downloads_over_time(
        self, freq: str | analysis.Freq = "W", *, by: str | None = None, cumulative: bool = False
    ) -> pd.Series | pd.DataFrame:
        """Return :func:`dfkit.downloads_over_time` of the frame."""
        return analysis.downloads_over_time(self._df, freq, by=by, cumulative=cumulative)

    def summary(self) -> pd.Series:
        """Return :func:`dfkit.summary` of the frame."""
        return analysis.summary(self._df)

    def to_parquet(
        self,
        path: str | os.PathLike[str],
        *,
        partition_by: str | Sequence[str] | None = None,
        compression: str | None = "zstd",
    ) -> Path:
        """Return the path :func:`dfkit.to_parquet` wrote the frame to."""
        return parquet.to_parquet(
            self._df, path, partition_by=partition_by, compression=compression
        )

    def plot_status_counts(self, *, ax: Axes | None = None) -> Axes:
        """Return the Axes :func:`dfkit.plot_status_counts` drew on."""
        return plots.plot_status_counts(self._df, ax=ax)

    def plot_records_over_time(
        self,
        freq: str | analysis.Freq = "W",
        *,
        ax: Axes | None = None,
        by: str | None = None,
        cumulative: bool = False,
    ) -> Axes:
        """Return the Axes :func:`dfkit.plot_records_over_time` drew on."""
        return plots.plot_records_over_time(self._df, freq, ax=ax, by=by, cumulative=cumulative)

    def plot_downloads_over_time(
        self,
        freq: str | analysis.Freq = "W",
        *,
        ax: Axes | None = None,
        by: str | None = None,
        cumulative: bool = False,
    ) -> Axes:
        """Return the Axes :func:`dfkit.plot_downloads_over_time` drew on."""
        return plots.plot_downloads_over_time(self._df, freq, ax=ax, by=by, cumulative=cumulative)

    def credits_over_time(
        self, freq: str | analysis.Freq = "W", *, by: str | None = None, cumulative: bool = False
    ) -> pd.Series | pd.DataFrame:
        """Return :func:`dfkit.credits_over_time` of the frame."""
        return analysis.credits_over_time(self._df, freq, by=by, cumulative=cumulative)

    def completion_times(self) -> pd.Series:
        """Return :func:`dfkit.completion_times` of the frame."""
        return analysis.completion_times(self._df)

    def breakdown(self, by: str = "data_type") -> pd.DataFrame:
        """Return :func:`dfkit.breakdown` of the frame."""
        return analysis.breakdown(self._df, by)

    def plot_credits_over_time(
        self,
        freq: str | analysis.Freq = "W",
        *,
        ax: Axes | None = None,
        by: str | None = None,
        cumulative: bool = False,
    ) -> Axes:
        """Return the Axes :func:`dfkit.plot_credits_over_time` drew on."""
        return plots.plot_credits_over_time(self._df, freq, ax=ax, by=by, cumulative=cumulative)

    def plot_breakdown(
        self,
        by: str = "data_type",
        *,
        what: Literal["downloads", "records", "credits"] = "records",
        ax: Axes | None = None,
    ) -> Axes:
        """Return the Axes :func:`dfkit.plot_breakdown` drew on."""
        return plots.plot_breakdown(self._df, by, what=what, ax=ax)

    def plot_completion_times(self, *, ax: Axes | None = None) -> Axes:
        """Return the Axes :func:`dfkit.plot_completion_times` drew on."""
        return plots.plot_completion_times(self._df, ax=ax)


def _register() -> None:
    """Register ``df.dfkit``; a re-import (``importlib.reload``, pytest) replaces it quietly."""
    previous = getattr(pd.DataFrame.__dict__.get("dfkit"), "_accessor", None)
    ours = (
        getattr(previous, "__qualname__", None) == DfkitAccessor.__qualname__
        and getattr(previous, "__module__", None) == DfkitAccessor.__module__
    )
    with warnings.catch_warnings():
        if ours:
            warnings.simplefilter("ignore", UserWarning)
        pd.api.extensions.register_dataframe_accessor("dfkit")(DfkitAccessor)


_register()
