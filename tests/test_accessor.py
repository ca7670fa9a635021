"""The df.dfkit accessor: registered on import, validates the frame, mirrors the functions."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.figure import Figure

import dfkit
from dfkit import DfkitAccessor


@pytest.fixture(scope="module", params=["result", "download"])
def df(request: pytest.FixtureRequest) -> pd.DataFrame:
    return dfkit.downloads_frame(dfkit.sample_downloads(), per=request.param)


def test_registered_on_import(df: pd.DataFrame) -> None:
    assert isinstance(df.dfkit, DfkitAccessor)


def test_rejects_a_frame_that_is_not_a_downloads_frame() -> None:
    with pytest.raises(AttributeError, match=r"missing columns: status, num_records, created_at"):
        _ = pd.DataFrame({"id": ["a"]}).dfkit
    with pytest.raises(AttributeError, match=r"missing column: created_at$"):
        _ = pd.DataFrame({"id": [], "status": [], "num_records": []}).dfkit
    assert not hasattr(pd.DataFrame({"x": [1]}), "dfkit")


def test_analytics_mirror_the_functions(df: pd.DataFrame) -> None:
    pd.testing.assert_series_equal(df.dfkit.status_counts(), dfkit.status_counts(df))
    pd.testing.assert_series_equal(
        df.dfkit.status_counts(normalize=True), dfkit.status_counts(df, normalize=True)
    )
    pd.testing.assert_frame_equal(
        df.dfkit.records_over_time("MS", by="status", cumulative=True),
        dfkit.records_over_time(df, "MS", by="status", cumulative=True),
    )
    pd.testing.assert_series_equal(
        df.dfkit.downloads_over_time("D"), dfkit.downloads_over_time(df, "D")
    )
    pd.testing.assert_series_equal(df.dfkit.summary(), dfkit.summary(df))


def test_to_parquet(df: pd.DataFrame, tmp_path: Path) -> None:
    out = df.dfkit.to_parquet(tmp_path / "d", partition_by="status", compression="snappy")
    pd.testing.assert_frame_equal(dfkit.read_parquet(out), df)


def test_plots(df: pd.DataFrame) -> None:
    figure = Figure()
    a, b, c = figure.subplots(1, 3)
    assert df.dfkit.plot_status_counts(ax=a) is a
    assert df.dfkit.plot_records_over_time("MS", ax=b, by="status") is b
    assert df.dfkit.plot_downloads_over_time("W", ax=c, cumulative=True) is c
    assert b.get_legend_handles_labels()[1] == ["Queued", "In progress", "Completed", "Cancelled"]
    assert [bar.get_width() for bar in a.patches] == dfkit.status_counts(df).tolist()
    plt.close("all")


def test_works_on_an_empty_frame() -> None:
    empty = dfkit.downloads_frame([])
    assert empty.dfkit.status_counts().sum() == 0
    assert empty.dfkit.summary()["downloads"] == 0
    assert len(empty.dfkit.records_over_time()) == 0
