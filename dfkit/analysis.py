"""Analytics over a downloads frame: counts per status, records and downloads over time, a summary.

Every function accepts either kind of frame (``downloads_frame(per="result")`` or
``per="download"``) and counts each download once: the first row of each distinct ``id``.
They all work on an empty frame (zeros, or an empty result with the right dtypes) and on a
single row, so a report never has to special-case "no data".
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from dfkit.errors import ArgumentError, DfkitWarning, SchemaError
from dfkit.schema import COLUMN_BY_NAME, category_dtype, dtype, frame_per

__all__ = [
    "DAY",
    "FREQS",
    "FREQ_CHOICES",
    "MONTH",
    "QUARTER",
    "WEEK",
    "YEAR",
    "Freq",
    "breakdown",
    "completion_times",
    "credits_over_time",
    "downloads_over_time",
    "freq_for_span",
    "parse_freq",
    "records_over_time",
    "status_counts",
    "summary",
]


@dataclass(frozen=True)
class Freq:
    """A calendar period that dfkit counts by: what every ``freq=`` argument is parsed into.

    ``noun`` names it ("records per *week*"); ``pandas`` is pandas' offset alias of the
    period-start index (also the index's ``freq``); a period is ``step`` numpy ``unit`` steps
    long. Every period is labelled by its first day; weeks start on Monday.

    >>> parse_freq("w"), parse_freq("month").pandas
    (Freq('week'), 'MS')
    """

    unit: Literal["D", "M", "Y"]
    step: int
    pandas: str
    noun: str

    def __repr__(self) -> str:
        return f"Freq({self.noun!r})"

    def label(self, start: pd.Timestamp) -> str:
        """Return how people write the period starting at ``start``: ``2025-05-05``, ``2025-05``.

        >>> parse_freq("QS").label(pd.Timestamp("2025-04-01"))
        '2025 Q2'
        """
        if self.noun == "month":
            return f"{start.year:04d}-{start.month:02d}"
        if self.noun == "quarter":
            return f"{start.year:04d} Q{start.quarter}"
        if self.noun == "year":
            return f"{start.year:04d}"
        return f"{start.year:04d}-{start.month:02d}-{start.day:02d}"


DAY = Freq("D", 1, "D", "day")
WEEK = Freq("D", 7, "W-MON", "week")
MONTH = Freq("M", 1, "MS", "month")
QUARTER = Freq("M", 3, "QS-JAN", "quarter")
YEAR = Freq("Y", 1, "YS-JAN", "year")

#: Accepted ``freq`` spellings (case-insensitive) and the :class:`Freq` each means: pandas'
#: aliases, end- and start-anchored alike (every period is labelled by its first day), and
#: plain words.
FREQS: dict[str, Freq] = {
    **dict.fromkeys(["D", "DAY", "DAILY"], DAY),
    **dict.fromkeys(["W", "W-MON", "W-SUN", "WEEK", "WEEKLY"], WEEK),
    **dict.fromkeys(["MS", "M", "ME", "MONTH", "MONTHLY"], MONTH),
    **dict.fromkeys(["QS", "Q", "QE", "QS-JAN", "QE-DEC", "QUARTER", "QUARTERLY"], QUARTER),
    **dict.fromkeys(["YS", "Y", "YE", "AS", "A", "YS-JAN", "YE-DEC", "YEAR", "YEARLY"], YEAR),
}
# pandas' "W" means "W-SUN": weeks ending on Sunday, the same Monday-to-Sunday weeks as here,
# which dfkit labels by their Monday like every other period (by its first day).

#: The message's list of what ``freq`` accepts.
FREQ_CHOICES = "D, W, MS (or M), QS (or Q), YS (or Y), or day, week, month, quarter, year"


def parse_freq(freq: str | Freq) -> Freq:
    """Return the :class:`Freq` that ``freq`` names: the one check of every ``freq`` argument.

    Raises :class:`dfkit.ArgumentError` (also a ``ValueError``) naming the argument.

    >>> parse_freq("MS") is parse_freq("month") is MONTH
    True
    >>> parse_freq("fortnight")
    Traceback (most recent call last):
    ...
    dfkit.errors.ArgumentError: freq: expected D, W, MS (or M), ..., got 'fortnight'
    """
    if isinstance(freq, Freq):
        return freq
    found = FREQS.get(freq.upper()) if isinstance(freq, str) else None
    if found is None:
        raise ArgumentError(f"freq: expected {FREQ_CHOICES}, got {freq!r}")
    return found


def freq_for_span(first: pd.Timestamp | None, last: pd.Timestamp | None) -> Freq:
    """Return the period that shows a span of time in a readable number of bars.

    Days up to eight weeks, weeks up to nine months, months up to eight years, years beyond
    (and days when there is no span at all).

    >>> freq_for_span(pd.Timestamp("2025-05-01"), pd.Timestamp("2025-05-20"))
    Freq('day')
    >>> freq_for_span(pd.Timestamp("2025-05-01"), pd.Timestamp("2026-11-20"))
    Freq('month')
    """
    if first is None or last is None or pd.isna(first) or pd.isna(last):
        return DAY
    days = (last - first).days
    if days <= 56:
        return DAY
    if days <= 274:
        return WEEK
    if days <= 8 * 366:
        return MONTH
    return YEAR


def _require(df: pd.DataFrame, names: Iterable[str], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"df: {what} expects a downloads DataFrame, got {type(df).__name__}")
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise SchemaError(
            f"{what} needs a downloads frame (see dfkit.downloads_frame); "
            f"missing column{'s' if len(missing) > 1 else ''} {missing}, "
            f"found {list(map(str, df.columns))[:12]}"
        )


def _downloads(df: pd.DataFrame) -> pd.DataFrame:
    """Return one row per download: the first row of each distinct ``id``."""
    if frame_per(df) == "download" and df["id"].is_unique:
        return df
    first: pd.DataFrame = df[~df["id"].duplicated(keep="first").to_numpy(dtype=bool)]
    return first


def _categorical(values: pd.Series, name: str) -> pd.Categorical:
    """Return ``values`` as a categorical: its own categories, or the schema's plus unknowns."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return pd.Categorical(values)
    column = COLUMN_BY_NAME.get(name)
    distinct = [str(v) for v in values.dropna().unique()]
    if column is not None and column.is_category:
        return pd.Categorical(values.astype("object"), dtype=category_dtype(name, distinct))
    if pd.api.types.is_string_dtype(values):
        return pd.Categorical(values.astype("object"), categories=sorted(distinct))
    raise ArgumentError(
        f"by={name!r}: expected a categorical or string column, got dtype {values.dtype}"
    )


def _warn_left_out(n: int, what: str, where: str) -> None:
    noun = "download" if n == 1 else "downloads"
    warnings.warn(f"{n} {noun} without {what} left out of {where}", DfkitWarning, stacklevel=4)


# ---------------------------------------------------------------------------- status counts


def status_counts(df: pd.DataFrame, *, normalize: bool = False) -> pd.Series:
    """Return the number of downloads per status, for every status category in order.

    The index is a ``CategoricalIndex`` of the ``status`` categories (the four known ones in
    lifecycle order, then any unknown ones), zero-filled; the Series is named ``downloads``.
    With ``normalize=True`` the values are shares summing to 1 (all zeros for an empty frame).
    Downloads with a missing status are not counted.

    >>> import dfkit
    >>> df = dfkit.downloads_frame([
    ...     {"id": 1, "status": "completed", "num_records": 10, "created_at": "2025-03-03",
    ...      "results": ["https://x/1.csv", "https://x/2.csv"]},
    ...     {"id": 2, "status": "running", "num_records": 5, "created_at": "2025-03-12"},
    ... ])
    >>> status_counts(df)
    status
    queued         0
    in_progress    1
    completed      1
    cancelled      0
    Name: downloads, dtype: int64
    """
    _require(df, ["id", "status"], "status_counts")
    status = _categorical(_downloads(df)["status"], "status")
    categories = status.categories
    codes = np.asarray(status.codes)
    counts = np.bincount(codes[codes >= 0], minlength=len(categories)).astype(np.int64)
    index = pd.CategoricalIndex(categories, categories=categories, name="status")
    result: pd.Series = pd.Series(counts, index=index, name="downloads")
    if normalize:
        total = counts.sum()
        result = result.div(total) if total else result.astype("float64")
    return result


# ---------------------------------------------------------------------------- over time


def _utc_naive(values: pd.Series) -> np.ndarray:
    """Return datetimes as naive UTC ``datetime64[us]`` (naive input is read as UTC)."""
    if not isinstance(values.dtype, pd.DatetimeTZDtype) and not pd.api.types.is_datetime64_dtype(
        values.dtype
    ):
        raise ArgumentError(f"created_at: expected datetimes, got dtype {values.dtype}")
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.to_numpy(dtype="datetime64[us]")


def _period_ordinals(times: np.ndarray, freq: Freq) -> np.ndarray:
    """Return each time's period start as an integer count of ``freq.unit`` since 1970."""
    ordinals = times.astype(f"datetime64[{freq.unit}]").astype(np.int64)
    if freq is WEEK:
        return ordinals - (ordinals + 3) % 7  # 1970-01-01 was a Thursday: Monday is 3 back
    return ordinals - ordinals % freq.step


def _over_time(
    df: pd.DataFrame,
    freq: str | Freq,
    by: str | None,
    cumulative: bool,
    *,
    what: Literal["records", "downloads", "credits"],
) -> pd.Series | pd.DataFrame:
    where = f"{what}_over_time"
    weight_column = {"records": "num_records", "credits": "total_cost"}.get(what)
    needed = ["id", "created_at"] + ([weight_column] if weight_column else [])
    _require(df, needed + ([by] if by is not None else []), where)
    period = parse_freq(freq)
    downloads = _downloads(df)
    created = downloads["created_at"]
    # Validate the by column (and find its categories) before dropping any rows, so the
    # columns are the same whatever the rows.
    groups = _categorical(downloads[by], by) if by is not None else None
    keep = created.notna().to_numpy(dtype=bool)
    if groups is not None:
        no_group = np.asarray(groups.codes) < 0
        if (no_group & keep).any():
            _warn_left_out(int((no_group & keep).sum()), by or "", where)
        keep_group = ~no_group
    if not keep.all():
        _warn_left_out(int((~keep).sum()), "created_at", where)
    if groups is not None:
        keep = keep & keep_group

    times = _utc_naive(created[keep])
    kind = np.float64 if what == "credits" else np.int64
    if weight_column is not None:
        weights = downloads[weight_column][keep].fillna(0).to_numpy(dtype=kind)
    else:
        weights = np.ones(int(keep.sum()), dtype=kind)
    ordinals = _period_ordinals(times, period)
    if len(ordinals):
        first, last = int(ordinals.min()), int(ordinals.max())
        starts = np.arange(first, last + 1, period.step, dtype=np.int64)
        position = (ordinals - first) // period.step
    else:
        starts = np.array([], dtype=np.int64)
        position = ordinals
    labels = starts.astype(f"datetime64[{period.unit}]").astype("datetime64[us]")
    index = pd.DatetimeIndex(
        labels, dtype=dtype("created_at"), freq=period.pandas, name="created_at"
    )

    if groups is None:
        totals = np.zeros(len(starts), dtype=kind)
        np.add.at(totals, position, weights)
        result: pd.Series | pd.DataFrame = pd.Series(totals, index=index, name=what)
    else:
        categories = groups.categories
        codes = np.asarray(groups.codes)[keep]
        table = np.zeros((len(starts), len(categories)), dtype=kind)
        np.add.at(table, (position, codes), weights)
        result = pd.DataFrame(
            table,
            index=index,
            columns=pd.Index([str(c) for c in categories], name=by),
        )
    if cumulative:
        result = result.cumsum()
    return result


def records_over_time(
    df: pd.DataFrame, freq: str | Freq = "W", *, by: str | None = None, cumulative: bool = False
) -> pd.Series | pd.DataFrame:
    """Return ``num_records`` summed per period of ``created_at``: a Series, or per category.

    The index is a tz-aware UTC ``DatetimeIndex`` of period starts (named ``created_at``) with
    no gaps between the first and the last period. ``freq`` is ``"D"``, ``"W"`` (weeks start
    on Monday and are labelled by it), ``"MS"``/``"M"``, ``"QS"``/``"Q"`` or ``"YS"``/``"Y"``;
    every period is labelled by its first day. A missing ``num_records`` counts as 0.

    ``by="status"`` (or any categorical column, such as ``data_type``) gives a DataFrame with
    one column per category, labelled by the category string, every category present even when
    all zero. ``cumulative=True`` gives running totals. Downloads without ``created_at`` (or,
    with ``by``, without a value in that column) are left out with a ``DfkitWarning``.

    >>> import dfkit
    >>> df = dfkit.downloads_frame([
    ...     {"id": 1, "status": "completed", "num_records": 10, "created_at": "2025-03-05"},
    ...     {"id": 2, "status": "queued", "num_records": 5, "created_at": "2025-03-19"},
    ... ])
    >>> records_over_time(df)
    created_at
    2025-03-03 00:00:00+00:00    10
    2025-03-10 00:00:00+00:00     0
    2025-03-17 00:00:00+00:00     5
    Freq: W-MON, Name: records, dtype: int64
    >>> records_over_time(df, "M", by="status", cumulative=True)
    status                     queued  in_progress  completed  cancelled
    created_at
    2025-03-01 00:00:00+00:00       5            0         10          0
    """
    return _over_time(df, freq, by, cumulative, what="records")


def downloads_over_time(
    df: pd.DataFrame, freq: str | Freq = "W", *, by: str | None = None, cumulative: bool = False
) -> pd.Series | pd.DataFrame:
    """Return the number of downloads started per period of ``created_at``.

    Same index, ``freq``, ``by``, ``cumulative`` and warnings as :func:`records_over_time`;
    the Series is named ``downloads``.

    >>> import dfkit
    >>> df = dfkit.downloads_frame([
    ...     {"id": 1, "status": "completed", "num_records": 10, "created_at": "2025-01-05"},
    ...     {"id": 2, "status": "queued", "num_records": 5, "created_at": "2025-05-19"},
    ... ])
    >>> downloads_over_time(df, "QS", cumulative=True).tolist()
    [1, 2]
    """
    return _over_time(df, freq, by, cumulative, what="downloads")


def credits_over_time(
    df: pd.DataFrame, freq: str | Freq = "W", *, by: str | None = None, cumulative: bool = False
) -> pd.Series | pd.DataFrame:
    """Return the credits spent (``total_cost`` summed, as floats) per period of ``created_at``.

    Same index, ``freq``, ``by``, ``cumulative`` and warnings as :func:`records_over_time`;
    a missing ``total_cost`` counts as 0 and the Series is named ``credits``.

    >>> import dfkit
    >>> df = dfkit.downloads_frame([
    ...     {"id": 1, "status": "completed", "num_records": 10, "created_at": "2025-01-05",
    ...      "total_cost": 2.5},
    ...     {"id": 2, "status": "queued", "num_records": 5, "created_at": "2025-01-19"},
    ... ])
    >>> credits_over_time(df, "MS").tolist()
    [2.5]
    """
    return _over_time(df, freq, by, cumulative, what="credits")


def completion_times(df: pd.DataFrame) -> pd.Series:
    """Return how long each completed download took: ``updated_at - created_at``, by ``id``.

    Downloads missing either time, or whose ``updated_at`` is before ``created_at``, are left
    out; an empty Series (``timedelta64``) when there are none or no ``updated_at`` column.

    >>> import dfkit
    >>> df = dfkit.downloads_frame([
    ...     {"id": 1, "status": "completed", "num_records": 10, "created_at": "2025-03-05",
    ...      "updated_at": "2025-03-05T00:30:00Z"},
    ...     {"id": 2, "status": "queued", "num_records": 5, "created_at": "2025-03-19"},
    ... ])
    >>> completion_times(df).tolist()
    [Timedelta('0 days 00:30:00')]
    """
    _require(df, ["id", "status", "created_at"], "completion_times")
    downloads = _downloads(df)
    if "updated_at" not in downloads.columns:
        return pd.Series([], dtype="timedelta64[us]", name="completion_time")
    completed = (downloads["status"] == "completed").fillna(False).to_numpy(dtype=bool)
    took = (downloads["updated_at"] - downloads["created_at"])[completed]
    took = took[took.notna().to_numpy(dtype=bool)]
    took = took[(took >= pd.Timedelta(0)).to_numpy(dtype=bool)]
    took.index = pd.Index(downloads["id"][completed].loc[took.index], name="id")
    result: pd.Series = took.rename("completion_time")
    return result


def breakdown(df: pd.DataFrame, by: str = "data_type") -> pd.DataFrame:
    """Return downloads, records and credits per category of ``by``, one row per category.

    Columns ``downloads``, ``records`` (``num_records`` summed) and, when the frame has
    ``total_cost``, ``credits``; every category of the column is a row (zeros included),
    downloads without a value are left out.

    >>> import dfkit
    >>> df = dfkit.downloads_frame([
    ...     {"id": 1, "status": "completed", "num_records": 10, "created_at": "2025-01-05",
    ...      "data_type": "product", "total_cost": 2.0},
    ...     {"id": 2, "status": "queued", "num_records": 5, "created_at": "2025-01-19",
    ...      "data_type": "product"},
    ... ])
    >>> breakdown(df).loc["product"].tolist()
    [2.0, 15.0, 2.0]
    """
    _require(df, ["id", "num_records", by], "breakdown")
    downloads = _downloads(df)
    groups = _categorical(downloads[by], by)
    codes = np.asarray(groups.codes)
    keep = codes >= 0
    n = len(groups.categories)
    table: dict[str, np.ndarray] = {
        "downloads": np.bincount(codes[keep], minlength=n).astype(np.int64),
        "records": np.bincount(
            codes[keep],
            weights=downloads["num_records"].fillna(0).to_numpy(dtype=np.float64)[keep],
            minlength=n,
        ).astype(np.int64),
    }
    if "total_cost" in downloads.columns:
        table["credits"] = np.bincount(
            codes[keep],
            weights=downloads["total_cost"].fillna(0).to_numpy(dtype=np.float64)[keep],
            minlength=n,
        )
    index = pd.Index([str(c) for c in groups.categories], name=by)
    result: pd.DataFrame = pd.DataFrame(table, index=index)
    return result


# ---------------------------------------------------------------------------- summary


def summary(df: pd.DataFrame) -> pd.Series:
    """Return the headline numbers of a downloads frame as a Series named ``summary``.

    Entries: ``downloads``, ``result_files``, ``records`` (``num_records`` summed),
    ``records_completed`` (of completed downloads), ``share_completed`` (share of downloads
    that completed; 0.0 when there are none), ``first_created``, ``last_created`` and, when
    the frame has ``updated_at``, ``median_completion_time`` (the median of
    :func:`completion_times`, so never negative). Missing values are ``NaT``;
    ``result_files`` is ``<NA>`` when the frame has neither ``result_index``/``url`` nor
    ``num_results``.

    >>> import dfkit
    >>> df = dfkit.downloads_frame([
    ...     {"id": 1, "status": "completed", "num_records": 10, "created_at": "2025-03-05",
    ...      "updated_at": "2025-03-05T00:30:00Z", "results": ["https://x/1.csv"]},
    ...     {"id": 2, "status": "queued", "num_records": 5, "created_at": "2025-03-19"},
    ... ])
    >>> summary(df)
    downloads                                         2
    result_files                                      1
    records                                          15
    records_completed                                10
    share_completed                                 0.5
    first_created             2025-03-05 00:00:00+00:00
    last_created              2025-03-19 00:00:00+00:00
    median_completion_time              0 days 00:30:00
    Name: summary, dtype: object
    """
    _require(df, ["id", "status", "num_records", "created_at"], "summary")
    downloads = _downloads(df)
    n = len(downloads)
    completed = (downloads["status"] == "completed").fillna(False).to_numpy(dtype=bool)
    records = downloads["num_records"].fillna(0).to_numpy(dtype=np.int64)

    kind = frame_per(df)
    result_files: int | None
    if kind == "download":
        result_files = int(downloads["num_results"].sum())
    elif kind == "result":
        present = df["result_index"] if "result_index" in df.columns else df["url"]
        result_files = int(present.notna().sum())
    else:
        result_files = None

    created = downloads["created_at"]
    entries: dict[str, object] = {
        "downloads": n,
        "result_files": pd.NA if result_files is None else result_files,
        "records": int(records.sum()),
        "records_completed": int(records[completed].sum()),
        "share_completed": float(completed.sum() / n) if n else 0.0,
        "first_created": created.min() if created.notna().any() else pd.NaT,
        "last_created": created.max() if created.notna().any() else pd.NaT,
    }
    if "updated_at" in downloads.columns:
        took = completion_times(downloads)  # an update before the start is no duration
        entries["median_completion_time"] = took.median() if len(took) else pd.NaT
    return pd.Series(entries, dtype="object", name="summary")
