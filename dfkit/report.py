"""The downloads report: the account's story on one self-contained page, beside its data.

:func:`build_report` computes everything in memory (both frames, the figures, the tables and
the charts as PNG bytes); :meth:`Report.write` then writes the files; :func:`write_report` does
both. ``dfkit report`` is a thin layer over them. A report directory holds (see :data:`FILES`)::

    report/
      report.html                one page, images embedded: attach it to an email as it is
      downloads.parquet          one row per download       (dfkit.read_parquet restores it)
      results.parquet            one row per result file (downloads without files keep one row)
      downloads_over_time.png    downloads per period, stacked by status
      records_cumulative.png     records requested, running total
      credits_over_time.png      credits spent per period        (when total_cost is known)
      data_types.png             records and credits by data type (when data_type is known)
      completion_times.png       time from start to completion    (when any completed)

The page answers, in this order: how much was downloaded and spent, over what period (the
headline figures); what is in flight or failed; how usage moved over time; what kind of data
was bought; how long downloads take. A section whose data is missing is left out. The whole
directory is written beside its final name and swapped in, so a reader (or a run killed
midway) never sees a page from one run beside the data of another; a directory holding files
that are not part of a report is refused rather than replaced.

>>> import dfkit, tempfile
>>> path = write_report(dfkit.sample_downloads(), tempfile.mkdtemp() + "/r", source="sample")
>>> sorted(p.name for p in path.parent.iterdir())  # doctest: +NORMALIZE_WHITESPACE
['completion_times.png', 'credits_over_time.png', 'data_types.png', 'downloads.parquet',
 'downloads_over_time.png', 'records_cumulative.png', 'report.html', 'results.parquet']
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dfkit._atomic import atomic_dir
from dfkit._report_html import Code, Dot, Figure, Note, Page, Part, Section, Table, render_page
from dfkit._version import __version__
from dfkit.analysis import (
    Freq,
    breakdown,
    completion_times,
    credits_over_time,
    downloads_over_time,
    freq_for_span,
    parse_freq,
    records_over_time,
    status_counts,
    summary,
)
from dfkit.errors import ArgumentError
from dfkit.frame import downloads_frames
from dfkit.parquet import to_parquet
from dfkit.plots import (
    format_duration,
    plot_breakdown,
    plot_completion_times,
    plot_credits_over_time,
    plot_downloads_over_time,
    plot_records_over_time,
    status_color,
    status_label,
)
from dfkit.schema import ROW_LABELS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from dfkit.client import Client

__all__ = ["FILES", "Report", "build_report", "format_value", "unsigned", "write_report"]

#: Every file a report directory can hold and what it is, in the order they are written;
#: a chart is written only when its section is on the page.
FILES: dict[str, str] = {
    "downloads.parquet": ROW_LABELS["download"],
    "results.parquet": ROW_LABELS["result"],
    "downloads_over_time.png": "downloads per period, stacked by status",
    "records_cumulative.png": "records requested, running total",
    "credits_over_time.png": "credits spent per period",
    "data_types.png": "records and credits by data type",
    "completion_times.png": "time from start to completion",
    "report.html": "the page: figures, tables and charts, images embedded",
}
# Names earlier dfkit versions wrote: a directory holding them is still a report directory.
_OLD_FILES = frozenset({"status_counts.png", "records_over_time.png"})
#: How many not-completed downloads the page lists (the Parquet files hold them all).
OPEN_ROWS = 25
#: How many periods (the most recent with downloads) the period table lists.
PERIOD_ROWS = 36

_SUMMARY_LABELS = {
    "downloads": "Downloads",
    "result_files": "Result files",
    "records": "Records requested",
    "records_completed": "Records in completed downloads",
    "share_completed": "Downloads completed",
    "first_created": "First download",
    "last_created": "Last download",
    "median_completion_time": "Median time to complete",
    "credits": "Credits spent",
}


# ---------------------------------------------------------------------------- formatting


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-likes
        return False


def _stamp(value: pd.Timestamp) -> pd.Timestamp:
    return value.tz_convert("UTC") if value.tzinfo is not None else value


def format_value(name: str, value: Any) -> str:
    """Return a summary entry as people read it: thousands separators, percent, UTC minutes.

    >>> format_value("records", 1878676), format_value("share_completed", 0.94)
    ('1,878,676', '94.0%')
    >>> format_value("first_created", pd.Timestamp("2025-05-01 02:49:09Z"))
    '2025-05-01 02:49 UTC'
    >>> format_value("median_completion_time", pd.Timedelta(seconds=96)), format_value("x", None)
    ('1 min 36 s', '–')
    """
    if _is_missing(value):
        return "–"
    if name.startswith("share"):
        return f"{float(value):.1%}"
    if isinstance(value, pd.Timestamp):
        s = _stamp(value)  # by hand: strftime does not pad years before 1000
        return f"{s.year:04d}-{s.month:02d}-{s.day:02d} {s.hour:02d}:{s.minute:02d} UTC"
    if isinstance(value, pd.Timedelta):
        return format_duration(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return f"{value:,}" if float(value).is_integer() else f"{value:,.2f}"
    return str(value)


def unsigned(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with each ``url`` cut before its query string: the link without its signature.

    A result file's link is pre-signed (``?X-Amz-Signature=...``, valid for days): whoever holds
    it can fetch the paid file. The report directory is meant to be forwarded, so its Parquet
    files keep only where each file was; ``dfkit export`` keeps the full links.

    >>> df = pd.DataFrame({"url": ["https://b.s3.amazonaws.com/1.csv?X-Amz-Signature=ab"]})
    >>> unsigned(df)["url"].tolist()
    ['https://b.s3.amazonaws.com/1.csv']
    """
    if "url" not in df.columns:
        return df
    cut: pd.DataFrame = df.assign(url=df["url"].str.replace(r"[?#].*", "", regex=True))
    return cut


def _day(value: Any) -> str:
    if _is_missing(value):
        return "–"
    s = _stamp(value)
    return f"{s.year:04d}-{s.month:02d}-{s.day:02d}"


def _age(value: Any) -> str:
    """Return an age to a useful precision: ``40 min``, ``5 h``, ``31 days``."""
    if _is_missing(value) or value < pd.Timedelta(0):
        return "–"
    hours = value.total_seconds() / 3600
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{int(hours)} h"
    return f"{int(hours // 24):,} days"


def _count(n: float) -> str:
    return f"{n:,.0f}"


def _month(value: pd.Timestamp) -> str:
    s = _stamp(value)
    return (
        f"{s.month_name()[:3]} {s.year:04d}" if s.year < 1000 else f"{s.month_name()[:3]} {s.year}"
    )


def _span(first: Any, last: Any) -> str:
    if _is_missing(first) or _is_missing(last):
        return "–"
    a, b = _stamp(first), _stamp(last)
    if (a.year, a.month, a.day) == (b.year, b.month, b.day):
        return f"{a.day} {_month(a)}"
    if (a.year, a.month) == (b.year, b.month):
        return f"{a.day}–{b.day} {_month(a)}"
    return f"{_month(a)} – {_month(b)}"


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


# ---------------------------------------------------------------------------- the report


@dataclass
class Report:
    """Everything a report shows, computed in memory; :meth:`write` puts it on disk."""

    #: Where the downloads came from, as shown on the page ("bundled sample", "file x.json").
    source: str
    #: The period of the charts and tables over time (chosen from the span unless given).
    freq: Freq
    generated_at: datetime
    per_download: pd.DataFrame
    per_result: pd.DataFrame
    #: :func:`dfkit.summary` of the downloads, plus ``credits`` when ``total_cost`` is known.
    summary: pd.Series
    #: One row per status: ``downloads``, ``share``, ``records`` (requested).
    statuses: pd.DataFrame
    #: One row per period *with downloads* (newest last): ``downloads``, ``completed``,
    #: ``records`` and, when ``total_cost`` is known, ``credits``.
    periods: pd.DataFrame
    #: The downloads that did not complete, newest first, with their ``age``.
    not_completed: pd.DataFrame
    #: :func:`dfkit.analysis.breakdown` by ``data_type`` (rows with downloads), or None.
    data_types: pd.DataFrame | None
    #: :func:`dfkit.analysis.completion_times` of the completed downloads.
    completion: pd.Series
    #: PNG bytes by file name (the charts of :data:`FILES` this report has).
    images: dict[str, bytes] = field(default_factory=dict)

    @property
    def period(self) -> str:
        """The noun of :attr:`freq`: ``"week"``."""
        return self.freq.noun

    @property
    def credits_known(self) -> bool:
        """Whether any download has a ``total_cost``."""
        return "credits" in self.summary.index

    @property
    def html(self) -> str:
        """The self-contained page (CSS inline, images as ``data:`` URIs, every value escaped)."""
        return render_page(_page(self))

    def summary_rows(self) -> list[tuple[str, str]]:
        """Return the headline figures as (label, formatted value) pairs, in display order."""
        return [(label, value) for value, label in _tiles(self)]

    def files(self) -> dict[str, str]:
        """Return the files :meth:`write` writes and what each holds, in :data:`FILES` order."""
        data = {"downloads.parquet", "results.parquet", "report.html"}
        return {k: v for k, v in FILES.items() if k in data or k in self.images}

    def write(self, out: str | os.PathLike[str] = "report") -> Path:
        """Return the path of ``report.html`` after writing the report's files into ``out``.

        The files are written into a fresh directory beside ``out`` that then replaces it
        whole, so ``out`` holds either the previous report or this one, never a mix. A
        directory ``out`` holding anything that is not part of a report is refused
        (:class:`dfkit.ArgumentError`) rather than replaced.
        """
        page_html = self.html  # rendered first: a failure here leaves everything untouched
        folder = Path(out)
        _check_replaceable(folder)
        with atomic_dir(folder) as tmp:
            to_parquet(unsigned(self.per_download), tmp / "downloads.parquet")
            to_parquet(unsigned(self.per_result), tmp / "results.parquet")
            for name, data in self.images.items():
                (tmp / name).write_bytes(data)
            (tmp / "report.html").write_text(page_html, encoding="utf-8")
        return folder / "report.html"


def _is_report_file(name: str) -> bool:
    """Whether ``name`` is a report file, or a temporary file of one left by a killed run."""
    if name.startswith(".") and name.endswith(".tmp"):
        name = name[1:].rsplit(".", 2)[0]
    return name in FILES or name in _OLD_FILES


def _check_replaceable(folder: Path) -> None:
    if not folder.exists() and not folder.is_symlink():
        return
    if not folder.is_dir() or folder.is_symlink():
        raise ArgumentError(f"out: {folder} exists and is not a directory; give a directory")
    foreign = sorted(p.name for p in folder.iterdir() if not _is_report_file(p.name))
    if foreign:
        shown = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        raise ArgumentError(
            f"out: {folder} holds files that are not part of a report ({shown}); "
            "a report replaces its whole directory, so give a new or empty one"
        )


def _status_table(df: pd.DataFrame) -> pd.DataFrame:
    counts = status_counts(df)
    shares = status_counts(df, normalize=True)
    records = (
        df.groupby("status", observed=False)["num_records"]
        .sum()
        .reindex(counts.index, fill_value=0)
    )
    table: pd.DataFrame = pd.DataFrame(
        {
            "downloads": counts.to_numpy(),
            "share": shares.to_numpy(),
            "records": records.fillna(0).to_numpy(dtype="int64"),
        },
        index=pd.Index([str(s) for s in counts.index], name="status"),
    )
    return table


def _periods_table(df: pd.DataFrame, freq: Freq, credits: bool) -> pd.DataFrame:
    downloads = downloads_over_time(df, freq, by="status")
    assert isinstance(downloads, pd.DataFrame)
    columns: dict[str, Any] = {
        "downloads": downloads.sum(axis=1),
        "completed": downloads.get("completed", 0),
        "records": records_over_time(df, freq),
    }
    if credits:
        columns["credits"] = credits_over_time(df, freq)
    table = pd.DataFrame(columns)
    kept: pd.DataFrame = table[(table["downloads"] > 0).to_numpy(dtype=bool)]
    return kept


def _not_completed(df: pd.DataFrame, now: datetime) -> pd.DataFrame:
    open_ = df[(df["status"] != "completed").fillna(True).to_numpy(dtype=bool)]
    open_ = open_.sort_values("created_at", ascending=False, na_position="last")
    columns = ["id", "status", "created_at", "num_records"] + (
        ["query"] if "query" in open_.columns else []
    )
    table: pd.DataFrame = open_[columns].reset_index(drop=True)
    stamp = pd.Timestamp(now)
    table["age"] = [
        stamp - created if not _is_missing(created) else pd.NaT for created in table["created_at"]
    ]
    return table


def _png(draw: Callable[[Axes], object], size: tuple[float, float] = (6.4, 3.2)) -> bytes:
    # A bare Figure (no pyplot): no global state, no GUI backend, nothing left open.
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=size, layout="constrained")
    draw(fig.subplots())
    buffer = io.BytesIO()
    # 6.4 inches at 140 dpi: about the page's width on a laptop, and ticks still readable
    # when a phone shows the chart 360 pixels wide.
    fig.savefig(buffer, format="png", dpi=140, metadata={"Software": None})
    return buffer.getvalue()


def _untitled(ax: Axes) -> Axes:
    ax.set_title("", loc="left")  # the page's heading names the chart
    return ax


def _charts(r: Report) -> dict[str, bytes]:
    df, freq = r.per_download, r.freq
    if not len(df):
        return {}
    images = {
        "downloads_over_time.png": _png(
            lambda ax: _untitled(plot_downloads_over_time(df, freq, by="status", ax=ax))
        ),
        "records_cumulative.png": _png(
            lambda ax: _untitled(plot_records_over_time(df, freq, cumulative=True, ax=ax))
        ),
    }
    if r.credits_known:
        images["credits_over_time.png"] = _png(
            lambda ax: _untitled(plot_credits_over_time(df, freq, ax=ax))
        )
    if r.data_types is not None:
        what = ("records", "credits") if r.credits_known else ("records",)
        height = len(what) * (0.9 + 0.34 * len(r.data_types))

        def both(ax: Axes) -> None:
            axes = ax.figure.subplots(len(what), 1) if len(what) > 1 else [ax]
            if len(what) > 1:
                ax.remove()
            for one, kind in zip(axes, what, strict=True):
                plot_breakdown(df, "data_type", what=kind, ax=one)  # type: ignore[arg-type]
                one.set_title(kind.capitalize(), loc="left")

        images["data_types.png"] = _png(both, (6.4, height))
    if len(r.completion):
        images["completion_times.png"] = _png(
            lambda ax: _untitled(plot_completion_times(df, ax=ax)), (6.4, 2.8)
        )
    return images


def build_report(
    data: Any = None,
    *,
    freq: str | Freq | None = None,
    source: str | None = None,
    client: Client | None = None,
) -> Report:
    """Return a :class:`Report` of the downloads ``data``, computed in memory.

    ``data`` is anything :func:`dfkit.downloads_frame` reads (a list of download objects, a
    path to a JSON file, JSON bytes); ``None`` fetches the live list with ``client`` (default:
    a :class:`dfkit.Client` configured from the environment). ``freq`` is the period of the
    charts and table over time (``"D"``, ``"W"``, ``"MS"``, ``"QS"``, ``"YS"``); by default it
    is chosen from the span of the downloads (:func:`dfkit.analysis.freq_for_span`).
    ``source`` labels the page; by default it is the file name, or "live API".

    >>> import dfkit
    >>> r = build_report(dfkit.sample_downloads(), source="bundled sample")
    >>> r.statuses["downloads"].to_dict()
    {'queued': 1, 'in_progress': 1, 'completed': 188, 'cancelled': 10}
    >>> r.period, r.summary_rows()[0]
    ('month', ('Downloads', '200'))
    """
    period = parse_freq(freq) if freq is not None else None
    frames = downloads_frames(data, client=client)  # one decode for both frames
    source = source or frames.source
    return _report(frames.per_download, frames.per_result, period, source)


def _report(
    per_download: pd.DataFrame, per_result: pd.DataFrame, period: Freq | None, source: str
) -> Report:
    numbers = summary(per_result)
    credits = "total_cost" in per_download.columns and per_download["total_cost"].notna().any()
    if credits:
        numbers["credits"] = float(per_download["total_cost"].fillna(0).sum())
    if period is None:
        period = freq_for_span(numbers["first_created"], numbers["last_created"])
    now = datetime.now(timezone.utc)
    data_types = None
    if "data_type" in per_download.columns and per_download["data_type"].notna().any():
        table = breakdown(per_download, "data_type")
        data_types = table[(table["downloads"] > 0).to_numpy(dtype=bool)]
    report = Report(
        source=source,
        freq=period,
        generated_at=now,
        per_download=per_download,
        per_result=per_result,
        summary=numbers,
        statuses=_status_table(per_download),
        periods=_periods_table(per_download, period, credits=bool(credits)),
        not_completed=_not_completed(per_download, now),
        data_types=data_types,
        completion=completion_times(per_download),
    )
    report.images = _charts(report)
    return report


def write_report(
    data: Any = None,
    out: str | os.PathLike[str] = "report",
    *,
    freq: str | Freq | None = None,
    source: str | None = None,
    client: Client | None = None,
) -> Path:
    """Return the path of ``report.html`` after writing the report of ``data`` into ``out``.

    Same arguments as :func:`build_report`; the files are those of :meth:`Report.files`.
    """
    return build_report(data, freq=freq, source=source, client=client).write(out)


# ---------------------------------------------------------------------------- the page


def _tiles(r: Report) -> list[tuple[str, str]]:
    """Return the headline figures as (value, label), each said once on the page."""
    s = r.summary
    tiles = [
        (_count(int(s["downloads"])), "Downloads"),
        (_count(int(s["records"])), "Records requested"),
    ]
    if r.credits_known:
        tiles.append((_count(float(s["credits"])), "Credits spent"))
    tiles.append((format_value("share_completed", s["share_completed"]), "Downloads completed"))
    tiles.append((_span(s["first_created"], s["last_created"]), "Period covered"))
    if "median_completion_time" in s.index and not _is_missing(s["median_completion_time"]):
        tiles.append(
            (
                format_value("median_completion_time", s["median_completion_time"]),
                "Median time to complete",
            )
        )
    return tiles


def _dot(status: Any) -> Dot | str:
    if _is_missing(status):
        return "–"
    return Dot(status_label(str(status)), status_color(str(status)))


def _status_section(r: Report) -> Section | None:
    if not len(r.per_download):
        return None
    rows = [
        [_dot(status), _count(row["downloads"]), f"{row['share']:.1%}", _count(row["records"])]
        for status, row in r.statuses.iterrows()
        if row["downloads"] > 0
    ]
    total = [
        "Total",
        _count(r.statuses["downloads"].sum()),
        f"{r.statuses['share'].sum():.1%}",
        _count(r.statuses["records"].sum()),
    ]
    parts: list[Part] = [Table(["Status", "Downloads", "Share", "Records"], rows, total=total)]
    shown = r.not_completed.head(OPEN_ROWS)
    if len(shown):
        has_query = "query" in shown.columns
        open_rows = [
            [
                str(d["id"]),
                _dot(d["status"]),
                _day(d["created_at"]),
                _age(d["age"]),
                format_value("records", d["num_records"]),
            ]
            for _, d in shown.iterrows()
        ]
        queries = [
            f"Query: {q}" if has_query and not _is_missing(q) else ""
            for q in (shown["query"] if has_query else [None] * len(shown))
        ]
        header = ["Id", "Status", "Created", "Age", "Records"]
        n_open = len(r.not_completed)
        parts.append(Note([f"Not completed: {_plural(n_open, 'download')}, newest first."]))
        # A phone leaves out the date: the age says it.
        parts.append(Table(header, open_rows, text_columns=(1,), below=queries, phone_hidden=(2,)))
        if n_open > len(shown):
            parts.append(
                Note(
                    [
                        f"The {len(shown)} newest of {n_open:,}; all are in ",
                        Code("downloads.parquet"),
                        ".",
                    ]
                )
            )
    else:
        parts.append(Note(["Every download completed."]))
    return Section("status", "Where the downloads stand", parts)


def _time_section(r: Report) -> Section | None:
    if "downloads_over_time.png" not in r.images:
        return None
    noun = r.period
    parts: list[Part] = [
        Figure(
            r.images["downloads_over_time.png"],
            f"Downloads per {noun}, stacked by status",
            f"Downloads per {noun}, by status",
        ),
        Figure(
            r.images["records_cumulative.png"],
            "Records requested, running total",
            "Records requested, running total",
        ),
    ]
    if "credits_over_time.png" in r.images:
        parts.append(
            Figure(
                r.images["credits_over_time.png"],
                f"Credits spent per {noun}",
                f"Credits spent per {noun}",
            )
        )
    shown = r.periods.tail(PERIOD_ROWS)
    credits = "credits" in shown.columns
    rows = [
        [
            r.freq.label(pd.Timestamp(start)),
            _count(row["downloads"]),
            _count(row["completed"]),
            _count(row["records"]),
            *([_count(row["credits"])] if credits else []),
        ]
        for start, row in shown.iterrows()
    ]
    first = (
        "Day" if noun == "day" else f"{noun.capitalize()}" + (" starting" if noun == "week" else "")
    )
    header = [first, "Downloads", "Completed", "Records", *(["Credits"] if credits else [])]
    parts.append(Table(header, rows))
    left_out = len(r.periods) - len(shown)
    parts.append(
        Note(
            [
                f"Only {noun}s with downloads are listed"
                + (f"; the {left_out:,} earlier ones are in the charts" if left_out else "")
                + f". {noun.capitalize()}s are in UTC"
                + (", starting on Monday" if noun == "week" else "")
                + "; a download counts in the period it was created."
            ]
        )
    )
    return Section("time", f"Over time, per {noun}", parts)


def _data_type_section(r: Report) -> Section | None:
    if r.data_types is None or "data_types.png" not in r.images:
        return None
    credits = "credits" in r.data_types.columns and r.credits_known
    rows = [
        [
            status_label(str(kind)),
            _count(row["downloads"]),
            _count(row["records"]),
            *([_count(row["credits"])] if credits else []),
        ]
        for kind, row in r.data_types.iterrows()
    ]
    header = ["Data type", "Downloads", "Records", *(["Credits"] if credits else [])]
    what = "Records and credits" if credits else "Records"
    return Section(
        "data-types",
        "What was bought",
        [
            Figure(r.images["data_types.png"], f"{what} by data type", f"{what} by data type"),
            Table(header, rows),
        ],
    )


def _backwards(r: Report) -> int:
    """Return how many completed downloads were last updated before they started."""
    df = r.per_download
    if "updated_at" not in df.columns:
        return 0
    done = (df["status"] == "completed").fillna(False).to_numpy(dtype=bool)
    timed = (df["created_at"].notna() & df["updated_at"].notna()).to_numpy(dtype=bool)
    return int((done & timed).sum()) - len(r.completion)


def _completion_section(r: Report) -> Section | None:
    took = r.completion
    backwards = _backwards(r)
    left_out: list[Part] = []
    if backwards:
        left_out.append(
            Note(
                [
                    f"Left out: {_plural(backwards, 'completed download')} whose last update (",
                    Code("updated_at"),
                    ") is earlier than " + ("its" if backwards == 1 else "their") + " start (",
                    Code("created_at"),
                    "), so the two times give no duration.",
                ]
            )
        )
    if not len(took) or "completion_times.png" not in r.images:
        return Section("completion", "Time to complete", left_out) if left_out else None
    # Seconds as floats: a nanosecond Timedelta stops at 292 years, years 1 to 9999 do not.
    seconds = took.dt.total_seconds()
    q = {p: float(seconds.quantile(p)) for p in (0.25, 0.5, 0.75, 0.9)}
    rows = [
        ["Median", format_duration(q[0.5])],
        [
            "Middle half (25th to 75th percentile)",
            f"{format_duration(q[0.25])} to {format_duration(q[0.75])}",
        ],
        ["9 in 10 within", format_duration(q[0.9])],
        [
            "Fastest, slowest",
            f"{format_duration(float(seconds.min()))}, {format_duration(float(seconds.max()))}",
        ],
        ["Completed downloads measured", _count(len(took))],
    ]
    return Section(
        "completion",
        "Time to complete",
        [
            Figure(r.images["completion_times.png"], "Time from start to completion, histogram"),
            Table(["", ""], rows, css="kv"),
            Note(
                [
                    "From a download's start (",
                    Code("created_at"),
                    ") to its last update (",
                    Code("updated_at"),
                    "), over completed downloads.",
                ]
            ),
            *left_out,
        ],
    )


def _page(r: Report) -> Page:
    sections = [
        s
        for s in (
            _status_section(r),
            _time_section(r),
            _data_type_section(r),
            _completion_section(r),
        )
        if s is not None
    ]
    if not sections:
        sections = [
            Section("empty", "No downloads", [Note(["There are no downloads to report on."])])
        ]
    stamp = format_value("generated", pd.Timestamp(r.generated_at))
    footer = [
        Note(
            [
                "The data behind this page is in the same directory, with every chart as a PNG "
                "file; ",
                Code("dfkit.read_parquet(path)"),
                " restores each table with its dtypes. Result file links are kept without "
                "their signature (the query string), so forwarding this directory gives no one "
                "the paid files; ",
                Code("dfkit export"),
                " keeps the full links:",
            ]
        )
    ]
    items = [
        Note([Code(name), f": {_plural(len(frame), 'row')}, {FILES[name]}."])
        for name, frame in (
            ("downloads.parquet", r.per_download),
            ("results.parquet", r.per_result),
        )
    ]
    return Page(
        title="Datafiniti downloads report",
        meta=f"Source: {r.source} · generated {stamp} by dfkit {__version__}",
        tiles=_tiles(r),
        sections=sections,
        footer=footer,
        footer_items=items,
        generator=f"dfkit {__version__}",
    )
