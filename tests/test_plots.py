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


def title(ax: plt.Axes) -> str:
    return ax.get_title(loc="left") or ax.get_title()


def heights(bars: object, n: int) -> np.ndarray:
    """Return bar heights by x position 0..n-1 (a period without a bar counts 0)."""
    out = np.zeros(n)
    for bar in bars:  # type: ignore[attr-defined]
        out[round(bar.get_x() + bar.get_width() / 2)] += bar.get_height()
    return out


def bar_heights(ax: plt.Axes, label: str, n: int) -> np.ndarray:
    """Return the heights of the bars of one legend entry, by x position."""
    (container,) = [c for c in ax.containers if c.get_label() == label]
    return heights(container, n)


def test_status_bars_equal_counts_in_status_colours(df: pd.DataFrame) -> None:
    ax = plot_status_counts(df)
    counts = status_counts(df)
    bars = ax.patches
    assert [bar.get_width() for bar in bars] == counts.tolist()
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Queued",
        "In progress",
        "Completed",
        "Cancelled",
    ]
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


def test_records_bars_equal_records_over_time(df: pd.DataFrame) -> None:
    ax = plot_records_over_time(df, "W")
    expected = records_over_time(df, "W")
    np.testing.assert_array_equal(heights(ax.patches, len(expected)), expected.to_numpy())
    assert ax.get_xlim() == (-0.6, len(expected) - 0.4)
    assert "week" in title(ax).lower()
    assert ax.get_xlabel() and ax.get_ylabel() == "Records"
    assert ax.get_ylim()[0] == 0
    png(ax)


def test_axis_labels_carry_the_year_wherever_it_changes(df: pd.DataFrame) -> None:
    ax = plot_downloads_over_time(df, "MS")
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "May\n2025"  # the first year is labelled too
    assert "Jan\n2026" in labels
    assert all("\n" not in label for label in labels if label.split("\n")[0] not in {"May", "Jan"})
    assert len(labels) <= 9


def test_cumulative_by_status_lines_use_the_status_colours_and_words(df: pd.DataFrame) -> None:
    ax = plot_records_over_time(df, "MS", by="status", cumulative=True)
    expected = records_over_time(df, "MS", by="status", cumulative=True)
    words = ["Queued", "In progress", "Completed", "Cancelled"]
    assert [line.get_label() for line in ax.lines] == words
    for line, status in zip(ax.lines, STATUSES, strict=True):
        np.testing.assert_array_equal(line.get_ydata(), expected[status].to_numpy())
        assert mcolors.to_hex(line.get_color()).lower() == STATUS_COLORS[status].lower()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == words
    assert "cumulative" in title(ax).lower()


def test_downloads_bars_stack_by_status(df: pd.DataFrame) -> None:
    ax = plot_downloads_over_time(df, "QS", by="status")
    expected = downloads_over_time(df, "QS", by="status")
    for status in STATUSES:
        np.testing.assert_array_equal(
            bar_heights(ax, dfkit.plots.status_label(status), len(expected)),
            expected[status].to_numpy(),
        )
    tops = np.zeros(len(expected))
    for bar in ax.patches:
        x = round(bar.get_x() + bar.get_width() / 2)
        tops[x] = max(tops[x], bar.get_y() + bar.get_height())
    np.testing.assert_array_equal(tops, expected.sum(axis=1).to_numpy())
    assert "quarter" in title(ax).lower()


def test_downloads_by_data_type(df: pd.DataFrame) -> None:
    ax = plot_downloads_over_time(df, None, by="data_type")
    expected = downloads_over_time(df, "MS", by="data_type")  # 18 months: months
    for column in expected.columns:
        np.testing.assert_array_equal(
            bar_heights(ax, column, len(expected)), expected[column].to_numpy()
        )


def test_credits_breakdown_and_completion_plots(df: pd.DataFrame) -> None:
    from dfkit.analysis import breakdown, completion_times, credits_over_time
    from dfkit.plots import plot_breakdown, plot_completion_times, plot_credits_over_time

    figure = Figure()
    a, b, c = figure.subplots(1, 3)
    assert plot_credits_over_time(df, "MS", ax=a) is a
    credits = credits_over_time(df, "MS")
    np.testing.assert_allclose(heights(a.patches, len(credits)), credits.to_numpy())
    assert plot_breakdown(df, what="records", ax=b) is b
    table = breakdown(df)
    assert [bar.get_width() for bar in b.patches] == table["records"].tolist()
    assert plot_completion_times(df, ax=c) is c
    assert sum(bar.get_height() for bar in c.containers[0]) == len(completion_times(df))
    png(a)


def test_text_from_the_data_is_never_math_and_years_1_to_9999_plot() -> None:
    with pytest.warns(dfkit.DfkitWarning):
        df = dfkit.downloads_frame(
            [
                {"id": 1, "status": r"$\foo{x$", "num_records": 1, "created_at": "0001-01-01",
                 "updated_at": "0001-01-03T00:00:00Z"},
                {"id": 2, "status": "completed", "num_records": 2,
                 "created_at": "9999-12-31T23:00:00Z", "updated_at": "9999-12-31T23:30:00Z"},
            ],
            per="download",
        )  # fmt: skip
    figure = Figure()
    axes = figure.subplots(1, 4)
    plot_status_counts(df, ax=axes[0])
    plot_downloads_over_time(df, None, by="status", ax=axes[1])
    plot_records_over_time(df, "YS", cumulative=True, ax=axes[2])
    dfkit.plots.plot_completion_times(df, ax=axes[3])
    labels = [t.get_text() for t in axes[1].get_xticklabels()]
    assert labels[0] == "1" and len(labels) <= 9
    assert png(axes[0]).startswith(b"\x89PNG")  # drawing the math-like label does not raise


@pytest.mark.parametrize(
    "plot",
    [plot_status_counts, plot_records_over_time, plot_downloads_over_time],
)
@pytest.mark.parametrize("per", ["result", "download"])
def test_empty_frame_gives_labelled_empty_chart(plot: object, per: str) -> None:
    ax = plot(empty_frame(per))  # type: ignore[operator]
    assert [t.get_text() for t in ax.texts] == ["No downloads to show"]
    assert title(ax) and ax.get_xlabel() and ax.get_ylabel()
    assert not ax.patches and not ax.lines
    png(ax)


def test_single_row_plots() -> None:
    one = dfkit.downloads_frame(dfkit.sample_downloads()[:1])
    ax = plot_records_over_time(one, "D")
    assert len(ax.patches) == 1
    left, right = ax.get_xlim()
    assert right - left < 2  # one slot: the lone bar is not lost on an axis of years
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


def test_completion_times_from_year_1_to_9999() -> None:
    from dfkit.plots import format_duration, plot_completion_times

    df = dfkit.downloads_frame(
        [{"id": "a", "status": "completed", "num_records": 1,
          "created_at": "0001-01-01T00:00:00Z", "date_updated": "9999-12-31T23:59:59Z"}]
    )  # fmt: skip
    ax = plot_completion_times(df, ax=Figure().subplots())  # past a nanosecond Timedelta
    assert "Median 9,999 years" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax.get_xlabel() == "Time from start to completion (years)"
    ax = dfkit.plot_records_over_time(df, cumulative=True, ax=Figure().subplots())
    ticks = [t for t in ax.get_yticks() if 0 <= t <= 1]
    assert ticks == [0, 1]  # a total of 1 record: whole-number ticks, not 0, 0.2, ... shown 0, 0
    assert format_duration(pd.Timedelta(days=400)) == format_duration(400 * 86400.0) == "1.1 years"
