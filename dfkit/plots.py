"""Matplotlib charts of a downloads frame: ax in, ax out, fit for a report.

Each function draws on the ``ax`` it is given (or on a new figure when none is) and returns
the ``Axes``; none calls ``plt.show()`` or changes ``rcParams``, and every style is set on the
artists themselves. A status has the same colour (:data:`STATUS_COLORS`) and the same words
(:func:`status_label`) in every chart. Charts over time put one slot per period on the x axis
(so any year from 1 to 9999 plots) and label the year wherever it changes. Text from the data
is shown as it is: a ``$`` never turns on matplotlib's math mode. matplotlib is imported when a
chart is drawn, so ``import dfkit`` stays fast.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

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
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis

__all__ = [
    "STATUS_COLORS",
    "STATUS_LABELS",
    "format_duration",
    "plot_breakdown",
    "plot_completion_times",
    "plot_credits_over_time",
    "plot_downloads_over_time",
    "plot_records_over_time",
    "plot_status_counts",
    "status_color",
    "status_label",
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

#: What people call each status on a chart or a page.
STATUS_LABELS: dict[str, str] = {
    "queued": "Queued",
    "in_progress": "In progress",
    "completed": "Completed",
    "cancelled": "Cancelled",
}

_NO_DATA = "No downloads to show"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: At most this many labelled ticks on a time axis (a phone-width page still reads them).
_MAX_TICKS = 9


def status_color(status: str) -> str:
    """Return the colour every chart uses for ``status`` (grey for an unknown one).

    >>> status_color("completed"), status_color("failed")
    ('#009E73', '#999999')
    """
    return STATUS_COLORS.get(status, OTHER_STATUS_COLOR)


def status_label(status: str) -> str:
    """Return the words people read for ``status``: "In progress" for ``in_progress``.

    >>> status_label("in_progress"), status_label("on_hold")
    ('In progress', 'On hold')
    """
    known = STATUS_LABELS.get(status)
    if known is not None:
        return known
    words = str(status).replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def format_duration(value: pd.Timedelta | np.timedelta64 | float) -> str:
    """Return a duration as people read it, to the minute beyond an hour: ``1 h 36 min``.

    ``value`` is a Timedelta or a number of seconds; beyond a year it reads in years, so the
    9,998 years from year 1 to 9999 (past the reach of a nanosecond ``pd.Timedelta``) show too.

    >>> format_duration(pd.Timedelta(seconds=96)), format_duration(pd.Timedelta(hours=50))
    ('1 min 36 s', '2 days 2 h')
    >>> format_duration(400 * 86400.0), format_duration(315537897599.0)
    ('1.1 years', '9,999 years')
    """
    if isinstance(value, (pd.Timedelta, np.timedelta64)):
        total = pd.Timedelta(value).total_seconds()  # keeps the value's own unit: no overflow
    else:
        total = float(value)
    seconds = round(total)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    if days >= 365:
        years = (days + hours / 24) / 365.2425  # the Gregorian year
        return f"{years:.1f} years" if years < 10 else f"{round(years):,} years"
    return f"{days} days {hours} h" if hours else f"{days} days"


def _plain(text: object) -> str:
    """Return ``text`` for a matplotlib label: ``$`` shown as itself, never as math mode."""
    return str(text).replace("$", r"\$")


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
    ax.set_yticks(positions, [_plain(status_label(s)) for s in labels])
    ax.invert_yaxis()  # lifecycle order reads top to bottom
    ax.bar_label(bars, labels=[f"{int(v):,}" for v in counts], padding=3)
    ax.margins(x=0.12)  # room for the count after the longest bar
    ax.set_xlim(left=0)
    _thousands(ax.xaxis)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def _resolve_freq(df: pd.DataFrame, freq: str | Freq | None) -> Freq:
    """Return ``freq`` parsed, or the period that suits the span of ``created_at`` if None."""
    if freq is not None:
        return parse_freq(freq)
    if "created_at" in df.columns and df["created_at"].notna().any():
        created = df["created_at"]
        return freq_for_span(pd.Timestamp(created.min()), pd.Timestamp(created.max()))
    return freq_for_span(None, None)


def _tick_label(start: pd.Timestamp, freq: Freq, with_year: bool) -> str:
    if freq.noun == "year":
        return f"{start.year}"
    if freq.noun == "quarter":
        short = f"Q{start.quarter}"
    elif freq.noun == "month":
        short = _MONTHS[start.month - 1]
    else:
        short = f"{start.day} {_MONTHS[start.month - 1]}"
    return f"{short}\n{start.year}" if with_year else short


def _period_axis(ax: Axes, starts: pd.DatetimeIndex, freq: Freq) -> None:
    """Label slot ``i`` of the x axis with period ``starts[i]``, the year wherever it changes."""
    n = len(starts)
    step = max(1, math.ceil(n / _MAX_TICKS))
    ticks = list(range(0, n, step))
    labels, year = [], None
    for i in ticks:
        start = starts[i]
        labels.append(_tick_label(start, freq, with_year=start.year != year))
        year = start.year
    ax.set_xticks(ticks, labels)
    ax.set_xlim(-0.6, n - 0.4)
    noun = freq.noun
    ax.set_xlabel("Day (UTC)" if noun == "day" else f"{noun.capitalize()} starting (UTC)")


def _legend(ax: Axes, title: str | None) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    ax.legend(
        handles,
        labels,
        title=title,
        frameon=False,
        fontsize="small",
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncols=min(len(handles), 4),
        borderaxespad=0.2,
    )


def _series_label(label: object, by: str | None) -> str:
    return _plain(status_label(str(label)) if by == "status" else label)


def _plot_over_time(
    data: pd.Series | pd.DataFrame,
    ax: Axes | None,
    *,
    what: str,
    freq: Freq,
    by: str | None,
    cumulative: bool,
) -> Axes:
    """Draw per-period values as (stacked) bars, running totals as lines."""
    from matplotlib.ticker import MaxNLocator

    ax = _axes(ax)
    noun = freq.noun
    title = f"Cumulative {what}" if cumulative else f"{what.capitalize()} per {noun}"
    ax.set_title(title, loc="left")
    ax.set_ylabel(f"{what.capitalize()} (running total)" if cumulative else what.capitalize())
    if len(data.index) == 0:
        ax.set_xlabel("Day (UTC)" if noun == "day" else f"{noun.capitalize()} starting (UTC)")
        _no_data(ax)
        return ax
    frame = data.to_frame() if isinstance(data, pd.Series) else data
    x = np.arange(len(frame.index))
    bottom = np.zeros(len(x))
    # A bar fills 0.8 of its slot, but stays a few pixels wide among thousands of periods.
    width = 0.5 if len(x) == 1 else max(0.8, len(x) / 150)
    for label in frame.columns:
        values = frame[label].to_numpy(dtype=np.float64)
        if by is not None and not values.any():
            continue  # a category with nothing in any period would only crowd the legend
        color = status_color(str(label)) if by == "status" else None
        if cumulative:
            ax.plot(
                x,
                values,
                label=_series_label(label, by),
                color=color or "#0072B2",
                marker="o" if len(x) <= 40 else None,
                markersize=3,
                linewidth=2,
            )
        else:
            drawn = values != 0  # a bar per period with something: thousands of empty years
            ax.bar(  # would cost seconds and show nothing
                x[drawn],
                values[drawn],
                bottom=bottom[drawn],
                width=width,
                label=_series_label(label, by),
                color=color or "#0072B2",
                edgecolor="none",
            )
            bottom = bottom + values
    _period_axis(ax, pd.DatetimeIndex(frame.index), freq)
    if width > 0.8:  # wide bars at either end stay whole
        ax.set_xlim(-width / 2 - 0.1, len(x) - 1 + width / 2 + 0.1)
    if what in ("downloads", "records"):  # whole numbers: no 0, 0, 1, 1 ticks for a total of 1
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _thousands(ax.yaxis)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    if by is not None:
        _legend(ax, None)
    return ax


def plot_records_over_time(
    df: pd.DataFrame,
    freq: str | Freq | None = "W",
    *,
    ax: Axes | None = None,
    by: str | None = None,
    cumulative: bool = False,
) -> Axes:
    """Return the Axes with ``records_over_time(df, freq, by=by, cumulative=cumulative)``.

    Per-period records are bars (stacked per category of ``by``, statuses in their
    :data:`STATUS_COLORS`; x is the period's position, a period with nothing has no bar);
    ``cumulative=True`` draws running totals as lines. ``freq=None``
    picks the period from the span of ``created_at`` (:func:`dfkit.analysis.freq_for_span`).
    An empty frame gives a labelled chart saying there is no data.

    >>> import dfkit
    >>> from matplotlib.figure import Figure
    >>> df = dfkit.downloads_frame(dfkit.sample_downloads(), per="download")
    >>> ax = plot_records_over_time(df, "MS", cumulative=True, ax=Figure().subplots())
    >>> int(ax.lines[0].get_ydata()[-1]) == int(df["num_records"].sum())
    True
    """
    period = _resolve_freq(df, freq)
    data = records_over_time(df, period, by=by, cumulative=cumulative)
    return _plot_over_time(data, ax, what="records", freq=period, by=by, cumulative=cumulative)


def plot_downloads_over_time(
    df: pd.DataFrame,
    freq: str | Freq | None = "W",
    *,
    ax: Axes | None = None,
    by: str | None = None,
    cumulative: bool = False,
) -> Axes:
    """Return the Axes with ``downloads_over_time(df, freq, ...)``, drawn like the records plot.

    ``by="status"`` stacks each period's bar by status, in the words of :func:`status_label`.

    >>> import dfkit
    >>> from matplotlib.figure import Figure
    >>> df = dfkit.downloads_frame(dfkit.sample_downloads(), per="download")
    >>> ax = plot_downloads_over_time(df, None, by="status", ax=Figure().subplots())
    >>> ax.get_legend_handles_labels()[1]
    ['Queued', 'In progress', 'Completed', 'Cancelled']
    >>> plot_downloads_over_time(dfkit.downloads_frame([]), ax=Figure().subplots()).texts[0]
    Text(0.5, 0.5, 'No downloads to show')
    """
    period = _resolve_freq(df, freq)
    data = downloads_over_time(df, period, by=by, cumulative=cumulative)
    return _plot_over_time(data, ax, what="downloads", freq=period, by=by, cumulative=cumulative)


def plot_credits_over_time(
    df: pd.DataFrame,
    freq: str | Freq | None = "W",
    *,
    ax: Axes | None = None,
    by: str | None = None,
    cumulative: bool = False,
) -> Axes:
    """Return the Axes with ``credits_over_time(df, freq, ...)`` (``total_cost`` summed) as bars.

    >>> import dfkit
    >>> from matplotlib.figure import Figure
    >>> df = dfkit.downloads_frame(dfkit.sample_downloads(), per="download")
    >>> ax = plot_credits_over_time(df, "YS", ax=Figure().subplots())
    >>> round(sum(bar.get_height() for bar in ax.patches)) == round(df["total_cost"].sum())
    True
    """
    period = _resolve_freq(df, freq)
    data = credits_over_time(df, period, by=by, cumulative=cumulative)
    return _plot_over_time(data, ax, what="credits", freq=period, by=by, cumulative=cumulative)


def plot_breakdown(
    df: pd.DataFrame,
    by: str = "data_type",
    *,
    what: Literal["downloads", "records", "credits"] = "records",
    ax: Axes | None = None,
) -> Axes:
    """Return the Axes with a horizontal bar of ``what`` per category of ``by`` (``breakdown``).

    Categories without downloads are left out; each bar has its value printed beside it.

    >>> import dfkit
    >>> from matplotlib.figure import Figure
    >>> df = dfkit.downloads_frame(dfkit.sample_downloads(), per="download")
    >>> ax = plot_breakdown(df, what="credits", ax=Figure().subplots())
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['Business', 'Product', 'Property', 'People']
    """
    table = breakdown(df, by)
    table = table[table["downloads"] > 0]
    ax = _axes(ax)
    ax.set_title(f"{what.capitalize()} by {by.replace('_', ' ')}", loc="left")
    ax.set_xlabel(what.capitalize())
    if table.empty or what not in table.columns:
        _no_data(ax)
        return ax
    values = table[what].to_numpy(dtype=np.float64)
    positions = list(range(len(table)))
    bars = ax.barh(positions, values, color="#56B4E9", edgecolor="none", height=0.7)
    ax.set_yticks(positions, [_plain(status_label(str(c))) for c in table.index])
    ax.invert_yaxis()
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], padding=3, fontsize="small")
    ax.margins(x=0.25)  # room for the value after the longest bar
    ax.set_xlim(left=0)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
    _thousands(ax.xaxis)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


_DURATION_UNITS = (
    ("years", 365.2425 * 86400),
    ("days", 86400.0),
    ("hours", 3600.0),
    ("minutes", 60.0),
    ("seconds", 1.0),
)


def plot_completion_times(df: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Return the Axes with a histogram of :func:`dfkit.analysis.completion_times`.

    A dashed line marks the median and a shaded band the middle half (25th to 75th
    percentile); the unit (seconds to days) follows the median.

    >>> import dfkit
    >>> from matplotlib.figure import Figure
    >>> df = dfkit.downloads_frame(dfkit.sample_downloads(), per="download")
    >>> ax = plot_completion_times(df, ax=Figure().subplots())
    >>> [t.get_text().split()[0] for t in ax.get_legend().get_texts()]
    ['Median', 'Middle']
    """
    took = completion_times(df)
    ax = _axes(ax)
    ax.set_title("Time to complete", loc="left")
    ax.set_ylabel("Downloads")
    if took.empty:
        ax.set_xlabel("Time from start to completion")
        _no_data(ax)
        return ax
    seconds = took.dt.total_seconds().to_numpy(dtype=np.float64)
    median = float(np.median(seconds))
    typical = float(np.percentile(seconds, 90))  # the unit that reads well over most bars
    unit, size = next(((u, s) for u, s in _DURATION_UNITS if typical >= 3 * s), ("seconds", 1.0))
    values = seconds / size
    low, high = np.percentile(values, [25, 75])
    top = float(np.percentile(values, 99)) or float(values.max()) or 1.0
    ax.hist(np.clip(values, 0, top), bins=30, range=(0, top), color="#009E73", alpha=0.85)
    ax.axvspan(low, high, color="#009E73", alpha=0.12, label="Middle half")
    ax.axvline(
        median / size,
        color="#1f2328",
        linestyle="--",
        linewidth=1.4,
        label=f"Median {format_duration(median)}",
    )
    ax.set_xlabel(f"Time from start to completion ({unit})")
    ax.set_xlim(left=0)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], frameon=False, fontsize="small")
    return ax
