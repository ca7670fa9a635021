"""Plots: the artists carry the analytics' numbers, one colour per status, no global state."""

from __future__ import annotations

import io
from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.dates import ConciseDateFormatter
from matplotlib.figure import Figure

import dfkit
from dfkit import (
    STATUS_COLORS,
    downloads_over_time,
    plot_downloads_over_time,
    plot_records_over_time,
    plot_status_counts,
    records_over_time,
    status_counts,
)
from dfkit.plots import OTHER_STATUS_COLOR
from dfkit.schema import STATUSES, empty_frame


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module", params=["result", "download"])
def df(request: pytest.FixtureRequest) -> pd.DataFrame:
    return dfkit.downloads_frame(dfkit.sample_downloads(), per=request.param)


def png(ax: plt.Axes) -> bytes:
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png")
    return buffer.getvalue()


def x_values(line: matplotlib.lines.Line2D) -> np.ndarray:
    return np.asarray(line.get_xdata(), dtype="datetime64[us]")


def naive(index: pd.Index) -> np.ndarray:
    return pd.DatetimeIndex(index).tz_localize(None).to_numpy(dtype="datetime64[us]")


def test_status_bars_equal_counts_in_status_colours(df: pd.DataFrame) -> None:
    ax = plot_status_counts(df)
    counts = status_counts(df)
    bars = ax.patches
    assert [bar.get_width() for bar in bars] == counts.tolist()
    assert [t.get_text() for t in ax.get_yticklabels()] == list(STATUSES)
    for bar, status in zip(bars, STATUSES, strict=True):
        assert mcolors.to_hex(bar.get_facecolor()).lower() == STATUS_COLORS[status].lower()
    printed = [t.get_text() for t in ax.texts]
    assert printed == [f"{v:,}" for v in counts]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert ax.yaxis_inverted()  # queued at the top, lifecycle order downwards
    assert png(ax).startswith(b"\x89PNG")


def test_thousands_separators() -> None:
    records = [
        {"id": i, "status": "completed", "num_records": 1500, "created_at": "2025-01-01"}
        for i in range(1234)
    ]
    df = dfkit.downloads_frame(records, per="download")
    ax = plot_status_counts(df)
    assert "1,234" in [t.get_text() for t in ax.texts]
    assert ax.xaxis.get_major_formatter()(12345.0, 0) == "12,345"
    line_ax = plot_records_over_time(df)
    assert line_ax.yaxis.get_major_formatter()(1851000.0, 0) == "1,851,000"


def test_unknown_status_is_grey() -> None:
    with pytest.warns(dfkit.DfkitWarning):
        df = dfkit.downloads_frame(
            [{"id": 1, "status": "failed", "num_records": 1, "created_at": "2025-01-01"}]
        )
    ax = plot_status_counts(df)
    assert mcolors.to_hex(ax.patches[-1].get_facecolor()) == OTHER_STATUS_COLOR.lower()


def test_records_line_equals_records_over_time(df: pd.DataFrame) -> None:
    ax = plot_records_over_time(df, "W")
    expected = records_over_time(df, "W")
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_ydata(), expected.to_numpy())
    np.testing.assert_array_equal(x_values(line), naive(expected.index))
    assert isinstance(ax.xaxis.get_major_formatter(), ConciseDateFormatter)
    assert "week" in ax.get_title().lower()
    assert ax.get_xlabel() and ax.get_ylabel() == "Records"
    assert ax.get_ylim()[0] == 0
    png(ax)


def test_by_status_lines_use_the_status_colours(df: pd.DataFrame) -> None:
    ax = plot_records_over_time(df, "MS", by="status", cumulative=True)
    expected = records_over_time(df, "MS", by="status", cumulative=True)
    assert [line.get_label() for line in ax.lines] == list(STATUSES)
    for line, status in zip(ax.lines, STATUSES, strict=True):
        np.testing.assert_array_equal(line.get_ydata(), expected[status].to_numpy())
        assert mcolors.to_hex(line.get_color()).lower() == STATUS_COLORS[status].lower()
    legend = ax.get_legend()
    assert legend is not None
    assert legend.get_title().get_text() == "status"
    assert "cumulative" in ax.get_title().lower()


def test_downloads_over_time_plot(df: pd.DataFrame) -> None:
    ax = plot_downloads_over_time(df, "QS", by="data_type")
    expected = downloads_over_time(df, "QS", by="data_type")
    assert [line.get_label() for line in ax.lines] == list(expected.columns)
    for line in ax.lines:
        np.testing.assert_array_equal(line.get_ydata(), expected[line.get_label()].to_numpy())
    assert "quarter" in ax.get_title().lower()


@pytest.mark.parametrize(
    "plot",
    [plot_status_counts, plot_records_over_time, plot_downloads_over_time],
)
@pytest.mark.parametrize("per", ["result", "download"])
def test_empty_frame_gives_labelled_empty_chart(plot: object, per: str) -> None:
    ax = plot(empty_frame(per))  # type: ignore[operator]
    assert [t.get_text() for t in ax.texts] == ["No downloads to show"]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert not ax.patches and not ax.lines
    png(ax)


def test_single_row_plots() -> None:
    one = dfkit.downloads_frame(dfkit.sample_downloads()[:1])
    ax = plot_records_over_time(one, "D")
    assert len(ax.lines[0].get_ydata()) == 1
    left, right = ax.get_xlim()
    assert right - left < 10  # days: the lone point is not lost on an axis of years
    png(plot_status_counts(one))


def test_draws_on_the_given_axes_and_leaves_global_state(df: pd.DataFrame) -> None:
    before = dict(plt.rcParams)
    figures_before = plt.get_fignums()
    figure = Figure()
    left, right = figure.subplots(1, 2)
    assert plot_status_counts(df, ax=left) is left
    assert plot_records_over_time(df, ax=right) is right
    assert plt.get_fignums() == figures_before  # no pyplot figure was made
    assert dict(plt.rcParams) == before
    png(left)


def test_makes_a_figure_without_ax_and_never_shows(
    df: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_show(*args: object, **kwargs: object) -> None:
        raise AssertionError("plt.show() called")

    monkeypatch.setattr(plt, "show", no_show)
    ax = plot_records_over_time(df)
    assert ax.figure is not None
    assert plt.get_fignums()
