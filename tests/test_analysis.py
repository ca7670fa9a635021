"""status_counts, records_over_time, downloads_over_time, summary: both kinds of frame."""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dfkit
from dfkit import (
    DfkitWarning,
    SchemaError,
    downloads_frame,
    downloads_over_time,
    records_over_time,
    status_counts,
    summary,
)
from dfkit.schema import STATUSES, empty_frame

# Three downloads, written to be read: one with two result files, one still running, one
# queued without results, spread over three weeks of March 2025.
DOWNLOADS: list[dict[str, Any]] = [
    {
        "id": "a",
        "status": "completed",
        "num_records": 100,
        "created_at": "2025-03-04T10:00:00Z",  # Tuesday of the week of Monday 3 March
        "updated_at": "2025-03-04T10:10:00Z",
        "data_type": "product",
        "results": ["https://x/a1.csv", "https://x/a2.csv"],
    },
    {
        "id": "b",
        "status": "running",
        "num_records": 40,
        "created_at": "2025-03-16T23:59:59Z",  # Sunday: still the week of Monday 10 March
        "updated_at": "2025-03-17T00:30:00Z",
        "data_type": "people",
        "results": ["https://x/b1.csv"],
    },
    {
        "id": "c",
        "status": "queued",
        "num_records": None,
        "created_at": "2025-03-17T00:00:00Z",  # Monday 17 March
        "updated_at": "2025-03-17T00:00:00Z",
        "data_type": "product",
    },
]


def utc(*stamps: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(stamps, name="created_at").tz_localize("UTC").as_unit("us")


@pytest.fixture(params=["result", "download"])
def frame(request: pytest.FixtureRequest) -> pd.DataFrame:
    return downloads_frame(DOWNLOADS, per=request.param)


@pytest.fixture(scope="module")
def sample() -> dict[str, pd.DataFrame]:
    data = dfkit.sample_downloads()
    return {per: downloads_frame(data, per=per) for per in ("result", "download")}


# ---------------------------------------------------------------------------- status_counts


def test_status_counts_every_category_in_order(frame: pd.DataFrame) -> None:
    counts = status_counts(frame)
    assert isinstance(counts.index, pd.CategoricalIndex)
    assert list(counts.index) == list(STATUSES)
    assert list(counts.index.categories) == list(STATUSES)
    assert counts.name == "downloads"
    assert counts.tolist() == [1, 1, 1, 0]


def test_status_counts_normalize(frame: pd.DataFrame) -> None:
    shares = status_counts(frame, normalize=True)
    assert shares.sum() == pytest.approx(1.0)
    assert shares["completed"] == pytest.approx(1 / 3)


def test_status_counts_unknown_status_appended() -> None:
    with pytest.warns(DfkitWarning):
        df = downloads_frame([*DOWNLOADS, {**DOWNLOADS[2], "id": "d", "status": "failed"}])
    counts = status_counts(df)
    assert list(counts.index) == [*STATUSES, "failed"]
    assert counts["failed"] == 1


def test_status_counts_empty_and_single_row() -> None:
    for per in ("result", "download"):
        empty = status_counts(empty_frame(per))
        assert list(empty.index) == list(STATUSES)
        assert empty.tolist() == [0, 0, 0, 0]
        shares = status_counts(empty_frame(per), normalize=True)
        assert shares.tolist() == [0.0, 0.0, 0.0, 0.0]
        assert shares.dtype == np.float64
    one = status_counts(downloads_frame(DOWNLOADS[:1]))
    assert one.tolist() == [0, 0, 1, 0]


def test_status_counts_plain_string_status_column(frame: pd.DataFrame) -> None:
    # A frame rebuilt by hand (status as strings) still counts against the schema's order.
    plain = frame.assign(status=frame["status"].astype("string"))
    pd.testing.assert_series_equal(status_counts(plain), status_counts(frame))


def test_status_counts_per_download_and_per_result_agree(sample: dict[str, pd.DataFrame]) -> None:
    pd.testing.assert_series_equal(
        status_counts(sample["result"]), status_counts(sample["download"])
    )


def test_status_counts_needs_the_columns() -> None:
    with pytest.raises(SchemaError, match=r"missing column.*'status'"):
        status_counts(pd.DataFrame({"id": ["a"]}))


RECORD = st.fixed_dictionaries(
    {
        "id": st.integers(0, 30),  # few ids: duplicates across records are common
        "status": st.sampled_from(["queued", "running", "completed", "cancelled", "failed"]),
        "num_records": st.one_of(st.none(), st.integers(0, 10**12)),
        "created_at": st.one_of(
            st.none(),
            st.datetimes(
                min_value=pd.Timestamp("1999-01-01").to_pydatetime(),
                max_value=pd.Timestamp("2031-12-31").to_pydatetime(),
            ).map(lambda d: d.isoformat() + "Z"),
        ),
        "results": st.lists(st.just("https://x/f.csv"), max_size=3),
    }
)


@settings(max_examples=40, deadline=None)
@given(st.lists(RECORD, max_size=25), st.sampled_from(["result", "download"]))
def test_status_counts_sum_to_distinct_ids(records: list[dict[str, Any]], per: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DfkitWarning)
        df = downloads_frame(records, per=per)  # type: ignore[arg-type]
        counts = status_counts(df)
        assert counts.sum() == df["id"].nunique()
        over = downloads_over_time(df, "MS")
        records_total = records_over_time(df, "YS", cumulative=True)
    dated = df.drop_duplicates("id")
    dated = dated[dated["created_at"].notna()]
    assert over.sum() == len(dated)
    expected = int(dated["num_records"].fillna(0).sum())
    assert (records_total.iloc[-1] if len(records_total) else 0) == expected


# ---------------------------------------------------------------------------- over time


def test_records_over_time_weeks_start_monday(frame: pd.DataFrame) -> None:
    result = records_over_time(frame)
    expected = pd.Series(
        [100, 40, 0],  # the queued download has no num_records: counted as 0
        index=utc("2025-03-03", "2025-03-10", "2025-03-17"),
        name="records",
    )
    pd.testing.assert_series_equal(result, expected, check_freq=False)
    assert isinstance(result.index, pd.DatetimeIndex)
    assert str(result.index.tz) == "UTC"
    assert result.index.freqstr == "W-MON"
    assert result.dtype == np.int64


@pytest.mark.parametrize(
    ("freq", "labels"),
    [
        ("D", ["2025-01-31", "2025-02-01"]),
        ("W", ["2025-01-27"]),  # Fri 31 Jan and Sat 1 Feb: both the week of Monday 27 Jan
        ("MS", ["2025-01-01", "2025-02-01"]),
        ("M", ["2025-01-01", "2025-02-01"]),
        ("QS", ["2025-01-01"]),
        ("Q", ["2025-01-01"]),
        ("YS", ["2025-01-01"]),
        ("Y", ["2025-01-01"]),
        ("month", ["2025-01-01", "2025-02-01"]),
    ],
)
def test_freq_labels_are_period_starts(freq: str, labels: list[str]) -> None:
    df = downloads_frame(
        [
            {"id": 1, "status": "completed", "num_records": 1, "created_at": "2025-01-31T23:00Z"},
            {"id": 2, "status": "completed", "num_records": 2, "created_at": "2025-02-01T01:00Z"},
        ]
    )
    result = records_over_time(df, freq)
    assert result.index.equals(utc(*labels))
    assert result.index.dtype == utc(*labels).dtype
    assert result.sum() == 3


def test_periods_are_utc_whatever_the_input_offset() -> None:
    # 21:30 on Sunday in New York is 01:30 on Monday in UTC: next week's bucket.
    df = downloads_frame(
        [{"id": 1, "status": "queued", "num_records": 5, "created_at": "2025-03-09T21:30-04:00"}]
    )
    assert records_over_time(df).index[0] == pd.Timestamp("2025-03-10", tz="UTC")


def test_no_gaps_between_first_and_last_period() -> None:
    df = downloads_frame(
        [
            {"id": 1, "status": "queued", "num_records": 5, "created_at": "2024-11-15"},
            {"id": 2, "status": "queued", "num_records": 7, "created_at": "2025-04-02"},
        ]
    )
    result = records_over_time(df, "MS")
    assert len(result) == 6
    assert result.tolist() == [5, 0, 0, 0, 0, 7]
    assert (result.index[1:] - result.index[:-1]).days.min() >= 28
    quarters = records_over_time(df, "QS")
    assert list(quarters.index.month) == [10, 1, 4]


@pytest.mark.parametrize(("freq", "rule"), [("W", "W-MON"), ("MS", "MS"), ("D", "D")])
def test_matches_pandas_resample(sample: dict[str, pd.DataFrame], freq: str, rule: str) -> None:
    df = sample["download"]
    oracle = (
        df.set_index("created_at")["num_records"]
        .fillna(0)
        .resample(rule, label="left", closed="left")
        .sum()
        .astype("int64")
    )
    result = records_over_time(sample["result"], freq)
    np.testing.assert_array_equal(result.to_numpy(), oracle.to_numpy())
    np.testing.assert_array_equal(
        result.index.tz_localize(None).to_numpy(dtype="datetime64[us]"),
        oracle.index.tz_localize(None).to_numpy(dtype="datetime64[us]"),
    )


def test_by_status_every_category_present(frame: pd.DataFrame) -> None:
    result = records_over_time(frame, "MS", by="status")
    assert isinstance(result, pd.DataFrame)
    assert list(result.columns) == list(STATUSES)
    assert result.columns.name == "status"
    assert result.loc["2025-03-01"].tolist() == [0, 40, 100, 0]
    assert (result.dtypes == np.int64).all()


def test_by_data_type_and_cumulative(frame: pd.DataFrame) -> None:
    result = downloads_over_time(frame, "W", by="data_type", cumulative=True)
    assert list(result.columns) == ["business", "product", "property", "people"]
    assert result["product"].tolist() == [1, 1, 2]
    assert result["people"].tolist() == [0, 1, 1]
    assert result["business"].tolist() == [0, 0, 0]
    plain = downloads_over_time(frame, "W", by="data_type")
    pd.testing.assert_frame_equal(plain.cumsum(), result)


def test_by_sums_to_total(sample: dict[str, pd.DataFrame]) -> None:
    df = sample["result"]
    by = records_over_time(df, "MS", by="format")
    pd.testing.assert_series_equal(
        by.sum(axis=1), records_over_time(df, "MS"), check_names=False, check_freq=False
    )


def test_downloads_over_time_counts_each_download_once(frame: pd.DataFrame) -> None:
    result = downloads_over_time(frame)
    assert result.name == "downloads"
    assert result.tolist() == [1, 1, 1]  # "a" has two result rows but is one download


def test_missing_created_at_left_out_with_warning() -> None:
    records = [*DOWNLOADS, {**DOWNLOADS[0], "id": "d", "created_at": None}]
    records.append({**DOWNLOADS[0], "id": "e", "created_at": None})
    df = downloads_frame(records)
    with pytest.warns(DfkitWarning, match=r"2 downloads without created_at left out"):
        result = records_over_time(df)
    assert result.sum() == 140
    with pytest.warns(DfkitWarning, match="downloads_over_time"):
        downloads_over_time(df)


def test_missing_category_left_out_with_warning() -> None:
    df = downloads_frame([*DOWNLOADS, {**DOWNLOADS[0], "id": "d", "data_type": None}])
    with pytest.warns(DfkitWarning, match=r"1 download without data_type"):
        result = records_over_time(df, by="data_type")
    assert int(result.to_numpy().sum()) == 140


def test_no_warning_when_nothing_is_missing(frame: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        records_over_time(frame, by="status")


@pytest.mark.parametrize("per", ["result", "download"])
def test_over_time_empty_frame(per: str) -> None:
    empty = empty_frame(per)  # type: ignore[arg-type]
    result = records_over_time(empty)
    assert len(result) == 0
    assert result.dtype == np.int64
    assert str(result.index.dtype) == "datetime64[us, UTC]"
    by = downloads_over_time(empty, "MS", by="status", cumulative=True)
    assert list(by.columns) == list(STATUSES)
    assert len(by) == 0


def test_over_time_all_missing_created_at_is_empty() -> None:
    df = downloads_frame([{**DOWNLOADS[0], "created_at": None}])
    with pytest.warns(DfkitWarning):
        assert len(records_over_time(df)) == 0


def test_over_time_single_row() -> None:
    result = records_over_time(downloads_frame(DOWNLOADS[:1]), "D")
    assert result.tolist() == [100]
    assert result.index[0] == pd.Timestamp("2025-03-04", tz="UTC")


def test_over_time_bad_arguments(frame: pd.DataFrame) -> None:
    with pytest.raises(dfkit.ArgumentError, match=r"^freq: expected D, W, .*got 'h'$"):
        records_over_time(frame, "h")
    with pytest.raises(SchemaError, match="nope"):
        records_over_time(frame, by="nope")
    with pytest.raises(TypeError, match="categorical or string"):
        records_over_time(frame, by="num_records")


def test_by_string_column_uses_sorted_values(frame: pd.DataFrame) -> None:
    result = downloads_over_time(frame, "MS", by="id")
    assert list(result.columns) == ["a", "b", "c"]


# ---------------------------------------------------------------------------- summary


def test_summary(frame: pd.DataFrame) -> None:
    s = summary(frame)
    assert s.name == "summary"
    assert s["downloads"] == 3
    assert s["result_files"] == 3
    assert s["records"] == 140
    assert s["records_completed"] == 100
    assert s["share_completed"] == pytest.approx(1 / 3)
    assert s["first_created"] == pd.Timestamp("2025-03-04T10:00", tz="UTC")
    assert s["last_created"] == pd.Timestamp("2025-03-17", tz="UTC")
    assert s["median_completion_time"] == pd.Timedelta(minutes=10)


def test_summary_median_leaves_out_updates_before_the_start() -> None:
    df = downloads_frame(
        [
            {"id": "a", "status": "completed", "num_records": 1, "created_at": "2025-01-02",
             "updated_at": "2025-01-01T06:00:00Z"},
            {"id": "b", "status": "completed", "num_records": 1, "created_at": "2025-01-02",
             "updated_at": "2025-01-02T06:00:00Z"},
        ]
    )  # fmt: skip
    assert summary(df)["median_completion_time"] == pd.Timedelta(hours=6)
    assert pd.isna(summary(df.iloc[:1])["median_completion_time"])  # none left: no median


def test_summary_and_completion_times_span_years_1_to_9999() -> None:
    df = downloads_frame(
        [{"id": "a", "status": "completed", "num_records": 1,
          "created_at": "0001-01-01T00:00:00Z", "date_updated": "9999-12-31T23:59:59Z"}]
    )  # fmt: skip
    seconds = (datetime(9999, 12, 31, 23, 59, 59) - datetime(1, 1, 1)).total_seconds()
    assert dfkit.completion_times(df).dt.total_seconds().tolist() == [seconds]
    assert pd.Timedelta(summary(df)["median_completion_time"]).total_seconds() == seconds


def test_summary_per_download_and_per_result_agree(sample: dict[str, pd.DataFrame]) -> None:
    pd.testing.assert_series_equal(summary(sample["result"]), summary(sample["download"]))
    s = summary(sample["download"])
    assert s["result_files"] == sample["download"]["num_results"].sum()
    assert s["downloads"] == len(sample["download"])


def test_summary_without_updated_at() -> None:
    df = downloads_frame([{k: v for k, v in d.items() if k != "updated_at"} for d in DOWNLOADS])
    assert "median_completion_time" not in summary(df).index


@pytest.mark.parametrize("per", ["result", "download"])
def test_summary_empty(per: str) -> None:
    s = summary(empty_frame(per))  # type: ignore[arg-type]
    assert s["downloads"] == 0
    assert s["result_files"] == 0
    assert s["records"] == 0
    assert s["share_completed"] == 0.0
    assert pd.isna(s["first_created"])
    assert pd.isna(s["last_created"])


def test_summary_single_row_not_completed() -> None:
    s = summary(downloads_frame(DOWNLOADS[2:]))
    assert s["downloads"] == 1
    assert s["result_files"] == 0
    assert pd.isna(s["median_completion_time"])


# ---------------------------------------------------------------------------- freq, credits, ...


@pytest.mark.parametrize("bad", ["h", "fortnight", "", 7, None])
def test_every_bad_freq_gets_the_one_message(bad: object) -> None:
    from dfkit.analysis import parse_freq

    for call in (
        lambda: parse_freq(bad),  # type: ignore[arg-type]
        lambda: records_over_time(dfkit.downloads_frame([]), bad),  # type: ignore[arg-type]
        lambda: dfkit.downloads_frame([]).dfkit.downloads_over_time(bad),
    ):
        with pytest.raises(dfkit.ArgumentError) as caught:
            call()
        assert isinstance(caught.value, ValueError)
        assert str(caught.value).startswith("freq: expected D, W, MS (or M)")
        assert repr(bad) in str(caught.value)


def test_freq_is_one_public_type() -> None:
    from dfkit.analysis import FREQS, Freq, parse_freq

    assert all(isinstance(f, Freq) for f in FREQS.values())
    assert parse_freq("W") is parse_freq("weekly") is FREQS["W-MON"]
    assert parse_freq(parse_freq("QS")).noun == "quarter"
    assert parse_freq("MS").label(pd.Timestamp("0001-02-01")) == "0001-02"


@pytest.mark.parametrize(
    ("days", "noun"), [(0, "day"), (40, "day"), (120, "week"), (500, "month"), (4000, "year")]
)
def test_freq_for_span(days: int, noun: str) -> None:
    from dfkit.analysis import freq_for_span

    start = pd.Timestamp("2025-01-01", tz="UTC")
    assert freq_for_span(start, start + pd.Timedelta(days=days)).noun == noun
    assert freq_for_span(None, None).noun == "day"


def test_a_non_frame_is_an_argument_error() -> None:
    for call in (status_counts, summary, records_over_time):
        with pytest.raises(dfkit.ArgumentError, match=r"^df: .*got list") as caught:
            call([1, 2])  # type: ignore[operator]
        assert isinstance(caught.value, TypeError)


def test_credits_completion_times_and_breakdown() -> None:
    from dfkit.analysis import breakdown, completion_times, credits_over_time

    df = dfkit.downloads_frame(
        [
            {"id": 1, "status": "completed", "num_records": 10, "created_at": "2025-03-03",
             "updated_at": "2025-03-03T00:10:00Z", "total_cost": 1.5, "data_type": "product"},
            {"id": 2, "status": "completed", "num_records": 4, "created_at": "2025-03-20",
             "updated_at": "2025-03-19T00:00:00Z", "data_type": "people"},
            {"id": 3, "status": "queued", "num_records": 5, "created_at": "2025-04-02",
             "total_cost": 2.0},
        ]
    )  # fmt: skip
    assert credits_over_time(df, "MS").tolist() == [1.5, 2.0]
    took = completion_times(df)  # id 2 finished before it started: left out
    assert took.to_dict() == {"1": pd.Timedelta(minutes=10)}
    table = breakdown(df)
    assert table.loc["product"].tolist() == [1, 10, 1.5]
    assert table.loc["people", "credits"] == 0 and table.loc["business", "downloads"] == 0
    assert table["downloads"].sum() == 2  # id 3 has no data_type
