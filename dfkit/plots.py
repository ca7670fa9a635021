"""Matplotlib charts of a downloads frame: ax in, ax out, fit for a report.

Each function draws on the ``ax`` it is given (or on a new figure when none is) and returns
the ``Axes``; none calls ``plt.show()`` or changes ``rcParams``, and every style is set on the
artists themselves. A status has the same colour in every chart (:data:`STATUS_COLORS`).
matplotlib is imported when a chart is drawn, so ``import dfkit`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dfkit.analysis import FREQS, downloads_over_time, records_over_time, status_counts

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis

__all__ = [
    "STATUS_COLORS",
    "plot_downloads_over_time",
    "plot_records_over_time",
    "plot_status_counts",
]

#: One colour per status, shared by every chart (colour-blind-safe Okabe-Ito hues).
STATUS_COLORS: dict[str, str] = {
    "queued": "#E69F00",  # orange: waiting
    "in_progress": "#0072B2",  # blue: working
    "completed": "#009E73",  # green: done
    "cancelled": "#D55E00",  # vermillion: stopped
}
#: The colour of a status dfkit does not know.
OTHER_STATUS_COLOR = "#999999"

_NO_DATA = "No downloads to show"
#: About one period, in days: the margin either side of a chart's only point.
_PERIOD_DAYS = {"day": 1, "week": 7, "month": 31, "quarter": 92, "year": 366}


def status_color(status: str) -> str:
    """Return the colour every chart uses for ``status`` (grey for an unknown one).

    >>> status_color("completed"), status_color("failed")
    ('#009E73', '#999999')
    """
    return STATUS_COLORS.get(status, OTHER_STATUS_COLOR)


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=(8, 4.5), layout="constrained")
    return new


def _thousands(axis: Axis) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:,.0f}"))


def _no_data(ax: Axes) -> None:
    ax.text(
        0.5,
        0.5,
        _NO_DATA,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize="large",
        color="#555555",
    )
    ax.set_xticks([])
    ax.set_yticks([])


def plot_status_counts(df: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Return the Axes with a horizontal bar per status: downloads, the count printed on each bar.

    Statuses run top to bottom in lifecycle order (unknown ones last), each in its
    :data:`STATUS_COLORS` colour. An empty frame gives a labelled chart saying there is no data.

    >>> import dfkit
    >>> from matplotlib.figure import Figure
    >>> df = dfkit.downloads_frame(dfkit.sample_downloads(), per="download")
    >>> ax = plot_status_counts(df, ax=Figure().subplots())
    >>> [int(bar.get_width()) for bar in ax.patches] == status_counts(df).tolist()
    True
    """
    counts = status_counts(df)
    ax = _axes(ax)
    ax.set_title("Downloads by status")
    ax.set_xlabel("Downloads")
    ax.set_ylabel("Status")
    if counts.sum() == 0:
        _no_data(ax)
        return ax
    labels = [str(s) for s in counts.index]
    positions = list(range(len(labels)))
    bars = ax.barh(
        positions,
        counts.to_numpy(),
        color=[status_color(s) for s in labels],
        edgecolor="none",
        height=0.7,
    )
    ax.set_yticks(positions, labels)
    ax.invert_yaxis()  # lifecycle order reads top to bottom
    ax.bar_label(bars, labels=[f"{int(v):,}" for v in counts], padding=3)
    ax.margins(x=0.12)  # room for the count after the longest bar
    ax.set_xlim(left=0)
    _thousands(ax.xaxis)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return ax


def _plot_over_time(
    data: pd.Series | pd.DataFrame,
    ax: Axes | None,
    *,
    what: str,
    freq: str,
    by: str | None,
    cumulative: bool,
) -> Axes:
    import matplotlib.dates as mdates
    from matplotlib.ticker import MaxNLocator

    ax = _axes(ax)
    noun = FREQS[str(freq).upper()].noun
    ax.set_title(f"Cumulative {what}" if cumulative else f"{what.capitalize()} per {noun}")
    ax.set_xlabel("Day (UTC)" if noun == "day" else f"{noun.capitalize()} starting (UTC)")
    ax.set_ylabel(f"{what.capitalize()} (running total)" if cumulative else what.capitalize())
    if len(data.index) == 0:
        _no_data(ax)
        return ax
    # Naive UTC datetime64 values: matplotlib plots them without pandas' converters.
    index = pd.DatetimeIndex(data.index)
    x = index.tz_convert("UTC").tz_localize(None).to_numpy()
    frame = data.to_frame() if isinstance(data, pd.Series) else data
    marker = "o" if len(x) <= 60 else None
    for label in frame.columns:
        color = status_color(str(label)) if by == "status" else None
        ax.plot(
            x,
            frame[label].to_numpy(),
            label=str(label),
            color=color,
            marker=marker,
            markersize=3,
            linewidth=1.6,
        )
    if len(x) == 1:  # matplotlib would stretch a lone point's axis over years
        pad = np.timedelta64(_PERIOD_DAYS[noun], "D")
        ax.set_xlim(x[0] - pad, x[0] + pad)
    if what == "downloads":
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    _thousands(ax.yaxis)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if by is not None:
        ax.legend(title=by, frameon=False, fontsize="small")
    return ax


def plot_records_over_time(
    df: pd.DataFrame,
    freq: str = "W",
    *,
    ax: Axes | None = None,
    by: str | None = None,
    cumulative: bool = False,
) -> Axes:
    """Return the Axes with ``records_over_time(df, freq, by=by, cumulative=cumulative)`` as lines.

    One line, or one per category of ``by`` (statuses in their :data:`STATUS_COLORS`), on a
    concise date axis; an empty frame gives a labelled chart saying there is no data.

    >>> import dfkit
    >>> from matplotlib.figure import Figure
    >>> df = dfkit.downloads_frame(dfkit.sample_downloads(), per="download")
    >>> ax = plot_records_over_time(df, "MS", by="status", ax=Figure().subplots())
    >>> [line.get_label() for line in ax.lines]
    ['queued', 'in_progress', 'completed', 'cancelled']
    """
    data = records_over_time(df, freq, by=by, cumulative=cumulative)
    return _plot_over_time(data, ax, what="records", freq=freq, by=by, cumulative=cumulative)


def plot_downloads_over_time(
    df: pd.DataFrame,
    freq: str = "W",
    *,
    ax: Axes | None = None,
    by: str | None = None,
    cumulative: bool = False,
) -> Axes:
    """Return the Axes with ``downloads_over_time(df, freq, ...)`` as lines, like the records plot.

    >>> import dfkit
    >>> from matplotlib.figure import Figure
    >>> ax = plot_downloads_over_time(dfkit.downloads_frame([]), ax=Figure().subplots())
    >>> ax.texts[0].get_text()
    'No downloads to show'
    """
    data = downloads_over_time(df, freq, by=by, cumulative=cumulative)
    return _plot_over_time(data, ax, what="downloads", freq=freq, by=by, cumulative=cumulative)
